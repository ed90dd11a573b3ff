"""Pieces every backbone shares: the ELU MLPs and the jet head (sum pool + MLP to 8-d)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

#: Where the head's MLP sits relative to the sum pool: after it (the authors' code and
#: checkpoint) or before it, per particle (the paper's eq. 1).
HEAD_ORDERS = ("pool_mlp", "mlp_pool")


def elu_mlp(widths: Sequence[int], final_activation: bool) -> nn.Sequential:
    """Linear layers ``widths[0] → widths[1] → …`` with ELU between (and after, if asked)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if final_activation or i < len(widths) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


def trim_padding(x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Drop the trailing slots that are padding in every jet (the loader pads to 100)."""
    used = int(mask.any(0).nonzero().max()) + 1 if mask.any() else 1
    return x[:, :used], mask[:, :used]


def flatten_jets(x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Dense (B, N, C) + mask → PyG form: real particles (n, C) and their jet index (n,)."""
    batch = torch.arange(mask.shape[0], device=mask.device).unsqueeze(1).expand_as(mask)
    return x[mask], batch[mask]


def to_dense(x: Tensor, mask: Tensor, width: int) -> Tensor:
    """Per-particle values ``x`` (n, C) of the real particles of ``mask`` (B, N') → (B, width, C),
    zero on padding (``width`` ≥ N': the untrimmed width of the input)."""
    dense = x.new_zeros(mask.shape[0], width, x.shape[1])
    dense[:, : mask.shape[1]][mask] = x
    return dense


def sum_pool(x: Tensor, batch: Tensor, n_jets: int) -> Tensor:
    """Sum of the node rows ``x`` (n, C) of each jet (``batch``: the jet of every node), (n_jets, C).

    PyG's ``global_add_pool``, without importing torch_geometric (≈ 1.7 s of every job's start).
    """
    return x.new_zeros(n_jets, x.shape[1]).index_add_(0, batch, x)


class JetHead(nn.Module):
    """Global sum pool of the particles and the MLP 128 → 64 → 32 → 32 → 8 (linear output)."""

    def __init__(self, hidden: int, widths: Sequence[int], order: str):
        super().__init__()
        if order not in HEAD_ORDERS:
            raise ValueError(f"head_order must be one of {HEAD_ORDERS}, not {order!r}")
        self.order = order
        self.mlp = elu_mlp([hidden, *widths], final_activation=False)

    def forward(self, x: Tensor, batch: Tensor, n_jets: int) -> Tensor:
        if self.order == "mlp_pool":
            return sum_pool(self.mlp(x), batch, n_jets)
        return self.mlp(sum_pool(x, batch, n_jets))


class JetBackbone(nn.Module):
    """A per-particle encoder (``_encode``) followed by the jet head ``self.head``.

    ``forward`` gives the jet representation (B, out); ``encode_particles`` the per-particle
    encodings before the head (what masked particle modelling trains).
    """

    head: JetHead

    def _encode(self, features: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(particle encodings (n, hidden), their jet index (n,), trimmed mask (B, N'))."""
        raise NotImplementedError

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        x, batch, mask = self._encode(features, mask)
        return self.head(x, batch, mask.shape[0])

    def pool_particles(self, features: Tensor, mask: Tensor, reduce: str = "sum") -> Tensor:
        """(B, hidden) the particle encodings summed (``"sum"``: the head's input) or averaged
        (``"mean"``: what seed 001's autoencoder and seed 004's linear probe read) per jet."""
        x, batch, trimmed = self._encode(features, mask)
        pooled = sum_pool(x, batch, trimmed.shape[0])
        if reduce == "mean":
            return pooled / trimmed.sum(1, keepdim=True).clamp_min(1).to(pooled.dtype)
        if reduce != "sum":
            raise ValueError(f"pool_particles: reduce {reduce!r} is not 'sum' or 'mean'")
        return pooled

    def encode_particles(self, features: Tensor, mask: Tensor) -> Tensor:
        """(B, N, hidden) encodings of the particles (zero on padding), without the jet head."""
        x, _, trimmed = self._encode(features, mask)
        return to_dense(x, trimmed, mask.shape[1])
