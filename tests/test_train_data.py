"""Paired loader: view selection, pairing, determinism, splits, worker processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixtures_train import VIEWS, write_pairs
from resim.dataset.reader import PairedDataset
from resim.errors import ConfigError
from resim.features import particle_features
from train.data import PairWindows, batches_per_rank, iterate_batches, make_loader, split_blocks
from train.study import resolve_views


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> PairedDataset:
    return PairedDataset(write_pairs(tmp_path_factory.mktemp("data") / "pairs.h5", 120, seed=3))


def windows(dataset, views=("seed", "fsr_up"), seed=5, shuffle=True, rows=None) -> PairWindows:
    rows = np.arange(len(dataset)) if rows is None else rows
    return PairWindows(dataset, rows, list(views), batch_size=10, seed=seed, block=8, window=3,
                       shuffle=shuffle)


def collect(w: PairWindows, epoch: int = 0, workers: int = 0) -> list:
    return list(iterate_batches(make_loader(w, workers=workers), epoch))


#: The fixture's views and a re-hadronised one: seed 000's four re-showers plus seed 001's twin.
MIXED = (*VIEWS, "rehad")
FORKS = {**{v: "hard" for v in VIEWS}, "rehad": "shower"}


def test_view_ablations_map_to_the_file_views():
    assert resolve_views("seed+fsr", VIEWS, FORKS) == ["seed", "fsr_up", "fsr_down"]
    assert resolve_views("seed", VIEWS, FORKS) == ["seed"]
    assert resolve_views(["herwig", "seed"], VIEWS, FORKS) == ["herwig", "seed"]
    with pytest.raises(ConfigError, match="pretrain.views.*vincia"):
        resolve_views("seed+vincia", VIEWS, FORKS)
    with pytest.raises(ConfigError, match="nominal"):
        resolve_views(["nominal"], VIEWS, FORKS)


def test_named_mixes_say_whether_rehadronisation_is_in():
    # hard: seed 000's "all" (the re-showers); every: the re-hadronised twin too
    assert resolve_views("hard", MIXED, FORKS) == ["seed", "fsr_up", "fsr_down", "herwig"]
    assert resolve_views("every", MIXED, FORKS) == ["seed", "fsr_up", "fsr_down", "herwig", "rehad"]
    assert resolve_views("hard+rehad", MIXED, FORKS) == resolve_views("every", MIXED, FORKS)
    assert resolve_views("rehad", MIXED, FORKS) == ["rehad"]
    # "all" (and finetune's null) meant "every" and would now be read as seed 000's: refused
    for old, key in (("all", "pretrain.views"), (None, "finetune.views")):
        with pytest.raises(ConfigError, match=f"{key}.*renamed.*'hard'.*'every'"):
            resolve_views(old, MIXED, FORKS, key=key)
    with pytest.raises(ConfigError, match="fork point.*rehad"):
        resolve_views("hard", MIXED, {v: "hard" for v in VIEWS})


def test_batches_pair_each_nominal_jet_with_an_allowed_view_of_the_same_event(dataset):
    views = ["seed", "herwig"]
    batches = collect(windows(dataset, views))
    assert len(batches) == batches_per_rank(windows(dataset, views), 1) > 0
    used = []
    for batch in batches:
        assert batch.x1.shape == (10, 100, 15) and batch.m1.dtype == torch.bool
        rows = batch.rows.numpy()
        used += rows.tolist()
        assert np.array_equal(batch.labels.numpy(), dataset.labels[rows])
        nominal = dataset.read("nominal", rows)
        expected = particle_features(nominal.constituents, nominal.n_constituents, nominal.jet)
        assert np.array_equal(batch.x1.numpy(), expected)
        assert np.array_equal(batch.m1.sum(1).numpy(), nominal.n_constituents)
        for i, row in enumerate(rows):
            jets = dataset.read(views[int(batch.views[i])], np.array([row]))
            aug = particle_features(jets.constituents, jets.n_constituents, jets.jet)[0]
            assert np.array_equal(batch.x2[i].numpy(), aug)
    assert len(used) == len(set(used))  # no pair twice in an epoch
    assert set(np.concatenate([b.views.numpy() for b in batches])) == {0, 1}


def test_loader_is_deterministic_and_independent_of_workers(dataset):
    first = collect(windows(dataset), epoch=1)
    again = collect(windows(dataset), epoch=1, workers=2)
    for a, b in zip(first, again, strict=True):
        for key in ("x1", "m1", "x2", "m2", "views", "rows"):
            assert torch.equal(getattr(a, key), getattr(b, key))
    other_epoch = collect(windows(dataset), epoch=2)
    other_seed = collect(windows(dataset, seed=6), epoch=1)
    for other in (other_epoch, other_seed):
        assert not all(torch.equal(a.rows, b.rows) for a, b in zip(first, other))


def test_validation_plan_is_fixed_and_keeps_partial_batches(dataset):
    rows = np.arange(0, 36)  # windows of 24 and 12 rows: batches of 10, 10, 4, 10, 2
    val = windows(dataset, shuffle=False, rows=rows)
    batches = collect(val, epoch=0)
    assert sorted(np.concatenate([b.rows.numpy() for b in batches]).tolist()) == rows.tolist()
    again = collect(val, epoch=7)
    assert all(torch.equal(a.views, b.views) for a, b in zip(batches, again, strict=True))


def test_block_split_is_disjoint_and_complete():
    rows = np.arange(400)
    train, val = split_blocks(rows, block=8, val_fraction=0.25, seed=1)
    assert sorted([*train, *val]) == rows.tolist() and not set(train) & set(val)
    assert len(val) == 8 * round(0.25 * 50) and all(np.diff(val.reshape(-1, 8), axis=1).ravel() == 1)
    # A small dataset is split in smaller blocks rather than refused.
    train, val = split_blocks(np.arange(30), block=64, val_fraction=0.2, seed=1)
    assert len(val) == 6 and len(train) == 24
    with pytest.raises(ConfigError, match="val_fraction"):
        split_blocks(np.arange(3), block=8, val_fraction=0.1, seed=1)


def test_every_rank_has_the_planned_batches_in_every_epoch(dataset):
    # 120 rows in blocks of 8, windows of 3 blocks: DDP ranks must never run short of batches.
    w = windows(dataset, rows=np.arange(117))  # a trailing partial block
    planned = batches_per_rank(w, 2)
    assert planned > 0
    for epoch in range(4):
        for rank in range(2):
            loader = make_loader(w, workers=0, rank=rank, world=2)
            assert len(list(iterate_batches(loader, epoch))) >= planned
