"""The RS3L contrastive objective and its per-epoch statistics (pair cosines, alignment and
uniformity of the normalised representation, and the collapse check)."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import torch
from torch.nn import functional as F

from resim.errors import ConfigError

from ..checkpoint import unwrap
from ..data import PairBatch, PairWindows
from .losses import nt_xent


class EpochStats:
    """Running sums for one epoch's metrics, reducible over DDP ranks in one call."""

    def __init__(self, label_names: list[str], dim: int, device: torch.device):
        self.label_names = label_names
        n_labels = len(label_names)
        self.sums = {
            "loss": torch.zeros(2, device=device),  # sum of per-pair losses, pairs
            "neg": torch.zeros(2, device=device),  # sum of negative-pair cosines, count
            "align": torch.zeros(2, device=device),  # sum of positive-pair |u - u'|^2, count
            "uniform": torch.zeros(2, device=device),  # sum of exp(-2 |u_i - u_j|^2), count
            "pos": torch.zeros(n_labels, device=device),
            "count": torch.zeros(n_labels, device=device),
            "centre": torch.zeros(n_labels, dim, device=device),  # sum of unit nominal vectors
        }

    @torch.no_grad()
    def add(self, loss: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor, labels: torch.Tensor) -> None:
        n = len(labels)
        u1, u2 = F.normalize(z1.float(), dim=1), F.normalize(z2.float(), dim=1)
        u = torch.cat([u1, u2])
        cos = u @ u.T
        self.sums["loss"] += torch.stack([loss.detach() * n, torch.tensor(float(n), device=cos.device)])
        eye = torch.eye(n, dtype=torch.bool, device=u.device)
        pairs = torch.cat([torch.cat([eye, eye], 1)] * 2)  # the jet itself and its partner
        self.sums["neg"] += torch.stack([cos[~pairs].sum(), (~pairs).sum().to(cos.dtype)])
        # Wang & Isola (2020) on the unit sphere: alignment E|u - u'|^2 over positive pairs,
        # uniformity log E exp(-2 |u_i - u_j|^2) over distinct jets (|u - v|^2 = 2 - 2 cos).
        self.sums["align"] += torch.stack([(2 - 2 * (u1 * u2).sum(1)).sum(),
                                           torch.tensor(float(n), device=cos.device)])
        off = ~torch.eye(2 * n, dtype=torch.bool, device=u.device)
        self.sums["uniform"] += torch.stack([torch.exp(-2 * (2 - 2 * cos[off])).sum(),
                                             off.sum().to(cos.dtype)])
        self.sums["pos"].index_add_(0, labels, (u1 * u2).sum(1))
        self.sums["count"].index_add_(0, labels, torch.ones_like(labels, dtype=u.dtype))
        self.sums["centre"].index_add_(0, labels, u1)

    def summary(self, prefix: str, reduce) -> dict[str, float]:
        """Metrics named ``{prefix}_…`` from the sums, each first reduced with ``reduce``."""
        label_names = self.label_names
        sums = {key: reduce(value.clone()).cpu() for key, value in self.sums.items()}
        count = sums["count"]
        out = {f"{prefix}_loss": float(sums["loss"][0] / sums["loss"][1].clamp(min=1)),
               f"{prefix}_cos_pos": float(sums["pos"].sum() / count.sum().clamp(min=1)),
               f"{prefix}_cos_neg": float(sums["neg"][0] / sums["neg"][1].clamp(min=1)),
               f"{prefix}_alignment": float(sums["align"][0] / sums["align"][1].clamp(min=1)),
               f"{prefix}_uniformity": float(torch.log(sums["uniform"][0] / sums["uniform"][1].clamp(min=1)))}
        present = [int(c) for c in torch.nonzero(count).flatten()]
        for c in present:
            out[f"{prefix}_cos_pos_{label_names[c]}"] = float(sums["pos"][c] / count[c])
        for a, b in combinations(present, 2):
            cos = F.cosine_similarity(sums["centre"][a], sums["centre"][b], dim=0)
            out[f"{prefix}_cos_class_{label_names[a]}_vs_{label_names[b]}"] = float(cos)
        return out


def contrastive_step(model: torch.nn.Module, batch: PairBatch, cfg: dict) -> tuple:
    """Loss and representations of one batch: both views in one forward pass."""
    z = model(torch.cat([batch.x1, batch.x2]), torch.cat([batch.m1, batch.m2]))
    z1, z2 = z.split(len(batch))
    return nt_xent(z1, z2, tau=cfg["tau"], form=cfg["loss"]), z1, z2


class Contrastive:
    """The RS3L objective: NT-Xent between each nominal jet and one of its augmentations.

    An objective tells the loop which module it trains (``build``), where the backbone is in
    it, what else the checkpoint holds, how one batch gives a loss and which metrics it logs;
    :class:`train.pretrain.mpm.MaskedParticleModelling` is the other one.
    """

    name = "contrastive"
    jets_per_row = 2  # nominal + augmentation
    log_keys = ("loss", "cos_pos", "cos_neg", "alignment", "uniformity")
    loss_label = "NT-Xent loss"

    def __init__(self, cfg: dict, label_names: list[str], dim: int):
        self.cfg, self.label_names, self.dim = cfg, label_names, dim

    def build(self, backbone: torch.nn.Module) -> torch.nn.Module:
        return backbone

    def backbone(self, model: torch.nn.Module) -> torch.nn.Module:
        return unwrap(model)

    def prepare(self, model: torch.nn.Module, train: PairWindows) -> None:
        """Nothing to fit before training."""

    def checkpoint_extra(self, model: torch.nn.Module) -> dict:
        return {}

    def restore_extra(self, model: torch.nn.Module, checkpoint: dict, path: Path) -> None:
        if "mpm" in checkpoint:
            raise ConfigError(f"{path} is a masked-particle-modelling run: pretrain.objective "
                              f"contrastive cannot resume it")

    def stats(self, device: torch.device) -> EpochStats:
        return EpochStats(self.label_names, self.dim, device)

    def validation_generator(self) -> None:
        return None

    def step(self, model: torch.nn.Module, batch: PairBatch, stats: EpochStats,
             generator: None = None) -> torch.Tensor:
        loss, z1, z2 = contrastive_step(model, batch, self.cfg)
        stats.add(loss, z1, z2, batch.labels)
        return loss


def collapse_warning(row: dict, min_gap: float) -> str | None:
    """A warning when negative pairs are nearly as aligned as positive ones (a collapsing
    representation: every jet maps near one point), from an epoch's validation (else training)
    metrics; None when healthy or when the run logs no pair cosines (masked particle modelling).
    """
    split = "val" if "val_cos_pos" in row else "train"
    if f"{split}_cos_pos" not in row or f"{split}_cos_neg" not in row:
        return None
    pos, neg = row[f"{split}_cos_pos"], row[f"{split}_cos_neg"]
    if pos - neg >= min_gap:
        return None
    return (f"representation collapse? epoch {row.get('epoch', '?')}: {split} cosine of negative pairs "
            f"{neg:.3f} is within {min_gap:g} of the positive pairs' {pos:.3f} "
            f"(uniformity {row.get(f'{split}_uniformity', float('nan')):.2f}; pretrain.collapse_gap)")
