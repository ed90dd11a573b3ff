"""Read JetClass ROOT files (public ones or ``resim export --format jetclass``) for training.

:class:`JetClassDataset` presents JetClass files as a dataset of one view, ``nominal``, whose
label names are the files' ``label_*`` branches (``label_QCD``, ``label_Hbb``, ...): a task
``signal: [label_Hbb], background: [label_QCD]`` selects from them as from the project's
labels. Each branch is cast whatever its type (float, bool, int32); a jet with none set is
``unlabelled``. The project's 15 features come from the branches through
:func:`resim.formats.jetclass.from_branches` and the shared :func:`resim.features.
particle_features` (PID from the flags: the features need only the particle type).

:func:`stream_batches` streams padded batches straight from the files: files of one class each
are read a chunk at a time in turn, so every window, and every batch cut from it, mixes classes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import uproot

from resim.contracts import MAX_CONSTITUENTS
from resim.dataset.reader import Jets
from resim.errors import DatasetError
from resim.features import pad_rows, real_features, row_index
from resim.formats import jetclass as jc

from .foreign import CHUNK, ForeignJets
from .study import NOMINAL

UNLABELLED = "unlabelled"
#: How the files are opened: no uproot array cache (100 MB a file by default: memory stays
#: bounded by the window, the reader keeps what it needs), memory-mapped (uproot's default
#: source reads through fsspec's threads, a quarter slower here)
_OPEN = {"array_cache": None, "handler": uproot.MemmapSource}
_GENPART = ("aux_genpart_pid", "aux_genpart_pt", "aux_genpart_eta", "aux_genpart_phi")


class JetClassDataset(ForeignJets):
    """JetClass files as one table of nominal jets (see the module)."""

    format = "jetclass"

    def __init__(self, paths: list[str | Path], *, max_particles: int | None = None,
                 chunk: int = CHUNK):
        paths = [Path(p) for p in paths]
        if not paths:
            raise DatasetError("JetClassDataset needs at least one file")
        trees = [self._tree(p) for p in paths]
        names = [label for label in jc.LABELS if any(label in t.keys() for t in trees)]
        if not names:
            raise DatasetError(f"{paths[0]}: no label_* branch of JetClass "
                               f"({', '.join(jc.LABELS)})")
        labels, parton = [], []
        for path, tree in zip(paths, trees):
            present = [n for n in names if n in tree.keys()]
            arrays = tree.arrays(present + [b for b in _GENPART if b in tree.keys()])
            columns = np.zeros((tree.num_entries, len(names)), np.float32)
            columns[:, [names.index(n) for n in present]] = jc.label_columns(arrays, present)
            code = np.where(columns.sum(1) > 0, columns.argmax(1), len(names))
            labels.append(code)
            truth = np.zeros((tree.num_entries, 5), np.float32)
            for i, b in enumerate(_GENPART):
                if b in arrays.fields:
                    truth[:, i] = np.asarray(arrays[b], dtype=np.float32)
            parton.append(truth)
        label_names = names + [UNLABELLED] if any((c == len(names)).any() for c in labels) \
            else names
        super().__init__(paths, [NOMINAL], label_names, labels, parton,
                         max_particles=max_particles or MAX_CONSTITUENTS, chunk=chunk)
        self._branches = [list(jc.FLAT_BRANCHES) + [b for b in ("jet_mass", "jet_n2")
                                                     if b in t.keys()]
                          for t in trees]
        #: Per file, the entry ranges a stream reads: whole clusters (every branch's baskets
        #: end there), at least ``chunk`` entries each. A range that cut a basket would make
        #: uproot decompress that basket again for the next range (``resim export`` writes a
        #: basket per branch and block of 10,000 jets: 2,048-jet reads decompressed each 5x).
        self.stream_ranges = [_cluster_ranges(t.common_entry_offsets(filter_name=b), self.chunk)
                              for t, b in zip(trees, self._branches)]
        # the trees opened to check the files serve this process's reads too
        self._open = {(os.getpid(), k): tree for k, tree in enumerate(trees)}

    @staticmethod
    def _tree(path: Path):
        try:
            f = uproot.open(path, **_OPEN)
        except FileNotFoundError:
            raise DatasetError(f"{path}: no such JetClass file") from None
        except Exception as err:  # uproot raises many kinds for a file that is not ROOT
            raise DatasetError(f"{path}: not a readable ROOT file: {err}") from None
        classes = {k.split(";")[0]: v for k, v in f.classnames().items()}
        if classes.get(jc.TREE) != "TTree":
            what = f"a {classes[jc.TREE]}" if jc.TREE in classes else f"no {jc.TREE!r}"
            raise DatasetError(f"{path}: holds {what}, not the TTree {jc.TREE!r} of a JetClass "
                               f"file (objects: {sorted(classes)})")
        tree = f[jc.TREE]
        missing = [b for b in jc.REQUIRED if b not in tree.keys()]
        if missing:
            raise DatasetError(f"{path}: lacks the JetClass branches {missing}")
        return tree

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_open"] = {}
        return state

    def _arrays(self, k: int, lo: int, hi: int):
        key = (os.getpid(), k)
        if key not in self._open:
            self._open[key] = uproot.open(self.paths[k], **_OPEN)[jc.TREE]
        return self._open[key].arrays(self._branches[k], entry_start=lo, entry_stop=hi)

    def _load(self, k: int, view: str, lo: int, hi: int) -> Jets:
        return Jets(*jc.from_branches(self._arrays(k, lo, hi), self.max_particles))

    def flat_range(self, k: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Entries [lo, hi) of file ``k`` as :func:`resim.formats.jetclass.flat_jets` arrays
        (no padding, no cache: a stream reads each range once)."""
        return jc.flat_jets(self._arrays(k, lo, hi), self.max_particles)


def _cluster_ranges(offsets: list[int], chunk: int) -> list[tuple[int, int]]:
    """Consecutive clusters (between ``offsets``) joined into ranges of >= ``chunk`` entries
    (the last may be shorter). A cluster of more than ``SPLIT × chunk`` entries is cut into
    ranges of ``chunk``: its baskets are then read more than once, but the window stays
    bounded by ``chunk``, not by however the file was written."""
    ranges, lo = [], offsets[0]
    for a, hi in zip(offsets[:-1], offsets[1:]):
        if hi - a > SPLIT * chunk:
            ranges += [(lo, a)] if lo < a else []
            ranges += [(x, min(x + chunk, hi)) for x in range(a, hi, chunk)]
            lo = hi
        elif hi - lo >= chunk or hi == offsets[-1]:
            ranges.append((lo, hi))
            lo = hi
    return ranges


#: Clusters up to this many chunks are read whole (see :func:`_cluster_ranges`).
SPLIT = 8


def stream_batches(dataset: JetClassDataset, batch_size: int, *, seed: int = 0,
                   shuffle: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(features (B, N, 15), mask (B, N), label codes (B,)) batches over every jet once.

    The files are read in turn, one range each per window (file 0 range 0, file 1 range 0, ...;
    ``stream_ranges``, whole clusters of >= ``chunk`` jets): with one class per file, a window
    holds every class, and its jets are shuffled before they are cut into batches. Memory: one
    window, held flat (the real particles' features, no padding); each batch is padded when it
    is cut. The last batch may be short. Features come straight from the flat branches
    (:func:`resim.features.real_features` in float32: within 1e-6 of ``read`` +
    ``particle_features``, which compute in float64).
    """
    rng = np.random.default_rng(seed)
    slots = dataset.max_particles
    carry = None  # (feature rows, counts, labels) of the jets the last window left over
    for c in range(max((len(r) for r in dataset.stream_ranges), default=0)):
        ranges = [(k, *r[c]) for k, r in enumerate(dataset.stream_ranges) if c < len(r)]
        parts = [dataset.flat_range(k, lo, hi) for k, lo, hi in ranges]
        n = np.concatenate([p[1] for p in parts]).astype(np.int64)
        window = (real_features(np.concatenate([p[0] for p in parts]), n,
                                np.concatenate([p[2] for p in parts]), dtype=np.float32), n,
                  dataset.labels[np.concatenate([dataset._offsets[k] + np.arange(lo, hi)
                                                 for k, lo, hi in ranges])].astype(np.int64))
        if carry is not None:
            window = tuple(np.concatenate([a, b]) for a, b in zip(carry, window))
        rows, n, labels = window
        starts = np.cumsum(n) - n
        order = rng.permutation(len(n)) if shuffle else np.arange(len(n))
        full = len(order) - len(order) % batch_size
        for start in range(0, full, batch_size):
            idx = order[start:start + batch_size]
            yield _batch(rows, starts[idx], n[idx], labels[idx], slots)
        rest = order[full:]
        carry = (rows[row_index(starts[rest], n[rest])], n[rest], labels[rest])
    if carry is not None and len(carry[1]):
        rows, n, labels = carry
        yield _batch(rows, np.cumsum(n) - n, n, labels, slots)


def _batch(rows: np.ndarray, starts: np.ndarray, n: np.ndarray, labels: np.ndarray,
           slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, mask, labels) of the jets whose feature rows are [starts, starts + n)."""
    return pad_rows(rows, starts, n, slots), np.arange(slots)[None, :] < n[:, None], labels
