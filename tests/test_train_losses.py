"""NT-Xent in both forms against slow references written from the formulas."""

from __future__ import annotations

import math

import pytest
import torch

from train.pretrain.losses import nt_xent


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def reference_simclr(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> float:
    """Seed 001 eq. 1: 1/(2N) sum_k [l(2k-1, 2k) + l(2k, 2k-1)], positives interleaved."""
    y = [v for pair in zip(z1, z2) for v in pair]
    n2 = len(y)

    def ell(i: int, j: int) -> float:
        den = sum(math.exp(cosine(y[i], y[k]) / tau) for k in range(n2) if k != i)
        return -math.log(math.exp(cosine(y[i], y[j]) / tau) / den)

    return sum(ell(2 * k, 2 * k + 1) + ell(2 * k + 1, 2 * k) for k in range(n2 // 2)) / n2


def reference_paper(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> float:
    """Seed 000 eq. 2 as printed: anchors z_i, negatives only (j != i) in the denominator."""
    n = len(z1)
    total = 0.0
    for i in range(n):
        den = sum(math.exp(cosine(z1[i], z1[j]) / tau) + math.exp(cosine(z1[i], z2[j]) / tau)
                  for j in range(n) if j != i)
        total += -math.log(math.exp(cosine(z1[i], z2[i]) / tau) / den)
    return total / n


@pytest.mark.parametrize("tau", [0.1, 0.5])
@pytest.mark.parametrize("form, reference", [("simclr", reference_simclr), ("paper", reference_paper)])
def test_nt_xent_matches_formula(form, reference, tau):
    g = torch.Generator().manual_seed(3)
    z1, z2 = (torch.randn(7, 8, generator=g, dtype=torch.float64) for _ in range(2))
    z2 = z2 * 3.0  # cosine similarity: the norms must not matter
    assert float(nt_xent(z1, z2, tau=tau, form=form)) == pytest.approx(reference(z1, z2, tau), rel=1e-10)


def test_simclr_is_symmetric_and_paper_is_not():
    g = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    assert float(nt_xent(z1, z2)) == pytest.approx(float(nt_xent(z2, z1)), rel=1e-6)
    assert float(nt_xent(z1, z2, form="paper")) != pytest.approx(float(nt_xent(z2, z1, form="paper")))


def test_aligned_pairs_give_lower_loss_and_gradients_flow():
    g = torch.Generator().manual_seed(5)
    z1 = torch.randn(10, 8, generator=g, requires_grad=True)
    noisy = torch.randn(10, 8, generator=g)
    close = nt_xent(z1, z1.detach() + 0.01 * noisy)
    far = nt_xent(z1, noisy)
    assert close.item() < far.item()
    far.backward()
    assert torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0


def test_unknown_form_is_refused():
    with pytest.raises(ValueError, match="simclr"):
        nt_xent(torch.ones(2, 3), torch.ones(2, 3), form="dcl")
