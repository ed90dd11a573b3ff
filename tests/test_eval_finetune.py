"""Fine-tuning modes: what trains, what stays, what is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from resim.config import validate
from resim.errors import ConfigError
from resim.dataset.reader import PairedDataset
from train.finetune import run as ft
from train.finetune import loop
from train.finetune.heads import Tagger
from train.finetune.labelled import build_jet_set
from train.finetune.taggers import build_tagger, load_tagger
from train.finetune.tasks import Task

from fixtures_eval import TINY_MODEL, tiny_config, write_backbone, write_paired_file


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval_ft")
    return {"train": write_paired_file(d / "train.h5", 240, seed=1, shard=0),
            "val": write_paired_file(d / "val.h5", 120, seed=2, shard=1),
            "backbone": write_backbone(d / "backbone.pt"), "dir": d}


def _config():
    return validate(tiny_config())


def _jets(config, task, path, rep, stream, size="all"):
    return build_jet_set(config, task, PairedDataset([path]), rep, stream, size, None)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_fixed_mode_leaves_backbone_bit_identical(data):
    config = _config()
    out = data["dir"] / "fixed"
    ft.finetune(config, "h_vs_qcd", "fixed", 0, data["backbone"], [data["train"]], [data["val"]], out)
    original = torch.load(data["backbone"], weights_only=True)["state_dict"]
    tagger, record = load_tagger(out / "model.pt")
    trained = tagger.backbone.state_dict()
    assert original.keys() == trained.keys()
    for key, value in original.items():
        assert torch.equal(value, trained[key]), key
    # ... while the head did train.
    assert record["mode"] == "fixed"
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert len(history) == config["finetune"]["epochs"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_fixed_mpm_backbone_is_probed_on_its_particle_mean(data):
    # MPM leaves its 8-d jet head at random weights: a fixed tagger reads the mean of the
    # per-particle encodings instead (seed 004's linear probe); contrastive ones keep the head
    mpm = write_backbone(data["dir"] / "mpm.pt", objective="mpm")
    tagger = build_tagger("fixed", mpm, None, "linear").eval()
    assert tagger.representation == "mean" and tagger.head.in_features == TINY_MODEL["hidden"]
    features = torch.randn(3, 12, 15)
    mask = torch.arange(12)[None, :] < torch.tensor([[12], [5], [2]])
    encodings = tagger.backbone.encode_particles(features, mask)
    with torch.no_grad():
        torch.testing.assert_close(tagger.embed(features, mask)[1], encodings[1, :5].mean(0))
    assert build_tagger("floating", mpm, None, "linear").representation == "output"
    assert build_tagger("fixed", data["backbone"], None, "linear").representation == "output"
    # trained and loaded back: still the probe, the backbone untouched
    out = data["dir"] / "mpm_fixed"
    ft.finetune(_config(), "h_vs_qcd", "fixed", 0, mpm, [data["train"]], [data["val"]], out)
    loaded, record = load_tagger(out / "model.pt")
    assert loaded.representation == "mean" and record["representation"] == "mean"
    original = torch.load(mpm, weights_only=True)["state_dict"]
    assert all(torch.equal(v, loaded.backbone.state_dict()[k]) for k, v in original.items())


def test_frozen_tagger_stays_in_eval_mode_and_gets_no_gradients():
    from train.models import get_model

    tagger = Tagger(get_model(TINY_MODEL), 8, frozen=True).train()
    assert not tagger.backbone.training and tagger.head.training
    feats, mask = torch.randn(4, 10, 15), torch.ones(4, 10, dtype=torch.bool)
    tagger(feats, mask).sum().backward()
    assert all(p.grad is None for p in tagger.backbone.parameters())
    assert tagger.head.weight.grad is not None


def test_floating_changes_backbone_and_supervised_starts_fresh(data):
    config = _config()
    original = torch.load(data["backbone"], weights_only=True)["state_dict"]
    for mode in ("floating", "supervised"):
        out = data["dir"] / mode
        record = ft.finetune(config, "h_vs_qcd", mode, 0, data["backbone"], [data["train"]],
                             [data["val"]], out)
        trained = load_tagger(out / "model.pt")[0].backbone.state_dict()
        changed = [k for k in original if not torch.equal(original[k], trained[k])]
        assert changed, mode
        scores = np.load(out / "scores.npz")
        assert scores["scores"].shape == scores["target"].shape == (record["val_size"],)
        assert np.all((scores["scores"] >= 0) & (scores["scores"] <= 1))


def test_training_mix_is_half_nominal_and_shared_by_modes(data):
    config = _config()
    task = Task.from_config(config, "h_vs_qcd")
    a, views = _jets(config, task, data["train"], 0, "train")
    b, _ = _jets(config, task, data["train"], 0, "train")
    assert views == ["nominal", "fsr_up", "vincia"]
    assert np.array_equal(a.view_of_row, b.view_of_row) and np.array_equal(a.rows, b.rows)
    counts = np.bincount(a.view_of_row, minlength=3)
    assert counts[0] == len(a) // 2 and abs(counts[1] - counts[2]) <= 1
    # Every task jet is used; signal is H_bb (half of the toy file).
    assert len(a) == 240 and a.targets.sum() == 120
    c, _ = _jets(config, task, data["train"], 1, "train", 100)
    assert len(c) == 100 and not np.array_equal(np.sort(c.rows), np.sort(a.rows[:100]))


def test_streamed_and_cached_batches_agree(data):
    config = _config()
    task = Task.from_config(config, "h_vs_qcd")
    cached, _ = _jets(config, task, data["train"], 0, "train")
    config["finetune"]["cache_mb"] = 0
    streamed, _ = _jets(config, task, data["train"], 0, "train")
    assert cached.cache is not None and streamed.cache is None
    pos = np.array([5, 0, 17, 3])
    for x, y in zip(cached.batch(pos), streamed.batch(pos)):
        assert torch.equal(x, y)
    # Streaming visits whole HDF5 chunks in random order; every jet once per epoch.
    order = streamed.epoch_order(np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(len(streamed)))
    assert np.all(np.diff(order[:64]) == 1)


def test_same_config_gives_identical_taggers(data):
    config = _config()
    for out in ("again-a", "again-b"):
        ft.finetune(config, "h_vs_qcd", "fixed", 1, data["backbone"], [data["train"]], [data["val"]],
                    data["dir"] / out)
    a, b = (np.load(data["dir"] / out / "scores.npz") for out in ("again-a", "again-b"))
    assert np.array_equal(a["scores"], b["scores"])
    for name in ("metrics.json", "model.pt", "scores.npz"):
        assert (data["dir"] / "again-a" / name).read_bytes() == \
            (data["dir"] / "again-b" / name).read_bytes(), name


def test_unknown_task_and_missing_backbone_are_config_errors(data):
    config = _config()
    with pytest.raises(ConfigError, match="no task 'w_vs_qcd'"):
        Task.from_config(config, "w_vs_qcd")
    with pytest.raises(ConfigError, match="needs --backbone"):
        build_tagger("floating", None, TINY_MODEL, "linear")
    config["finetune"]["tasks"]["tau"] = {"signal": ["tau"], "background": ["q"]}
    with pytest.raises(ConfigError, match="0 signal"):
        _jets(config, Task.from_config(config, "tau"), data["train"], 0, "train")


def test_fixed_mode_shortcut_equals_the_full_forward_pass(data):
    config = _config()
    task = Task.from_config(config, "h_vs_qcd")
    jets, _ = _jets(config, task, data["val"], 0, "validation")
    tagger = build_tagger("fixed", data["backbone"], None, "linear").eval()
    embedded = loop.EmbeddedSet(tagger, jets, 32, torch.device("cpu"))
    order = np.arange(len(jets))
    full = loop._epoch_loss(tagger, jets, 50, torch.device("cpu"), order, None)
    short = loop._epoch_loss(tagger.classify, embedded, 50, torch.device("cpu"), order, None)
    assert short == pytest.approx(full, rel=1e-6)


def test_every_mode_and_backbone_sees_the_same_labelled_jets(data):
    """At a given size and repetition the labelled jets (rows and views) do not depend on the
    mode or the backbone; smaller sizes take a subset; another repetition draws other jets."""
    config = _config()
    other = data["dir"] / "other" / "checkpoint.pt"
    other.parent.mkdir()
    write_backbone(other, seed=5)
    seen = {}
    for mode, backbone in (("fixed", data["backbone"]), ("floating", other), ("supervised", None),
                           ("fixed", other)):
        for size, rep in ((100, 0), (200, 0), (100, 1)):
            out = data["dir"] / "same" / f"{mode}-{backbone and backbone.parent.name}-{size}-{rep}"
            ft.finetune(config, "h_vs_qcd", mode, rep, backbone, [data["train"]], [data["val"]], out,
                        size)
            saved = np.load(out / "scores.npz")
            seen.setdefault((size, rep), []).append((saved["train_rows"], saved["train_views"]))
    for (size, rep), runs in seen.items():
        assert len(runs[0][0]) == size
        for rows, views in runs[1:]:
            assert np.array_equal(rows, runs[0][0]) and np.array_equal(views, runs[0][1])
    assert set(seen[(100, 0)][0][0]) < set(seen[(200, 0)][0][0])
    assert not np.array_equal(seen[(100, 0)][0][0], seen[(100, 1)][0][0])


def test_a_size_larger_than_the_labelled_jets_names_both_numbers(data):
    config = _config()
    with pytest.raises(ConfigError, match=r"finetune.train_sizes: 5000 labelled jets asked, .* "
                                          r"holds only 240"):
        _jets(config, Task.from_config(config, "h_vs_qcd"), data["train"], 0, "train", 5000)


def test_small_sets_train_more_epochs_and_patience_stops_early(data):
    config = _config()
    section = {**config["finetune"], "epochs": 2, "min_steps": 12, "batch_size": 64}
    assert loop.planned_epochs(section, 100) == 6      # 2 steps an epoch
    assert loop.planned_epochs(section, 1000) == 2     # 16 steps an epoch: epochs rule
    # A learning rate of 0 never improves on the first epoch: patience 2 stops after epoch 3.
    config["finetune"].update(epochs=40, patience=2, lr=0.0)
    record = ft.finetune(config, "h_vs_qcd", "fixed", 0, data["backbone"], [data["train"]],
                         [data["val"]], data["dir"] / "patience")
    assert (len(record["history"]), record["best_epoch"]) == (3, 1)


def test_supervised_baseline_trains_the_network_of_its_run(data, tmp_path):
    raw = tiny_config()
    tiny_transformer = {"network": "transformer", "hidden": 16, "embed_layers": 1, "layers": 1,
                        "heads": 2, "feedforward": 16, "head": [16, 8]}
    raw["pretrain"]["runs"] = [{"name": "rs3l"}, {"name": "tf", "model": tiny_transformer}]
    config = validate(raw)
    record = ft.finetune(config, "h_vs_qcd", "supervised", 0, None, [data["train"]],
                         [data["val"]], tmp_path / "tf", run="tf")
    tagger, _ = load_tagger(tmp_path / "tf" / "model.pt")
    assert tagger.backbone.model_config["network"] == "transformer"
    assert record["network"] == "transformer" and record["backbone_name"] is None
    with pytest.raises(ConfigError, match="--run tf: names the network of a supervised baseline"):
        ft.finetune(config, "h_vs_qcd", "fixed", 0, data["backbone"], [data["train"]],
                    [data["val"]], tmp_path / "fixed", run="tf")
