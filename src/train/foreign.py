"""Datasets of the field (JetClass ROOT, the RS3L public HDF5) behind the paired-dataset surface.

Training, fine-tuning and evaluation read jets through :class:`resim.dataset.reader.
PairedDataset`'s surface: ``views``, ``label_names``, ``labels``, ``event_id``, ``parton``,
``paths``, ``attrs``, ``len()`` and ``read(view, rows) -> Jets``. :class:`ForeignJets` gives a
foreign layout that surface, so every loader (pair windows, labelled sets, scoring) reads it
unchanged. Jets are loaded in aligned chunks of ``chunk`` entries, converted to the project's
arrays once and kept in a small cache: memory is bounded by ``chunk × cache``, not by the files.
(:func:`train.open_jets.open_jets` picks the reader for a set of files.)
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from resim.contracts import MAX_CONSTITUENTS, PARTON_FIELDS
from resim.dataset.reader import Jets, selected_rows
from resim.errors import DatasetError
from resim.formats import fill_n2

#: Entries per loaded chunk, and chunks kept per process.
CHUNK = 2048
CACHE_CHUNKS = 8


class ForeignJets:
    """Base of the foreign readers: subclasses set the per-file tables and implement
    :meth:`_load` (one file's entries [lo, hi) of one view as project arrays)."""

    format = "foreign"

    def __init__(self, paths: list[Path], views: list[str], label_names: list[str],
                 labels: list[np.ndarray], parton: list[np.ndarray], *,
                 max_particles: int = MAX_CONSTITUENTS, chunk: int = CHUNK):
        self.paths = list(paths)
        self.views = list(views)
        self.max_particles = max_particles
        self.chunk = chunk
        self.label_names = list(label_names)
        self.labels = np.concatenate(labels).astype(np.int8)
        self.parton = np.concatenate(parton).astype(np.float32)
        self.parton_fields = PARTON_FIELDS
        self._offsets = np.concatenate([[0], np.cumsum([len(x) for x in labels])]).astype(np.int64)
        self.event_id = np.arange(len(self), dtype=np.int64)
        self.attrs = {"format": self.format, "views": self.views, "label_names": self.label_names,
                      "files": [str(p) for p in self.paths], "versions": {}}
        self.file_attrs = [self.attrs]
        self._cache: OrderedDict = OrderedDict()
        self._pid = os.getpid()

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()
        return state

    def close(self) -> None:
        self._cache.clear()

    def require_apart(self, other, role: str, flag: str | None = None,
                      overlap_ok: bool = False) -> None:
        """``other`` (validation or test jets) shares no file with these (the training jets):
        foreign files carry no shard provenance, so the files themselves are compared."""
        if overlap_ok:
            return
        mine = {Path(p).resolve(): p for p in self.paths}
        for path in other.paths:
            if Path(path).resolve() in mine:
                accept = f" (pass {flag} if that is what you want)" if flag else ""
                raise DatasetError(f"{path}: the {role} jets are in a file the training jets "
                                   f"come from too ({mine[Path(path).resolve()]}){accept}")

    def shard_files(self) -> dict:
        """No (sample, shard) provenance in foreign files (see :meth:`require_apart`)."""
        return {}

    def _load(self, k: int, view: str, lo: int, hi: int) -> Jets:  # pragma: no cover
        raise NotImplementedError

    def _chunk(self, k: int, view: str, c: int, n2: bool = False) -> Jets:
        """Chunk ``c`` of file ``k`` in ``view``, from the cache or loaded (least recent out);
        with ``n2``, its N2 computed where the file lacks it (once per cached chunk)."""
        if os.getpid() != self._pid:  # a forked worker starts with its own cache
            self._cache, self._pid = OrderedDict(), os.getpid()
        key = (k, view, c)
        if key in self._cache:
            self._cache.move_to_end(key)
            jets = self._cache[key]
        else:
            size = self._offsets[k + 1] - self._offsets[k]
            jets = self._load(k, view, c * self.chunk, min((c + 1) * self.chunk, size))
            self._cache[key] = jets
            while len(self._cache) > CACHE_CHUNKS:
                self._cache.popitem(last=False)
        if n2:
            fill_n2(jets.constituents, jets.n_constituents, jets.jet)
        return jets

    def read(self, view: str, rows: slice | np.ndarray) -> Jets:
        """The jets of ``view`` for ``rows`` (a slice or indices, any order, repeats allowed)."""
        rows = selected_rows(self, view, rows)
        which = np.searchsorted(self._offsets, rows, side="right") - 1
        local = rows - self._offsets[which]
        out = Jets(np.zeros((len(rows), self.max_particles, 8), np.float32),
                   np.zeros(len(rows), np.int16), np.zeros((len(rows), 7), np.float32))
        for k, c in {(int(w), int(l // self.chunk)) for w, l in zip(which, local)}:
            pick = np.flatnonzero((which == k) & (local // self.chunk == c))
            jets = self._chunk(k, view, c, n2=True)
            at = local[pick] - c * self.chunk
            out.constituents[pick] = jets.constituents[at]
            out.n_constituents[pick] = jets.n_constituents[at]
            out.jet[pick] = jets.jet[at]
        return out
