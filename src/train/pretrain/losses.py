"""NT-Xent contrastive loss on (nominal, augmented) jet representations."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

LOSS_FORMS = ("simclr", "paper")


def nt_xent(z1: Tensor, z2: Tensor, tau: float = 0.1, form: str = "simclr") -> Tensor:
    """NT-Xent of B positive pairs (z1[i], z2[i]); every other jet of the batch is a negative.

    ``form="simclr"`` (the authors' code, SimCLR; seed 001 eq. 1): cosine similarities of all 2B
    vectors, each of the 2B vectors is an anchor whose denominator sums over every other vector
    (its positive included); mean over the 2B anchors.
    ``form="paper"`` (seed 000 eq. 2 as printed): anchors are the nominal jets z1[i] only; the
    denominator sums over the negatives only, exp(s(z_i, z_j)/τ) + exp(s(z_i, z'_j)/τ) for
    j ≠ i; mean over the B anchors.
    """
    if form not in LOSS_FORMS:
        raise ValueError(f"loss form must be one of {LOSS_FORMS}, not {form!r}")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T) / tau
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    partner = torch.arange(2 * n, device=z.device).roll(n)  # i <-> i + B
    if form == "simclr":
        return F.cross_entropy(sim.masked_fill(eye, float("-inf")), partner)
    anchors = sim[:n]
    negatives = anchors.masked_fill(eye[:n] | eye[:n].roll(n, dims=1), float("-inf"))
    positive = anchors.diagonal(offset=n)
    return (torch.logsumexp(negatives, dim=1) - positive).mean()
