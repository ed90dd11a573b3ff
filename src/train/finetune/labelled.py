"""The labelled jets of a fine-tuning run: which rows, in which view, held how.

Training jets: the task's classes, each pair row used once, as its nominal jet for a fraction
``nominal_fraction`` of the rows and as one of the augmentation views for the rest (round
robin), like the seed's mix of nominal and augmented jets. A labelled-set size takes the first
``size`` rows of one random order per (task, repetition): every mode and backbone of a size and
repetition sees the same jets, and a smaller size's jets are among a larger one's.
"""

from __future__ import annotations

import numpy as np
import torch

from resim.dataset.reader import Jets, PairedDataset
from resim.contracts import MAX_CONSTITUENTS
from resim.dataset.writer import CHUNK_ROWS
from resim.errors import ConfigError
from resim.features import FEATURE_NAMES, particle_features
from resim.seeds import derive_seed

from ..data import NOMINAL, jet_features
from ..study import ALL, finetune_views
from .tasks import SEED_STREAM, Task


def assign_views(n: int, views: list[str], nominal_fraction: float,
                 rng: np.random.Generator) -> np.ndarray:
    """View index (into ``[nominal, *views]``) of each of ``n`` rows.

    ``round(n · nominal_fraction)`` randomly chosen rows are nominal; the others cycle through the
    augmentation views, so every view gets an equal share of the rest.
    """
    order = rng.permutation(n)
    n_nominal = n if not views else int(round(n * nominal_fraction))
    out = np.zeros(n, dtype=np.int64)
    rest = order[n_nominal:]
    out[rest] = 1 + np.arange(len(rest)) % max(len(views), 1)
    return out


def augmentation_views(config: dict, dataset: PairedDataset) -> list[str]:
    """The augmentation views of the training mix: ``finetune.views`` (a mix such as ``hard``,
    ``+``-joined views, or a list; :func:`train.study.finetune_views`) among the dataset's.
    A dataset of nominal jets only (JetClass files) has no augmentation to mix in."""
    if list(dataset.views) == [NOMINAL]:
        return []
    return finetune_views(config, dataset.views)


def network_inputs(jets: Jets) -> tuple[np.ndarray, np.ndarray]:
    """(features (m, N, 15) float32, mask (m, N) bool) of jets already read (evaluation reads
    their N2 from the same selection)."""
    features = particle_features(jets.constituents, jets.n_constituents, jets.jet)
    mask = np.arange(features.shape[1])[None, :] < jets.n_constituents[:, None]
    return features, mask


def mixed_jets(dataset: PairedDataset, rows: np.ndarray, view_of_row: np.ndarray,
               views: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Features and mask of ``rows`` (any order), row i taken from view ``views[view_of_row[i]]``."""
    features = np.zeros((len(rows), MAX_CONSTITUENTS, len(FEATURE_NAMES)), dtype=np.float32)
    mask = np.zeros((len(rows), MAX_CONSTITUENTS), dtype=bool)
    for v, view in enumerate(views):
        where = np.flatnonzero(view_of_row == v)
        if where.size == 0:
            continue
        order = np.argsort(rows[where], kind="stable")
        f, m = jet_features(dataset, view, rows[where][order])
        features[where[order], :f.shape[1]] = f
        mask[where[order], :m.shape[1]] = m
    return _crop(features, mask)


def _crop(features: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the trailing constituent slots that are padding in every jet of the batch."""
    used = int(mask.any(0).nonzero()[0].max()) + 1 if mask.any() else 1
    return features[:, :used], mask[:, :used]


class JetSet:
    """The jets of a training or validation set, held in memory when small enough, else streamed."""

    def __init__(self, dataset: PairedDataset, rows: np.ndarray, view_of_row: np.ndarray,
                 views: list[str], targets: np.ndarray, cache_mb: float):
        self.dataset, self.rows, self.view_of_row, self.views = dataset, rows, view_of_row, views
        self.targets = torch.as_tensor(targets)
        size_mb = len(rows) * MAX_CONSTITUENTS * (4 * len(FEATURE_NAMES) + 1) / 2**20
        self.cache = mixed_jets(dataset, rows, view_of_row, views) if size_mb <= cache_mb else None

    def __len__(self) -> int:
        return len(self.rows)

    def epoch_order(self, rng: np.random.Generator) -> np.ndarray:
        """A random order of the jets for one epoch.

        In memory: a plain permutation. Streamed: whole blocks of ``CHUNK_ROWS`` consecutive rows
        (one compressed HDF5 chunk) in random order, so that a batch decompresses a few chunks
        instead of one chunk per jet; the loss of a batch does not depend on its order within.
        """
        if self.cache is not None:
            return rng.permutation(len(self))
        starts = rng.permutation(np.arange(0, len(self), CHUNK_ROWS))
        return np.concatenate([np.arange(s, min(s + CHUNK_ROWS, len(self))) for s in starts])

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.cache is not None:
            features, mask = _crop(self.cache[0][positions], self.cache[1][positions])
        else:
            features, mask = mixed_jets(self.dataset, self.rows[positions], self.view_of_row[positions],
                                        self.views)
        return torch.from_numpy(features), torch.from_numpy(mask), self.targets[positions]


def subset_size(available: int, size: int | str, cap: int | None, what: str) -> int:
    """How many of ``available`` jets a labelled set of ``size`` takes (``all``: every one, at
    most ``cap``); ConfigError naming both numbers when ``size`` is more than there are."""
    if size == ALL:
        return available if cap is None else min(available, cap)
    if size > available:
        raise ConfigError(f"finetune.train_sizes: {size} labelled jets asked, but {what} holds "
                          f"only {available}; lower the size or use 'all'")
    return int(size)


def build_jet_set(config: dict, task: Task, dataset: PairedDataset, rep: int, stream: str,
                  size: int | str, cap: int | None) -> tuple[JetSet, list[str]]:
    """The first ``size`` jets (see the module) of the task in ``dataset``, in the
    nominal/augmentation mix; also the view list they draw from."""
    section = config["finetune"]
    rows, targets = task.select(dataset)
    seed = config["run"]["seed"]
    order = np.random.default_rng(derive_seed(seed, f"finetune:{task.name}", rep, stream,
                                              SEED_STREAM)).permutation(len(rows))
    files = ", ".join(str(p) for p in dataset.paths)
    n = subset_size(len(rows), size, cap, f"the {stream} split ({files}) of task {task.name!r}")
    keep = np.sort(order[:n])
    rows, targets = rows[keep], targets[keep]
    aug = augmentation_views(config, dataset)
    views = [NOMINAL, *aug]
    # The view draw depends on the size too (a set is mixed as a whole), never on the mode.
    rng = np.random.default_rng(derive_seed(seed, f"finetune:{task.name}:{size}", rep, stream,
                                            SEED_STREAM))
    view_of_row = assign_views(len(rows), aug, section["nominal_fraction"], rng)
    return JetSet(dataset, rows, view_of_row, views, targets, section["cache_mb"]), views
