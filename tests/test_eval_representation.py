"""Representation statistics on synthetic embeddings with known structure."""

from __future__ import annotations

import numpy as np
import pytest

from train.evaluate import representation


def test_most_discriminating_dimension_finds_the_shifted_coordinate():
    rng = np.random.default_rng(3)
    target = np.repeat([1, 0], 500)
    emb = rng.normal(size=(1000, 8))
    emb[target == 1, 3] -= 1.5  # signal lower in z[3]: discriminating whatever the sign
    emb[target == 1, 6] += 0.3
    assert representation.most_discriminating_dimension(emb, target) == 3
    power = representation.discriminating_power(emb, target)
    assert power[3] > power[6] > max(np.delete(power, [3, 6]))


def test_pearson_per_class_recovers_built_in_correlations():
    rng = np.random.default_rng(4)
    n = 4000
    classes = np.repeat([0, 1], n // 2)
    emb = rng.normal(size=(n, 8))
    a = classes == 1
    emb[a, 2] = 0.5 * emb[a, 1] + np.sqrt(1 - 0.25) * emb[a, 2]  # r = 0.5 in class 1 only
    corr = representation.pearson_by_class(emb, classes)
    assert corr[1][1, 2] == pytest.approx(0.5, abs=0.05)
    assert abs(corr[0][1, 2]) < 0.1
    assert representation.max_abs_offdiagonal(corr[1]) == pytest.approx(corr[1][1, 2])


def test_tsne_keeps_separated_clusters_apart():
    rng = np.random.default_rng(5)
    emb = np.concatenate([rng.normal(0, 0.05, (40, 8)), rng.normal(0, 0.05, (40, 8)) + 1.0])
    points = representation.tsne(emb, seed=1, perplexity=30)
    assert points.shape == (80, 2)
    centre_a, centre_b = points[:40].mean(0), points[40:].mean(0)
    spread = max(points[:40].std(0).max(), points[40:].std(0).max())
    assert np.linalg.norm(centre_a - centre_b) > 3 * spread
