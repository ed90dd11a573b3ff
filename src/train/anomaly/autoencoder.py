"""Anomaly detection on a frozen backbone (seed 001 §5.5, Fig. 9): the pieces.

- the input: :func:`pooled_representation` of the frozen pre-trained backbone, the mean of its
  per-particle encodings (seed 001's *x*, ``hidden`` wide; the default) or their sum, or the
  backbone's output (8-d: the space the contrastive loss shapes).
- :class:`AutoEncoder`: encoder 128 → 64 → 32 → 24 → latent (20) and the mirrored decoder
  (seed 001's widths), on x standardised with the SM training jets' mean and spread (without
  centring, every jet's x points nearly the same way and the cosine would separate nothing).
  The latent must be narrower than x: otherwise the identity is reachable and every jet,
  dark or not, reconstructs (refused here and, from the config, at ``snakemake -n``).
- loss 1 − cos(x, z) (seed 001: better sensitivity than the squared error); the anomaly score
  of a jet is log(1 − cos(x, z)).
- :func:`resample_to`: dark jets resampled to the SM jets' (pT, η) distribution, as seed 001
  does, so that the score cannot separate them by their kinematics alone.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

log = logging.getLogger(__name__)

#: Seed 001: encoder widths and the central layer.
ENCODER = (128, 64, 32, 24)
LATENT = 20
#: log(1 - cos) of a perfectly reconstructed jet would be -inf.
_LOSS_FLOOR = 1e-12


@torch.no_grad()
def pooled_representation(backbone: nn.Module, features: Tensor, mask: Tensor,
                          reduce: str = "sum") -> Tensor:
    """(B, hidden) particle encodings of the backbone pooled over each jet's particles,
    ``reduce`` ``"sum"`` (its jet vector before the output MLP) or ``"mean"`` (seed 001's *x*:
    the sum's length grows with the particle count, to which the autoencoder's cosine is
    blind; the mean leaves the direction, what the cosine compares)."""
    return backbone.pool_particles(features, mask, reduce)


def _mlp(widths: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(widths) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    """x → standardise → encoder → 20 → decoder → z (compared with the standardised x)."""

    def __init__(self, dim: int, mean: Tensor, scale: Tensor, latent: int = LATENT):
        super().__init__()
        if latent >= dim:
            raise ValueError(f"autoencoder latent {latent} is not smaller than its input {dim}: "
                             f"the identity would be reachable (no bottleneck)")
        widths = (dim, *ENCODER, latent)
        self.encoder = _mlp(widths)
        self.decoder = _mlp(widths[::-1])
        self.register_buffer("mean", mean.clone())
        self.register_buffer("scale", scale.clone())

    @classmethod
    def for_inputs(cls, x: Tensor, latent: int = LATENT) -> AutoEncoder:
        """An autoencoder standardising with ``x``'s (the SM training jets') statistics."""
        return cls(x.shape[1], x.mean(0), x.std(0).clamp_min(1e-6), latent)

    def standardise(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.scale

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(standardised input, reconstruction)."""
        s = self.standardise(x)
        return s, self.decoder(F.elu(self.encoder(s)))

    def loss(self, x: Tensor) -> Tensor:
        """Per-jet reconstruction loss 1 − cos(x, z)."""
        s, z = self(x)
        return 1.0 - F.cosine_similarity(s, z, dim=1)

    @torch.no_grad()
    def score(self, x: Tensor, batch_size: int = 4096) -> np.ndarray:
        """Anomaly score log(1 − cos(x, z)) per jet (higher: more anomalous)."""
        self.eval()
        parts = [self.loss(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        loss = torch.cat(parts) if parts else x.new_zeros(0)
        return torch.log(loss.clamp_min(_LOSS_FLOOR)).cpu().numpy()


def train_autoencoder(train_x: Tensor, val_x: Tensor, epochs: int, batch_size: int, lr: float,
                      seed: int, patience: int = 0, latent: int = LATENT
                      ) -> tuple[AutoEncoder, list[dict]]:
    """Train on SM representations only; keep the epoch with the lowest validation loss."""
    torch.manual_seed(seed)
    model = AutoEncoder.for_inputs(train_x, latent).to(train_x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    history, best, best_state = [], None, None
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.from_numpy(rng.permutation(len(train_x))).to(train_x.device)
        total = 0.0
        for start in range(0, len(order), batch_size):
            loss = model.loss(train_x[order[start:start + batch_size]]).sum()
            optimizer.zero_grad()
            (loss / min(batch_size, len(order) - start)).backward()
            optimizer.step()
            total += float(loss.detach())
        model.eval()
        with torch.no_grad():
            val = float(model.loss(val_x).mean())
        history.append({"epoch": epoch, "train_loss": total / len(train_x), "val_loss": val})
        log.info("autoencoder epoch %d: train %.5f val %.5f", epoch, history[-1]["train_loss"], val)
        if best is None or val < best["val_loss"]:
            best, best_state = history[-1], copy.deepcopy(model.state_dict())
        elif patience and epoch - best["epoch"] >= patience:
            break
    model.load_state_dict(best_state)
    return model.eval(), history


def kinematic_bins(pt: np.ndarray, eta: np.ndarray, n_pt: int = 10, n_eta: int = 6
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges in pT (quantiles of ``pt``) and η (uniform over ``eta``'s range)."""
    pt_edges = np.unique(np.quantile(pt, np.linspace(0, 1, n_pt + 1)))
    eta_edges = np.linspace(eta.min(), eta.max(), n_eta + 1)
    pt_edges[0], pt_edges[-1] = -np.inf, np.inf
    eta_edges[0], eta_edges[-1] = -np.inf, np.inf
    return pt_edges, eta_edges


def _cell(pt: np.ndarray, eta: np.ndarray, edges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    i = np.clip(np.searchsorted(edges[0], pt, side="right") - 1, 0, len(edges[0]) - 2)
    j = np.clip(np.searchsorted(edges[1], eta, side="right") - 1, 0, len(edges[1]) - 2)
    return i * (len(edges[1]) - 1) + j


def resample_to(pt: np.ndarray, eta: np.ndarray, ref_pt: np.ndarray, ref_eta: np.ndarray,
                n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` jets drawn with replacement from (pt, eta) with weights
    reference density / own density per (pT, η) cell: the drawn jets follow the reference's
    (pT, η) distribution wherever the jets have any. Cells the jets do not populate stay empty
    (their reference share is logged)."""
    edges = kinematic_bins(ref_pt, ref_eta)
    n_cells = (len(edges[0]) - 1) * (len(edges[1]) - 1)
    own, ref = _cell(pt, eta, edges), _cell(ref_pt, ref_eta, edges)
    own_frac = np.bincount(own, minlength=n_cells) / len(own)
    ref_frac = np.bincount(ref, minlength=n_cells) / len(ref)
    uncovered = ref_frac[own_frac == 0].sum()
    if uncovered > 0:
        log.info("resampling: %.1f%% of the reference lies in (pT, eta) cells without jets to "
                 "draw", 100 * uncovered)
    weight = ref_frac[own] / own_frac[own]
    if weight.sum() == 0:
        raise ValueError("no jet lies in the reference's (pT, eta) range")
    return np.sort(rng.choice(len(pt), size=n, replace=True, p=weight / weight.sum()))
