"""Tagging heads on a backbone's jet representation (seed 000 §II.D; authors' code, digest §6).

The head acts on the L2-normalised backbone output, the space the contrastive loss shapes; or,
for a masked-particle-modelling backbone in the ``fixed`` mode (``representation="mean"``), on the
mean of its per-particle encodings, seed 004's linear probe: MPM trains the particle encoder
only, so its jet head (the 8-d output) is still at its random initial weights and a probe of it
would measure nothing about the representation.
``linear`` is the paper's head (one Linear(8 → 1)); ``mlp`` is the 5-layer head
8 → 128 → 64 → 32 → 8 → 1 that also exists in the authors' code. Both output a logit; the
sigmoid is applied by :meth:`Tagger.predict` (training uses ``BCEWithLogitsLoss``, the
numerically stable form of sigmoid + BCE).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

HEADS = ("linear", "mlp")
#: What the head reads: the backbone's output, or the mean of its per-particle encodings.
REPRESENTATIONS = ("output", "mean")
MODES = ("fixed", "floating", "lora", "supervised")

_MLP_WIDTHS = (128, 64, 32, 8)


def make_head(kind: str, dim: int) -> nn.Module:
    """A head mapping the ``dim``-d representation to one logit."""
    if kind == "linear":
        return nn.Linear(dim, 1)
    if kind == "mlp":
        layers: list[nn.Module] = []
        widths = (dim, *_MLP_WIDTHS)
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ELU()]
        return nn.Sequential(*layers, nn.Linear(widths[-1], 1))
    raise ValueError(f"unknown head {kind!r}; known: {', '.join(HEADS)}")


class Tagger(nn.Module):
    """Backbone → L2 normalisation → head → logit.

    With ``frozen=True`` (the ``fixed`` mode) the backbone's parameters do not require
    gradients and the backbone stays in eval mode even when the tagger is put in training mode,
    so neither the optimiser nor any train-time behaviour of its layers can change it.
    """

    def __init__(self, backbone: nn.Module, dim: int, head: str = "linear", frozen: bool = False,
                 representation: str = "output"):
        super().__init__()
        if representation not in REPRESENTATIONS:
            raise ValueError(f"tagger representation {representation!r}: one of {REPRESENTATIONS}")
        self.backbone = backbone
        self.head = make_head(head, dim)
        self.frozen = frozen
        self.representation = representation
        if frozen:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> Tagger:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def embed(self, features: Tensor, mask: Tensor) -> Tensor:
        """The representation the head reads (B, dim): the L2-normalised output, or the mean
        of the per-particle encodings (seed 004's probe: as it is, no normalisation)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            if self.representation == "mean":
                return self.backbone.pool_particles(features, mask, "mean")
            return F.normalize(self.backbone(features, mask), dim=1)

    def classify(self, representation: Tensor) -> Tensor:
        """Logits (B,) from an L2-normalised representation (B, dim)."""
        return self.head(representation).squeeze(1)

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        return self.classify(self.embed(features, mask))

    @torch.no_grad()
    def predict(self, features: Tensor, mask: Tensor) -> Tensor:
        """Sigmoid scores in [0, 1]."""
        return torch.sigmoid(self(features, mask))
