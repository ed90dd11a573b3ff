"""Masked particle modelling: masking, mask token, targets, learning, checkpoints, resume."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import yaml

from fixtures_train import tiny_config
from test_train_models import one_thread  # noqa: F401  (autouse fixture: one torch thread)
from test_train_pretrain import data  # noqa: F401  (fixture: the tiny paired file)
from resim.errors import ConfigError
from train.checkpoint import load_checkpoint
from train.data import iterate_batches, make_loader
from train.finetune.taggers import build_tagger
from train.models import get_model, load_backbone
from train.pretrain.mpm import (MaskedParticleModel, MaskedParticleModelling, ParticleTargets,
                       choose_masked, fit_particles, load_masked_model)
from train.pretrain.run import open_data, run_pretrain, train_seed

#: A small tokeniser and head for the tiny fixture data (≈ 6000 particles).
TINY_MPM = {"codes": 16, "kmeans_jets": 200, "heads": 2, "feedforward": 32}
TINY_TRANSFORMER = {"network": "transformer", "hidden": 16, "layers": 1, "heads": 2,
                    "feedforward": 32, "head": [8]}


def mpm_config(**pretrain) -> dict:
    mpm = {**TINY_MPM, **pretrain.pop("mpm", {})}
    return tiny_config(objective="mpm", mpm=mpm, **pretrain)


@pytest.fixture(scope="module")
def mpm_run(data, tmp_path_factory):
    """A two-epoch MPM run of the tiny DGCNN: (config, run directory, metrics)."""
    config = mpm_config()
    out = tmp_path_factory.mktemp("mpm") / "run"
    return config, out, run_pretrain(config, [data], out)


def first_batch(config: dict, data, split: str = "train"):
    train, val, _ = open_data([data], None, config["pretrain"], config)
    windows = train if split == "train" else val
    return next(iter(iterate_batches(make_loader(windows, workers=0), 0))), windows


def fitted_model(config: dict, data) -> MaskedParticleModel:
    _, windows = first_batch(config, data)
    torch.manual_seed(0)
    model = MaskedParticleModel(get_model(config["pretrain"]["model"]), config["pretrain"]["mpm"])
    model.targets.fit(fit_particles(windows, config["pretrain"]["mpm"]["kmeans_jets"]), seed=3)
    return model


def test_masking_picks_the_fraction_of_real_particles_and_never_padding():
    n_real = torch.tensor([0, 1, 3, 4, 10, 27, 64, 100])
    mask = torch.arange(100)[None, :] < n_real[:, None]
    generator = torch.Generator().manual_seed(1)
    hits = torch.zeros(mask.shape)
    for _ in range(400):
        masked = choose_masked(mask, 0.3, generator)
        assert not (masked & ~mask).any()
        assert masked.sum(1).tolist() == [0, 0, 0, 1, 3, 8, 19, 30]  # floor(0.3 n)
        hits += masked
    # Uniform over the jet's real particles: each is masked ~ floor(0.3 n) / n of the time.
    rate = hits[-1] / 400
    assert rate.mean() == pytest.approx(0.3) and rate.min() > 0.18 and rate.max() < 0.42
    # The same generator state gives the same masks; another draw differs.
    again = choose_masked(mask, 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(again, choose_masked(mask, 0.3, torch.Generator().manual_seed(1)))
    assert not torch.equal(again, choose_masked(mask, 0.3, generator))


def test_masked_particles_enter_the_backbone_as_the_mask_token(data):
    config = mpm_config(model=TINY_TRANSFORMER)
    batch, _ = first_batch(config, data)
    model = MaskedParticleModel(get_model(config["pretrain"]["model"]),
                                config["pretrain"]["mpm"]).eval()
    masked = choose_masked(batch.m1, 0.3, torch.Generator().manual_seed(2))
    seen = []
    encode = model.backbone.encode_particles
    model.backbone.encode_particles = lambda x, m: seen.append(x) or encode(x, m)
    with torch.no_grad():
        prediction = model(batch.x1, batch.m1, masked)
        assert prediction.shape == (int(masked.sum()), 16)
        x = seen[0]
        assert torch.equal(x[masked], model.mask_token.expand(int(masked.sum()), -1))
        assert torch.equal(x[~masked], batch.x1[~masked])
        # What hid under the mask cannot change the predictions; a visible particle does.
        hidden = batch.x1.clone()
        hidden[masked] = torch.randn(int(masked.sum()), 15)
        assert torch.equal(model(hidden, batch.m1, masked), prediction)
        visible = batch.x1.clone()
        visible[0, (~masked[0] & batch.m1[0]).nonzero()[0, 0]] += 1.0
        assert not torch.allclose(model(visible, batch.m1, masked)[0], prediction[0])


@pytest.mark.parametrize("target", ["tokens", "regression"])
def test_a_few_steps_lower_the_masked_particle_loss(data, target):
    config = mpm_config(mpm={"target": target})
    model = fitted_model(config, data)
    objective = MaskedParticleModelling(config["pretrain"]["mpm"], kmeans_seed=3, val_seed=4)
    batch, _ = first_batch(config, data)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = objective.step(model, batch, objective.stats(torch.device("cpu")))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    start, end = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert end < 0.9 * start, losses


def test_training_writes_loss_and_token_accuracy_per_epoch(mpm_run):
    _, out, metrics = mpm_run
    assert [row["epoch"] for row in metrics] == [1, 2]
    first, last = metrics
    assert last["train_loss"] < first["train_loss"] and last["val_loss"] < first["val_loss"]
    assert 0 < last["val_accuracy"] <= 1 and "val_cos_pos" not in last
    for name in ("checkpoint.pt", "last.pt", "metrics.csv", "curves.png", "cosine.png"):
        assert (out / name).stat().st_size > 0, name


def test_kmeans_tokeniser_is_deterministic_and_travels_in_the_checkpoint(mpm_run, data):
    config, out, _ = mpm_run
    _, windows = first_batch(config, data)
    particles = fit_particles(windows, config["pretrain"]["mpm"]["kmeans_jets"])

    def fit(seed: int) -> ParticleTargets:
        targets = ParticleTargets(["deta", "dphi", "log_pt"], codes=16)
        targets.fit(particles, seed)
        return targets

    a, b = fit(5), fit(5)
    assert torch.equal(a.centroids, b.centroids) and a.centroids.abs().sum() > 0
    assert not torch.equal(a.centroids, fit(6).centroids)
    restored = load_masked_model(out / "checkpoint.pt").targets
    refit = fit(train_seed(config, "kmeans"))
    for name in ("centroids", "mean", "std", "index"):
        assert torch.equal(getattr(restored, name), getattr(refit, name)), name
    # Every particle's token is its nearest centroid.
    values = restored.values(torch.from_numpy(particles))
    distance = torch.cdist(values, restored.centroids)
    assert torch.equal(distance.gather(1, restored.tokens(values)[:, None])[:, 0],
                       distance.min(1).values)


def test_a_run_interrupted_after_every_epoch_ends_with_the_uninterrupted_weights(tmp_path, data):
    config = mpm_config(model=TINY_TRANSFORMER, epochs=3, schedule="one_cycle")
    runs = {"straight": run_pretrain(config, [data], tmp_path / "straight")}
    for _ in range(3):  # three invocations of one epoch each, each resuming the last
        runs["resumed"] = run_pretrain(config, [data], tmp_path / "resumed", resume=True,
                                       stop_after=1)
    losses, weights = {}, {}
    for name, metrics in runs.items():
        losses[name] = [row["val_loss"] for row in metrics]
        last = load_checkpoint(tmp_path / name / "last.pt")
        assert last["epoch"] == 3
        weights[name] = {**last["state_dict"], **last["mpm"]["state_dict"]}
    assert losses["resumed"] == losses["straight"]
    assert weights["resumed"].keys() == weights["straight"].keys()
    assert all(torch.equal(value, weights["resumed"][key])  # head, token, tokeniser included
               for key, value in weights["straight"].items())
    # A run of one objective cannot be resumed as the other.
    contrastive = {**config, "pretrain": {**config["pretrain"], "objective": "contrastive",
                                          "epochs": 4}}
    with pytest.raises(ConfigError, match="masked-particle-modelling run"):
        run_pretrain(contrastive, [data], tmp_path / "resumed", resume=True)


def test_load_backbone_reads_an_mpm_checkpoint_as_an_8d_backbone(mpm_run):
    config, out, _ = mpm_run
    backbone = load_backbone(out / "checkpoint.pt")
    x, mask = torch.randn(3, 20, 15), torch.arange(20)[None, :] < torch.tensor([[20], [7], [1]])
    assert backbone(x * mask[..., None], mask).shape == (3, 8)
    # MPM trains the particle encoder only: the jet head keeps its initial weights.
    torch.manual_seed(train_seed(config, "init"))
    initial = get_model(config["pretrain"]["model"]).state_dict()
    trained = backbone.state_dict()
    assert all(torch.equal(trained[k], initial[k]) for k in initial if k.startswith("head."))
    assert not torch.equal(trained["embed.0.weight"], initial["embed.0.weight"])
    tagger = build_tagger("fixed", out / "checkpoint.pt", None, "linear")
    assert tagger(x, mask).shape[0] == 3


def test_config_errors_name_the_key(data):
    with pytest.raises(ConfigError, match="pretrain.mpm.heads"):
        MaskedParticleModel(get_model({"hidden": 16}), {**mpm_config()["pretrain"]["mpm"],
                                                         "heads": 3})
    config = mpm_config(mpm={"codes": 100000})
    with pytest.raises(ConfigError, match="K-means codes"):
        run_pretrain(config, [data], data.parent / "too_many_codes")


@pytest.mark.slow
def test_ddp_ranks_share_one_tokeniser(tmp_path, data):
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(mpm_config(epochs=1)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "train.pretrain", "--config", str(config_path), "--out", str(tmp_path / "run"),
         str(data)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = load_checkpoint(tmp_path / "run" / "last.pt")
    assert checkpoint["metrics"][0]["val_accuracy"] > 0
    assert checkpoint["mpm"]["state_dict"]["targets.centroids"].abs().sum() > 0
