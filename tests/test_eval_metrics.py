"""Metrics against analytic answers on synthetic scores."""

from __future__ import annotations

import numpy as np
import pytest

from train.evaluate import metrics


def _quantiles(n: int) -> np.ndarray:
    """n evenly spaced probabilities: a deterministic, noise-free 'sample' of U(0, 1)."""
    return (np.arange(n) + 0.5) / n


def test_rejection_matches_analytic_roc():
    # Background ~ U(0,1); signal ~ density 2s on [0,1] (s = sqrt(u)).
    # Threshold t: eps_S = 1 - t^2, eps_B = 1 - t, so eps_B(e) = 1 - sqrt(1 - e).
    n = 200_000
    u = _quantiles(n)
    scores = np.concatenate([np.sqrt(u), u])
    labels = np.concatenate([np.ones(n), np.zeros(n)])
    eff = np.array(metrics.EFFICIENCIES)
    expected = 1.0 / (1.0 - np.sqrt(1.0 - eff))
    np.testing.assert_allclose(metrics.rejection_at(labels, scores), expected, rtol=1e-3)


def test_rejection_interpolates_between_roc_points():
    scores = np.array([0.9, 0.6, 0.7, 0.1])
    labels = np.array([1, 1, 0, 0])
    # ROC points (eps_S, eps_B) by threshold: 0.9 -> (0.5, 0); 0.7 -> (0.5, 0.5); 0.6 -> (1, 0.5);
    # 0.1 -> (1, 1). At eps_S = 0.5 the best point is eps_B = 0 (rejection inf); at 0.75 mixing the
    # working points (0.5, 0) and (1, 0.5) half and half gives eps_B = 0.25.
    eps_b = metrics.background_efficiency_at(labels, scores, (0.25, 0.5, 0.75))
    np.testing.assert_allclose(eps_b, [0.0, 0.0, 0.25])
    assert np.isinf(metrics.rejection_at(labels, scores, (0.5,))[0])


def test_all_tied_scores_give_the_random_classifier():
    labels = np.array([1] * 30 + [0] * 70)
    scores = np.full(100, 0.42)
    np.testing.assert_allclose(metrics.rejection_at(labels, scores), 1.0 / np.array(metrics.EFFICIENCIES))
    assert metrics.auc(labels, scores) == pytest.approx(0.5)


def test_partial_ties_are_one_straight_segment():
    # Half the signal and half the background tie at 0.5; the rest are perfectly separated.
    labels = np.array([1, 1, 0, 0])
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    # ROC: (0,0) -> (0.5,0) -> [tie] (1,0.5) -> (1,1). At eps_S = 0.7: eps_B = 0.2.
    np.testing.assert_allclose(metrics.background_efficiency_at(labels, scores, (0.7,)), [0.2])


def test_roc_needs_both_classes():
    with pytest.raises(ValueError, match="both signal and background"):
        metrics.roc(np.ones(5), np.arange(5.0))


def test_wasserstein_of_shift_and_scale():
    u = _quantiles(100_000)
    assert metrics.wasserstein(u, u + 0.03) == pytest.approx(0.03, rel=1e-9)
    # U(0,1) vs U(0,a): integral of |p - a p| dp = (1 - a) / 2.
    assert metrics.wasserstein(u, 0.6 * u) == pytest.approx(0.2, rel=1e-6)
    by_view = metrics.view_wasserstein({"nominal": u, "fsr_up": u + 0.01, "seed": u})
    assert by_view == pytest.approx({"fsr_up": 0.01, "seed": 0.0})


def test_n2_score_orientation_and_common_scale():
    rng = np.random.default_rng(1)
    labels = np.concatenate([np.ones(500), np.zeros(500)])
    n2 = np.concatenate([rng.uniform(0.0, 0.3, 500), rng.uniform(0.2, 0.5, 500)])  # signal: small N2
    shifted = n2 + 0.05
    shifted[3] = np.nan
    scores, sign = metrics.n2_scores({"nominal": n2, "fsr_up": shifted}, labels)
    assert sign == -1
    assert metrics.auc(labels, scores["nominal"]) > 0.9
    assert scores["nominal"].min() > 0 and scores["nominal"].max() == 1.0
    assert scores["fsr_up"][3] == 0.0  # undefined N2: least signal-like
    # A shift of every jet towards background moves every score down (same map for all views).
    finite = np.isfinite(shifted)
    assert np.all(scores["fsr_up"][finite] <= scores["nominal"][finite])
    _, flipped = metrics.n2_scores({"nominal": -n2}, labels)
    assert flipped == 1


def test_balanced_rows():
    labels = np.array([1] * 10 + [0] * 90)
    rows = metrics.balanced_rows(labels, np.random.default_rng(0))
    assert np.all(np.diff(rows) > 0)
    assert labels[rows].sum() == 10 and len(rows) == 20


def test_knn_accuracy_on_separated_clusters():
    rng = np.random.default_rng(2)
    centres = np.eye(8)[:3] * 5
    classes = rng.integers(0, 3, 900)
    emb = centres[classes] + rng.normal(0, 1.0, (900, 8))
    emb[classes == 2] = centres[2] + rng.normal(0, 4.0, ((classes == 2).sum(), 8))  # a fuzzy class
    out = metrics.knn_accuracy(emb, classes, ks=(1, 5, 25), fractions=(0.5, 0.25, 0.25), rng=rng)
    assert out["n_reference"] + out["n_tuning"] + out["n_evaluation"] == 900
    assert out["accuracy"] > 0.9
    assert out["per_class"]["0"]["accuracy"] > out["per_class"]["2"]["accuracy"]
    assert sum(c["fraction"] for c in out["per_class"].values()) == pytest.approx(1.0)
    # A representation without information classifies at chance level.
    noise = metrics.knn_accuracy(rng.normal(size=(900, 8)), classes, ks=(25,), fractions=(0.5, 0.25, 0.25),
                                 rng=rng)
    assert noise["accuracy"] < 0.5


def test_split_three_is_disjoint_and_complete():
    a, b, c = metrics.split_three(101, (0.5, 0.3, 0.2), np.random.default_rng(0))
    assert sorted(np.concatenate([a, b, c]).tolist()) == list(range(101))
    with pytest.raises(ValueError):
        metrics.split_three(10, (0.5, 0.5, 0.5), np.random.default_rng(0))
