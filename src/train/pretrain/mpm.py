"""Masked particle modelling (MPM; Golling et al., seed 004) as a pre-training objective.

A fraction of each jet's real particles (``pretrain.mpm.mask_fraction``, 0.3 as in the MPM
code: ⌊0.3·n⌋ particles drawn uniformly per jet) get their 15 input features replaced by one
learned mask token; the backbone encodes every particle of the masked jet
(``encode_particles``), and a small head predicts, for each masked particle, either its K-means
token (cross-entropy; the paper's "K-means classification" with continuous inputs) or its
standardised target features directly (MSE; the paper's "regression"). The loss is the mean
over the masked particles only.

The head follows the paper's chosen fix of the mask-token symmetry (identical tokens would give
identical predictions): learned positional embeddings of the pT rank (the dataset orders
constituents by pT) are added at the head's input only, so the backbone stays
permutation-equivariant; then one transformer block and a linear layer.

Tokens: scikit-learn ``MiniBatchKMeans`` (k-means++ initialisation) fitted once, before
training, on the target features of the real particles of ``kmeans_jets`` training jets,
standardised; centroids, mean and width are buffers of :class:`ParticleTargets`, stored in the
checkpoint's ``"mpm"`` entry (the backbone's weights stay in ``"state_dict"``, so
:func:`train.models.load_backbone` and ``rs3l finetune`` read an MPM checkpoint unchanged).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from resim.errors import ConfigError
from resim.features import FEATURE_NAMES

from ..checkpoint import CheckpointError, load_checkpoint, unwrap
from ..data import NOMINAL, PairBatch, PairWindows, jet_features
from ..models import checkpoint_network

log = logging.getLogger(__name__)

#: Room for the positional embedding of the pT rank (the dataset keeps ≤ 100 constituents).
MAX_PARTICLES = 100


def choose_masked(mask: Tensor, fraction: float, generator: torch.Generator | None = None) -> Tensor:
    """(B, N) bool: ⌊fraction · n_real⌋ real particles per jet, uniformly at random; never padding.

    Draws from ``generator`` (its device) or, without one, from torch's global RNG on the
    mask's device (restored on resume).
    """
    device = generator.device if generator is not None else mask.device
    scores = torch.rand(mask.shape, generator=generator, device=device).to(mask.device)
    scores = scores.masked_fill(~mask, 2.0)  # padding ranks after every real particle
    rank = scores.argsort(dim=1).argsort(dim=1)
    n_masked = (mask.sum(1).double() * fraction).floor().long()
    return rank < n_masked.unsqueeze(1)


class ParticleTargets(nn.Module):
    """What a masked particle's prediction is compared with: standardised features, or tokens.

    ``features``: names from :data:`resim.features.FEATURE_NAMES`; ``codes``: the number of
    K-means clusters (0: regression, no tokeniser). Fitted by :meth:`fit`; every fitted number
    is a buffer, so it travels with the state dict.
    """

    def __init__(self, features: list[str], codes: int):
        super().__init__()
        unknown = [name for name in features if name not in FEATURE_NAMES]
        if unknown:
            raise ConfigError(f"pretrain.mpm.features: {unknown} are not particle features "
                              f"({', '.join(FEATURE_NAMES)})")
        self.register_buffer("index", torch.tensor([FEATURE_NAMES.index(n) for n in features]))
        self.register_buffer("mean", torch.zeros(len(features)))
        self.register_buffer("std", torch.ones(len(features)))
        self.register_buffer("centroids", torch.zeros(codes, len(features)))

    @property
    def codes(self) -> int:
        return self.centroids.shape[0]

    def values(self, features: Tensor) -> Tensor:
        """Standardised target features (…, n_targets) of particle features (…, 15)."""
        return (features[..., self.index] - self.mean) / self.std

    def tokens(self, values: Tensor) -> Tensor:
        """Index of the nearest centroid of standardised ``values`` (n, n_targets)."""
        return torch.cdist(values, self.centroids).argmin(dim=1)

    def fit(self, particles: np.ndarray, seed: int) -> None:
        """Standardisation and (for tokens) K-means from real particles' features (n, 15)."""
        from sklearn.cluster import MiniBatchKMeans

        raw = particles[:, self.index.cpu().numpy()].astype(np.float64)
        mean, std = raw.mean(0), raw.std(0)
        std[std == 0] = 1.0
        self.mean.copy_(torch.from_numpy(mean))
        self.std.copy_(torch.from_numpy(std))
        if not self.codes:
            return
        if len(raw) < self.codes:
            raise ConfigError(f"pretrain.mpm: {len(raw)} particles cannot make "
                              f"{self.codes} K-means codes (lower codes or raise kmeans_jets)")
        kmeans = MiniBatchKMeans(n_clusters=self.codes, random_state=seed, n_init=1,
                                 batch_size=4096).fit((raw - mean) / std)
        self.centroids.copy_(torch.from_numpy(kmeans.cluster_centers_))


class MaskedParticleHead(nn.Module):
    """Positional embedding of the pT rank, one transformer block, linear to ``n_out``."""

    def __init__(self, hidden: int, n_out: int, heads: int, feedforward: int):
        super().__init__()
        self.position = nn.Embedding(MAX_PARTICLES, hidden)
        self.block = nn.TransformerEncoderLayer(hidden, heads, feedforward, dropout=0.0,
                                                activation="gelu", batch_first=True)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """(B, N, hidden) particle encodings → (B, N, n_out) predictions."""
        x = x + self.position.weight[: x.shape[1]]
        return self.out(self.block(x, src_key_padding_mask=~mask))


class MaskedParticleModel(nn.Module):
    """A backbone with a mask token, a prediction head and the targets (what MPM trains).

    The backbone's jet head (pool + MLP to 8-d) is frozen: MPM never uses it, so it keeps its
    initial weights until fine-tuning (and DDP sees no parameter without a gradient).
    """

    def __init__(self, backbone: nn.Module, cfg: dict[str, Any]):
        super().__init__()
        if not hasattr(backbone, "encode_particles"):
            raise ConfigError("pretrain.objective mpm needs a backbone with encode_particles")
        self.backbone = backbone
        self.backbone.head.requires_grad_(False)
        self.cfg = dict(cfg)
        codes = cfg["codes"] if cfg["target"] == "tokens" else 0
        self.targets = ParticleTargets(list(cfg["features"]), codes)
        model_cfg = backbone.model_config
        if model_cfg["hidden"] % cfg["heads"]:
            raise ConfigError(f"pretrain.mpm.heads = {cfg['heads']} must divide the backbone's "
                              f"hidden width {model_cfg['hidden']}")
        self.mask_token = nn.Parameter(0.1 * torch.randn(model_cfg["input_dim"]))
        self.head = MaskedParticleHead(model_cfg["hidden"], codes or len(cfg["features"]),
                                       cfg["heads"], cfg["feedforward"])

    def forward(self, features: Tensor, mask: Tensor, masked: Tensor) -> Tensor:
        """Predictions (n_masked, n_out) for the ``masked`` particles of the jets."""
        x = torch.where(masked.unsqueeze(-1), self.mask_token.to(features.dtype), features)
        encoded = self.backbone.encode_particles(x, mask)
        return self.head(encoded, mask)[masked]

    def pretrain_state(self) -> dict[str, Any]:
        """The checkpoint's ``"mpm"`` entry: config and every weight that is not the backbone's."""
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("backbone.")}
        return {"config": self.cfg, "state_dict": state}

    def load_pretrain_state(self, entry: dict[str, Any], path: Path | str) -> None:
        if entry["config"] != self.cfg:
            raise ConfigError(f"pretrain.mpm {self.cfg} differs from the run in {path} "
                              f"({entry['config']}): resume with the run's config.yaml")
        self.load_state_dict({**self.backbone_state(), **entry["state_dict"]})

    def backbone_state(self) -> dict[str, Tensor]:
        return {f"backbone.{k}": v for k, v in self.backbone.state_dict().items()}


def load_masked_model(path: str | Path,
                      map_location: str | torch.device = "cpu") -> MaskedParticleModel:
    """The whole MPM model (backbone, mask token, head, tokeniser) of a checkpoint, eval mode."""
    checkpoint = load_checkpoint(path, map_location=map_location, kind="pretraining")
    if "mpm" not in checkpoint:
        raise CheckpointError(f"checkpoint {path} is not a masked-particle-modelling run")
    backbone = checkpoint_network(path, checkpoint)
    model = MaskedParticleModel(backbone, checkpoint["mpm"]["config"])
    model.load_pretrain_state(checkpoint["mpm"], path)
    return model.eval()


def fit_particles(windows: PairWindows, n_jets: int) -> np.ndarray:
    """Features (n, 15) of the real particles of the first ``n_jets`` jets of epoch 0's plan.

    The plan's leading rows are whole random blocks of contiguous rows: cheap reads of a
    random, reproducible sample of the training set.
    """
    rows = np.sort(np.concatenate(windows.plan(0))[:n_jets])
    chunks = []
    for start in range(0, len(rows), 4096):
        features, mask = jet_features(windows.dataset, NOMINAL, rows[start:start + 4096])
        chunks.append(features[mask])
    return np.concatenate(chunks)


class MPMStats:
    """Running sums of one epoch: loss × masked particles, masked particles, correct tokens."""

    def __init__(self, device: torch.device, accuracy: bool):
        self.sums = torch.zeros(3, device=device, dtype=torch.float64)
        self.accuracy = accuracy

    @torch.no_grad()
    def add(self, loss: Tensor, n_masked: int, correct: Tensor) -> None:
        self.sums += torch.stack([loss.detach().double() * n_masked,
                                  torch.tensor(float(n_masked), device=self.sums.device),
                                  correct.double()])

    def summary(self, prefix: str, reduce) -> dict[str, float]:
        loss, count, correct = reduce(self.sums.clone()).cpu().tolist()
        out = {f"{prefix}_loss": loss / max(count, 1.0)}
        if self.accuracy:
            out[f"{prefix}_accuracy"] = correct / max(count, 1.0)
        return out


class MaskedParticleModelling:
    """The MPM objective for the pre-training loop of :mod:`train.pretrain.run`."""

    name = "mpm"
    jets_per_row = 1  # nominal jets only
    log_keys = ("loss", "accuracy")

    @property
    def loss_label(self) -> str:
        return "MPM cross-entropy" if self.cfg["target"] == "tokens" else "MPM regression MSE"

    def __init__(self, cfg: dict[str, Any], *, kmeans_seed: int, val_seed: int):
        self.cfg = cfg
        self.kmeans_seed = kmeans_seed
        self.val_seed = val_seed

    def build(self, backbone: nn.Module) -> MaskedParticleModel:
        return MaskedParticleModel(backbone, self.cfg)

    def backbone(self, model: nn.Module) -> nn.Module:
        return unwrap(model).backbone

    def prepare(self, model: nn.Module, train: PairWindows) -> None:
        """Fit the targets (standardisation, K-means) on the training jets."""
        particles = fit_particles(train, self.cfg["kmeans_jets"])
        log.info("fitting MPM targets on %d particles", len(particles))
        unwrap(model).targets.fit(particles, self.kmeans_seed)

    def checkpoint_extra(self, model: nn.Module) -> dict[str, Any]:
        return {"mpm": unwrap(model).pretrain_state()}

    def restore_extra(self, model: nn.Module, checkpoint: dict, path: Path) -> None:
        if "mpm" not in checkpoint:
            raise ConfigError(f"{path} is a contrastive run: pretrain.objective mpm cannot "
                              f"resume it")
        unwrap(model).load_pretrain_state(checkpoint["mpm"], path)

    def stats(self, device: torch.device) -> MPMStats:
        return MPMStats(device, accuracy=self.cfg["target"] == "tokens")

    def validation_generator(self) -> torch.Generator:
        """The same masks every validation pass (CPU draws, so any device gives the same)."""
        return torch.Generator().manual_seed(self.val_seed)

    def step(self, model: nn.Module, batch: PairBatch, stats: MPMStats,
             generator: torch.Generator | None = None) -> Tensor:
        """Mask, predict, and the mean loss over the batch's masked particles."""
        masked = choose_masked(batch.m1, self.cfg["mask_fraction"], generator)
        prediction = model(batch.x1, batch.m1, masked)
        targets = unwrap(model).targets
        values = targets.values(batch.x1[masked])
        n_masked = len(values)
        if targets.codes:
            tokens = targets.tokens(values)
            loss = F.cross_entropy(prediction, tokens, reduction="sum") / max(n_masked, 1)
            correct = (prediction.argmax(1) == tokens).sum()
        else:
            loss = F.mse_loss(prediction, values, reduction="sum") / max(values.numel(), 1)
            correct = torch.zeros((), device=loss.device)  # no tokens: no accuracy
        stats.add(loss, n_masked, correct)
        return loss
