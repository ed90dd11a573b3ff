"""Pre-training runs end to end: learning, outputs, resume, early stopping, CLI, DDP."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import torch
import yaml

from fixtures_train import tiny_config, write_pairs
from train.checkpoint import load_checkpoint
from train.cli import main as rs3l
from train.data import iterate_batches, make_loader
from train.pretrain.losses import nt_xent
from train.models import get_model, load_backbone
from train.pretrain.contrastive import Contrastive, collapse_warning
from train.pretrain.distributed import Distributed
from train.pretrain.run import open_data, run_pretrain, run_validation, train_seed


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("data") / "pairs.h5", 256, seed=1)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def untrained_metrics(config, data) -> dict:
    """Validation metrics of the initial network of a run with ``config``."""
    _, val, names = open_data([data], None, config["pretrain"], config)
    torch.manual_seed(train_seed(config, "init"))
    model = get_model(config["pretrain"]["model"])
    return run_validation(model, make_loader(val, workers=0), Contrastive(config["pretrain"], names, 8),
                          Distributed("cpu"))


def test_two_epochs_learn_pairs_and_write_every_output(tmp_path, data):
    config = tiny_config()
    before = untrained_metrics(config, data)
    metrics = run_pretrain(config, [data], tmp_path / "run")
    assert [row["epoch"] for row in metrics] == [1, 2]
    first, last = metrics
    assert last["val_loss"] < first["val_loss"] < before["val_loss"]
    assert last["train_loss"] < first["train_loss"]
    # The untrained network maps every jet alike (cosine ~0.98 for any two jets), so training
    # spreads jets apart: the positive-pair cosine is measured against the negative pairs'.
    def gap(m):
        return m["val_cos_pos"] - m["val_cos_neg"]

    assert gap(last) > gap(first) > gap(before)
    assert gap(last) > gap(before) + 0.3
    assert {"val_cos_pos_q", "val_cos_pos_H_bb", "val_cos_class_q_vs_H_bb"} <= set(last)
    # Wang & Isola: the untrained network puts every jet near one point (uniformity ~0, and a
    # trivial alignment ~0); training spreads jets over the sphere (uniformity falls towards
    # -4 for d = 8) while positive pairs stay closer than negative ones (|u - v|^2 = 2 - 2 cos).
    assert last["val_uniformity"] < before["val_uniformity"] - 0.3
    assert last["val_alignment"] < 2 - 2 * last["val_cos_neg"]
    assert collapse_warning(before, 0.05) is not None  # untrained: every jet alike

    run = tmp_path / "run"
    for name in ("checkpoint.pt", "last.pt", "config.yaml", "metrics.csv", "metrics.json",
                 "curves.png", "cosine.png"):
        assert (run / name).stat().st_size > 0, name
    assert yaml.safe_load((run / "config.yaml").read_text())["pretrain"]["epochs"] == 2
    with open(run / "metrics.csv") as f:
        assert [float(r["val_loss"]) for r in csv.DictReader(f)] == pytest.approx(
            [m["val_loss"] for m in metrics])
    best = load_checkpoint(run / "checkpoint.pt")
    assert best["epoch"] == 2 and best["model_config"]["network"] == "dgcnn"
    backbone = load_backbone(run / "checkpoint.pt")
    assert backbone(torch.zeros(1, 5, 15), torch.ones(1, 5, dtype=torch.bool)).shape == (1, 8)


def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path, data):
    # A transformer with dropout and a one-cycle schedule: RNG and scheduler state must resume.
    model = {"network": "transformer", "hidden": 16, "layers": 1, "heads": 2, "feedforward": 32,
             "head": [8]}
    config = tiny_config(model=model, epochs=3, schedule="one_cycle")
    straight = run_pretrain(config, [data], tmp_path / "straight")
    assert len(run_pretrain(config, [data], tmp_path / "resumed", stop_after=2)) == 2
    resumed = run_pretrain(config, [data], tmp_path / "resumed", resume=True)
    assert [r["val_loss"] for r in resumed] == [r["val_loss"] for r in straight]
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert a["epoch"] == b["epoch"] == 3
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key


def test_early_stopping_ends_a_run_that_no_longer_improves(tmp_path, data):
    config = tiny_config(epochs=6, patience=1, lr=1e-12)
    metrics = run_pretrain(config, [data], tmp_path / "run")
    assert len(metrics) == 2  # epoch 2 did not beat epoch 1: stop before epoch 3


def test_cli_trains_and_refuses_to_overwrite_a_run(tmp_path, data, capsys):
    config = tiny_config(epochs=1, views="seed+fsr", val_fraction=0.0)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    argv = ["pretrain", "--config", str(config_path), "--out", str(tmp_path / "run"), str(data)]
    assert rs3l(argv) == 0
    assert "val_loss" not in load_checkpoint(tmp_path / "run" / "last.pt")["metrics"][0]
    assert rs3l(argv) == 2
    assert "--resume" in capsys.readouterr().err
    config["pretrain"]["views"] = "vincia"
    config_path.write_text(yaml.safe_dump(config))
    assert rs3l(argv + ["--resume"]) == 2
    assert "pretrain.views" in capsys.readouterr().err
    config["pretrain"]["views"] = "hard"
    config["pretrain"]["model"]["k"] = 5
    config_path.write_text(yaml.safe_dump(config))
    assert rs3l(argv + ["--resume"]) == 2
    assert "pretrain.model" in capsys.readouterr().err


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tmp_path, data):
    config = tiny_config(epochs=1, workers=0)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", "-m", "train.pretrain", "--config", str(config_path),
           "--out", str(tmp_path / "run"), str(data)]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{e.stderr}\n{e.stdout}")
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = load_checkpoint(tmp_path / "run" / "last.pt")["metrics"]
    # Both ranks trained: 2 x (batches per rank) x 2 jets per pair went through the backbone.
    assert len(metrics) == 1 and metrics[0]["val_loss"] > 0


def test_validation_loss_is_the_configured_nt_xent_of_the_saved_model(tmp_path, data):
    config = tiny_config(epochs=1, loss="paper", tau=0.2, max_batches=2,
                         model={**tiny_config()["pretrain"]["model"], "head_order": "mlp_pool"})
    metrics = run_pretrain(config, [data], tmp_path / "run")
    model = load_backbone(tmp_path / "run" / "checkpoint.pt")
    assert model.head.order == "mlp_pool"
    _, val, _ = open_data([data], None, config["pretrain"], config)
    total, pairs = 0.0, 0
    with torch.no_grad():
        for batch in iterate_batches(make_loader(val, workers=0), 0):
            z1, z2 = model(batch.x1, batch.m1), model(batch.x2, batch.m2)
            total += float(nt_xent(z1, z2, tau=0.2, form="paper")) * len(batch)
            pairs += len(batch)
    assert metrics[0]["val_loss"] == pytest.approx(total / pairs, rel=1e-5)


def test_alignment_and_uniformity_match_their_definitions():
    torch.manual_seed(0)
    z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
    stats = Contrastive({"tau": 0.1, "loss": "simclr"}, ["q", "H_bb"], 8).stats(torch.device("cpu"))
    stats.add(torch.tensor(1.0), z1, z2, torch.tensor([0, 1, 0, 1, 0, 1]))
    out = stats.summary("val", lambda t: t)
    u1 = torch.nn.functional.normalize(z1, dim=1)
    u2 = torch.nn.functional.normalize(z2, dim=1)
    u = torch.cat([u1, u2])
    assert out["val_alignment"] == pytest.approx(float(((u1 - u2) ** 2).sum(1).mean()), rel=1e-5)
    d2 = torch.cdist(u, u) ** 2
    off = ~torch.eye(12, dtype=torch.bool)
    assert out["val_uniformity"] == pytest.approx(float(torch.log(torch.exp(-2 * d2[off]).mean())), rel=1e-4)


def test_collapse_warning_when_negative_pairs_are_as_aligned_as_positive_ones():
    # The default run of the issue: 0.96 positive vs 0.92 negative is a warning at gap 0.05.
    assert "0.920" in collapse_warning({"epoch": 3, "val_cos_pos": 0.96, "val_cos_neg": 0.92}, 0.05)
    assert collapse_warning({"epoch": 3, "val_cos_pos": 0.8, "val_cos_neg": 0.1}, 0.05) is None
    assert collapse_warning({"epoch": 1, "train_loss": 2.0, "train_accuracy": 0.1}, 0.05) is None


def test_a_run_killed_and_resumed_writes_the_bytes_of_an_uninterrupted_one(tmp_path, data):
    """kill -9 in the middle of a run, then --resume: every file of the run directory is
    byte-identical to an uninterrupted run's (issue 18, class 9); last.pt used to differ in
    its pickle, where the resumed optimizer's keys were not the interned strings of a fresh
    one."""
    import signal
    import time

    config = tiny_config(epochs=4, val_fraction=0.25)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    argv = ["pretrain", "--config", str(config_path), str(data)]
    assert rs3l([*argv, "--out", str(tmp_path / "straight")]) == 0
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "train.cli", *argv, "--out", str(killed)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (killed / "last.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (killed / "last.pt").exists(), "the run wrote no epoch"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert load_checkpoint(killed / "last.pt")["epoch"] < 4  # it was stopped on the way
    assert rs3l([*argv, "--out", str(killed), "--resume"]) == 0
    straight = sorted(p.name for p in (tmp_path / "straight").iterdir())
    assert sorted(p.name for p in killed.iterdir()) == straight
    for name in straight:
        assert (killed / name).read_bytes() == (tmp_path / "straight" / name).read_bytes(), name
