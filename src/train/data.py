"""Paired-jet loader for pre-training.

Each batch holds ``batch_size`` nominal jets and, for each, one augmentation drawn at random
among the allowed views, as dense padded features (B, 100, 15) with masks, computed by the
shared :func:`resim.features.particle_features`. With no augmented view (masked particle
modelling) the batches hold the nominal jets only.

Reading is organised for compressed, chunked HDF5: the rows are cut into contiguous *blocks*
(the writer's chunk size), each epoch shuffles the blocks, and a *window* of several blocks is
read at once (every view's chunks decompressed once), shuffled row-wise and cut into batches.
One window is one item of a torch ``DataLoader``, so worker processes read and featurise whole
windows in parallel. Everything random derives from (seed, epoch, window): the batches do not
depend on the number of workers or on where a resumed run restarts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from resim.dataset.reader import PairedDataset
from resim.errors import ConfigError
from resim.features import particle_features

from .study import NOMINAL

#: The option of rs3l pretrain and finetune that accepts validation jets that were trained on.
OVERLAP_FLAG = "--val-overlaps-train"


@dataclass
class PairBatch:
    """One batch: nominal (x1, m1) and augmented (x2, m2) jets of the same pairs.

    x2 and m2 are None for nominal-only batches (``PairWindows`` with no augmented view).
    """

    x1: torch.Tensor  # (B, N, 15) float32, zero on padding
    m1: torch.Tensor  # (B, N) bool
    x2: torch.Tensor | None
    m2: torch.Tensor | None
    labels: torch.Tensor  # (B,) int64 label codes
    views: torch.Tensor  # (B,) int64 index into the augmented-view list
    rows: torch.Tensor  # (B,) int64 rows of the paired dataset

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(*(None if getattr(self, k) is None
                           else getattr(self, k).to(device, non_blocking=True)
                           for k in ("x1", "m1", "x2", "m2", "labels", "views", "rows")))


def jet_features(dataset: PairedDataset, view: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (m, N, 15) and mask (m, N) of ``view`` for sorted ``rows``."""
    jets = dataset.read(view, rows)
    features = particle_features(jets.constituents, jets.n_constituents, jets.jet)
    mask = np.arange(features.shape[1])[None, :] < jets.n_constituents[:, None]
    return features, mask


def small_block(block: int, n_rows: int) -> int:
    """``block``, or fewer rows for a small dataset so that it holds at least 20 blocks."""
    return max(1, min(block, n_rows // 20))


def split_blocks(rows: np.ndarray, block: int, val_fraction: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): whole blocks of rows drawn at random for validation.

    Blocks hold ``block`` rows (contiguous reads), fewer for small datasets (see
    :func:`small_block`), so the validation share is met to within 5 %.
    """
    block = small_block(block, len(rows))
    n_blocks = -(-len(rows) // block)
    n_val = int(round(val_fraction * n_blocks))
    if val_fraction > 0 and (n_val == 0 or n_val == n_blocks):
        raise ConfigError(f"pretrain.val_fraction = {val_fraction} leaves an empty split of "
                          f"{len(rows)} pairs in blocks of {block}; pass --val files instead")
    val_blocks = np.zeros(n_blocks, dtype=bool)
    val_blocks[np.random.default_rng([seed, 0xB10C]).permutation(n_blocks)[:n_val]] = True
    is_val = np.repeat(val_blocks, block)[: len(rows)]
    return rows[~is_val], rows[is_val]


class PairWindows(Dataset):
    """Windows of pair batches; item ``(epoch, w)`` is the list of batches of window ``w``.

    ``views`` are the augmentations a pair may draw; empty: nominal jets only (x2 = m2 = None).
    """

    def __init__(self, dataset: PairedDataset, rows: np.ndarray, views: Sequence[str], *,
                 batch_size: int, seed: int, block: int, window: int, shuffle: bool):
        if batch_size < 2 and views:
            raise ConfigError("pretrain.batch_size must be at least 2 (a pair needs negatives)")
        self.dataset = dataset
        self.rows = np.asarray(rows, dtype=np.int64)
        self.views = list(views)
        self.batch_size = batch_size
        self.seed = seed
        self.block = small_block(block, len(self.rows))
        self.window = window
        self.shuffle = shuffle

    def plan(self, epoch: int) -> list[np.ndarray]:
        """The rows of every window of ``epoch``, in batch order (a fixed plan if not shuffling).

        Shuffled plans use whole blocks only (a trailing partial block, < 5 % of the rows, is
        left out), so every epoch has windows of the same sizes and every DDP rank the same
        number of batches.
        """
        end = len(self.rows) - len(self.rows) % self.block if self.shuffle else len(self.rows)
        blocks = [self.rows[i:i + self.block] for i in range(0, end, self.block)]
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(blocks))
            blocks = [blocks[i] for i in order]
        step = self.window
        return [np.concatenate(blocks[i:i + step]) for i in range(0, len(blocks), step)]

    def __len__(self) -> int:
        return len(self.plan(0))

    def __getitem__(self, key: tuple[int, int]) -> list[PairBatch]:
        epoch, w = key
        rows = self.plan(epoch)[w]
        rng = np.random.default_rng([self.seed, epoch if self.shuffle else 0, w])
        view_index = rng.integers(max(len(self.views), 1), size=len(rows))
        order = np.argsort(rows, kind="stable")  # the reader wants sorted rows
        sorted_rows, sorted_views = rows[order], view_index[order]
        x1, m1 = jet_features(self.dataset, NOMINAL, sorted_rows)
        x2, m2 = (np.empty_like(x1), np.empty_like(m1)) if self.views else (None, None)
        for v, view in enumerate(self.views):
            pick = sorted_views == v
            if pick.any():
                x2[pick], m2[pick] = jet_features(self.dataset, view, sorted_rows[pick])
        labels = self.dataset.labels[sorted_rows].astype(np.int64)
        perm = rng.permutation(len(rows)) if self.shuffle else np.arange(len(rows))
        batches = []
        for start in range(0, len(perm), self.batch_size):
            idx = np.sort(perm[start:start + self.batch_size])
            if len(idx) < self.batch_size and (self.shuffle or len(idx) < 2):
                continue  # training keeps full batches only; a single pair has no negatives
            arrays = (x1, m1, x2, m2, labels, sorted_views.astype(np.int64), sorted_rows)
            batches.append(PairBatch(*(None if a is None else torch.from_numpy(a[idx])
                                       for a in arrays)))
        return batches


class EpochWindows(Sampler):
    """Yields ``(epoch, window)`` keys of this rank's windows (``set_epoch`` before iterating)."""

    def __init__(self, n_windows: int, rank: int = 0, world: int = 1):
        self.windows = list(range(rank, n_windows, world))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter((self.epoch, w) for w in self.windows)

    def __len__(self) -> int:
        return len(self.windows)


def _as_is(batches: list[PairBatch]) -> list[PairBatch]:
    return batches


def make_loader(windows: PairWindows, *, workers: int, rank: int = 0, world: int = 1) -> DataLoader:
    """A DataLoader over this rank's windows; iterate it with :func:`iterate_batches`.

    It has its own torch generator, so iterating it never advances the global RNG (a resumed
    run then draws exactly what an uninterrupted one draws).
    """
    sampler = EpochWindows(len(windows), rank, world)
    return DataLoader(windows, batch_size=None, sampler=sampler, num_workers=workers,
                      persistent_workers=workers > 0, prefetch_factor=2 if workers else None,
                      collate_fn=_as_is, generator=torch.Generator().manual_seed(windows.seed))


def batches_per_rank(windows: PairWindows, world: int) -> int:
    """The number of batches every rank runs per epoch (the fewest any rank has)."""
    plan = windows.plan(0)
    per_window = [len(rows) // windows.batch_size for rows in plan]
    return min(sum(per_window[rank::world]) for rank in range(world))


def iterate_batches(loader: DataLoader, epoch: int, limit: int | None = None) -> Iterator[PairBatch]:
    """The batches of ``epoch``, window after window, at most ``limit`` of them."""
    loader.sampler.set_epoch(epoch)
    count = 0
    for window in loader:
        for batch in window:
            if limit is not None and count >= limit:
                return
            count += 1
            yield batch
