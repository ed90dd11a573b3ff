"""Anomaly detection: the autoencoder's score, the (pT, eta) resampling, a whole run."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from fixtures_train import TINY_MODEL, tiny_config, write_pairs

from resim.contracts import LABEL_CODE
from train.anomaly.autoencoder import (AutoEncoder, pooled_representation, resample_to,
                                       train_autoencoder)
from train.evaluate.metrics import auc
from train.models import get_model


def _manifold(n: int, basis: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Normal jets: 64-d vectors on a 4-d linear manifold, plus a little noise."""
    return torch.randn(n, basis.shape[0], generator=g) @ basis + 0.01 * torch.randn(
        n, basis.shape[1], generator=g)


def test_autoencoder_scores_a_hand_made_anomaly_above_normal_inputs():
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(4, 64, generator=g)
    train, val, normal = (_manifold(n, basis, g) for n in (2000, 400, 400))
    # anomalies: same overall size, but pointing off the manifold the autoencoder learned
    anomalies = torch.randn(400, 64, generator=g) * normal.std()
    model, history = train_autoencoder(train, val, epochs=40, batch_size=128, lr=3e-3, seed=1)
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    s_normal, s_anomaly = model.score(normal), model.score(anomalies)
    target = np.r_[np.zeros(len(s_normal)), np.ones(len(s_anomaly))]
    assert auc(target, np.r_[s_normal, s_anomaly]) > 0.95
    assert np.median(s_anomaly) > np.median(s_normal) + 1.0  # log(loss): an order of magnitude


def test_score_is_log_of_one_minus_cosine():
    model = AutoEncoder.for_inputs(torch.randn(50, 8), latent=4)
    x = torch.randn(5, 8)
    s, z = model(x)
    expected = torch.log(1 - torch.nn.functional.cosine_similarity(s, z, dim=1))
    np.testing.assert_allclose(model.score(x), expected.detach().numpy(), rtol=1e-5)


def test_resampling_follows_the_reference_pt_and_eta():
    rng = np.random.default_rng(3)
    ref_pt, ref_eta = 100 + rng.exponential(40, 20000), rng.normal(0, 1.0, 20000)
    sig_pt, sig_eta = rng.uniform(100, 400, 20000), rng.uniform(-2.5, 2.5, 20000)
    rows = resample_to(sig_pt, sig_eta, ref_pt, ref_eta, 20000, np.random.default_rng(1))
    for q in (0.25, 0.5, 0.75):
        assert np.quantile(sig_pt[rows], q) == pytest.approx(np.quantile(ref_pt, q), rel=0.08)
        assert np.quantile(np.abs(sig_eta[rows]), q) == pytest.approx(
            np.quantile(np.abs(ref_eta), q), abs=0.12)
    # before resampling the signal is far off the reference
    assert np.median(sig_pt) > 1.5 * np.median(ref_pt)
    again = resample_to(sig_pt, sig_eta, ref_pt, ref_eta, 20000, np.random.default_rng(1))
    assert np.array_equal(rows, again)


def test_pooled_representation_is_the_input_of_the_output_mlp():
    torch.manual_seed(0)
    backbone = get_model(TINY_MODEL).eval()
    features = torch.randn(4, 10, 15)
    mask = torch.arange(10)[None, :] < torch.tensor([[10], [7], [3], [5]])
    x = pooled_representation(backbone, features, mask)
    assert x.shape == (4, TINY_MODEL["hidden"])
    with torch.no_grad():
        torch.testing.assert_close(backbone.head.mlp(x), backbone(features, mask))


def test_the_latent_must_be_narrower_than_the_input():
    # today's default (8-d output, latent 20) could learn the identity: refused
    with pytest.raises(ValueError, match="latent 20 is not smaller than its input 8"):
        AutoEncoder.for_inputs(torch.randn(50, 8))
    assert AutoEncoder.for_inputs(torch.randn(50, 64)).encoder[-1].out_features == 20


def test_mean_representation_averages_the_particle_encodings():
    torch.manual_seed(0)
    backbone = get_model(TINY_MODEL).eval()
    features = torch.randn(4, 10, 15)
    counts = torch.tensor([[10], [7], [3], [5]])
    mask = torch.arange(10)[None, :] < counts
    mean = pooled_representation(backbone, features, mask, "mean")
    total = pooled_representation(backbone, features, mask)
    torch.testing.assert_close(mean * counts, total)
    # seed 001's x: per particle, so a jet's mean does not grow with its particle count
    encodings = backbone.encode_particles(features, mask)
    torch.testing.assert_close(mean[1], encodings[1, :7].mean(0))


def test_a_run_writes_the_roc_and_table(tmp_path):
    from train.anomaly.run import run
    from train.checkpoint import atomic_torch_save

    views = ("nominal", "rehad")
    # one shard each: validation and test jets are not training jets
    files = {name: write_pairs(tmp_path / f"{name}.h5", n, seed=s, shard=s, views=views)
             for name, n, s in (("train", 120, 1), ("val", 60, 2), ("test", 80, 3))}
    for name, n, seed in (("darkX", 90, 4), ("darkY", 60, 5)):  # many-particle jets, dark
        files[name] = write_pairs(tmp_path / f"{name}.h5", n, seed=seed, views=views, scale=2.0)
        with h5py.File(files[name], "r+") as f:
            f["pairs/label"][:] = LABEL_CODE["dark"]
    torch.manual_seed(0)
    backbone = get_model(TINY_MODEL)
    atomic_torch_save({"model_config": backbone.model_config, "state_dict": backbone.state_dict(),
                       "epoch": 1, "optimizer": {}, "scheduler": {}, "rng_state": {},
                       "config": {}, "metrics": []}, tmp_path / "backbone.pt")
    config = tiny_config()
    config["anomaly"] = {**config["anomaly"], "epochs": 3, "batch_size": 32, "benchmark": "darkX",
                         "device": "cpu", "latent": 12}
    config["finetune"] = {**config["finetune"], "epochs": 1, "batch_size": 32, "device": "cpu"}
    record = run(config, tmp_path / "backbone.pt", [files["train"]], [files["val"]],
                 [files["test"]], {"darkX": [files["darkX"]], "darkY": [files["darkY"]]},
                 tmp_path / "out")
    assert set(record["models"]) == {"darkX", "darkY"}
    assert record["supervised"]["model"] == "darkX"
    # the benchmark's dark jets: 20 % are the test jets of both methods
    assert record["models"]["darkX"]["dark_jets"] == 18
    assert record["models"]["darkY"]["dark_jets"] == 60
    # the dark jets are resampled with replacement: fewer distinct ones stand behind the AUC,
    # whose spread over test sets is reported (bootstrap over SM and distinct dark jets)
    for name, available in (("darkX", 18), ("darkY", 60)):
        model = record["models"][name]
        assert 0 < model["dark_jets_distinct"] <= available
        assert 0 < model["auc_std"] < 0.2
    assert record["supervised"]["dark_jets_distinct"] == record["models"]["darkX"]["dark_jets_distinct"]
    assert 0 < record["supervised"]["auc_std"] < 0.2
    assert (tmp_path / "out" / "roc.png").stat().st_size > 1000
    table = (tmp_path / "out" / "auc.md").read_text()
    assert "| FSV | darkX |" in table and "| SSL + AE | darkY |" in table
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written["sm_test_jets"] == 80
    # auto: the mean of the per-particle encodings (16-d here) into a narrower latent
    assert (written["representation"], written["input_dim"]) == ("mean", TINY_MODEL["hidden"])
    # rs3l summary's anomaly section: the same table, the ROC linked from the page's folder
    from train.report import anomaly_section
    section = "\n".join(anomaly_section(tmp_path / "out" / "metrics.json", tmp_path))
    assert table.strip() in section and "[roc](out/roc.png)" in section
    assert "Missing: " in "\n".join(anomaly_section(tmp_path / "none.json", tmp_path))
