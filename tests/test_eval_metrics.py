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


def test_rejection_reads_the_step_roc_without_interpolation():
    scores = np.array([0.9, 0.6, 0.7, 0.1])
    labels = np.array([1, 1, 0, 0])
    # Thresholds from the top: 0.9 passes (1 sig, 0 bkg); 0.7 (1, 1); 0.6 (2, 1); 0.1 (2, 2).
    # eps_S = 0.25 and 0.5 are reached at 0.9 (no background: the bound N_bkg = 2); 0.75 first at
    # 0.6, where one of the two background jets passes (eps_B = 0.5, no mixing of working points).
    points = metrics.working_points(labels, scores, (0.25, 0.5, 0.75))
    assert [(p.n_pass, p.n_background, p.bound) for p in points] == [(0, 2, True), (0, 2, True),
                                                                      (1, 2, False)]
    np.testing.assert_allclose(metrics.rejection_at(labels, scores, (0.25, 0.5, 0.75)), [2, 2, 2])
    np.testing.assert_allclose(metrics.background_efficiency_at(labels, scores, (0.75,)), [0.5])


def test_a_perfect_tagger_is_bounded_by_the_background_count():
    # 250 background jets, none passing at any signal efficiency: rejection > 250, never inf.
    labels = np.array([1] * 100 + [0] * 250)
    scores = np.concatenate([np.linspace(0.6, 1.0, 100), np.linspace(0.0, 0.5, 250)])
    points = metrics.working_points(labels, scores)
    assert all(p.bound and p.n_pass == 0 and p.rejection == 250 for p in points)
    assert np.all(np.isfinite(metrics.rejection_at(labels, scores)))


def test_working_point_counts_match_a_hand_count():
    # Signal at 10..19, background at 0..29 (scores = value / 100). eps_S = 0.3 of 10 signal jets:
    # the top 3 signal (>= 0.17) let the 13 background jets 0.17..0.29 through.
    labels = np.array([1] * 10 + [0] * 30)
    scores = np.concatenate([np.arange(10, 20), np.arange(30)]) / 100
    (point,) = metrics.working_points(labels, scores, (0.3,))
    assert (point.n_pass, point.n_background) == (13, 30)
    assert point.rejection == pytest.approx(30 / 13)


def test_bootstrap_interval_covers_the_binomial_spread():
    # eps_B = 0.1 exactly on 2000 background jets: the resampled rejections scatter around 10
    # with the binomial width sqrt(0.1 * 0.9 / 2000) / 0.1**2 ~ 0.67 (the signal cut is fixed by
    # the signal-free gap, so only the background count varies).
    rng = np.random.default_rng(3)
    labels = np.array([1] * 1000 + [0] * 2000)
    bkg = np.where(np.arange(2000) < 200, 0.8, 0.2)  # 200 background jets among the signal
    scores = np.concatenate([np.full(1000, 0.8), bkg])
    (point,) = metrics.working_points(labels, scores, (0.5,))
    assert point.rejection == pytest.approx(10.0)
    weights = metrics.bootstrap_weights(len(labels), 400, rng)
    boot = metrics.bootstrap_rejection(labels, scores, weights, (0.5,))[0]
    assert boot.shape == (400,)
    assert np.mean(boot) == pytest.approx(10.0, rel=0.03)
    assert np.std(boot) == pytest.approx(0.1**-2 * np.sqrt(0.1 * 0.9 / 2000), rel=0.25)


def test_tied_scores_are_one_cut():
    # Every jet ties: the only cut that keeps any signal keeps everything, eps_B = 1.
    labels = np.array([1] * 30 + [0] * 70)
    np.testing.assert_allclose(metrics.rejection_at(labels, np.full(100, 0.42)), [1, 1, 1])
    assert metrics.auc(labels, np.full(100, 0.42)) == pytest.approx(0.5)


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


def test_resampled_wasserstein_is_scipys_weighted_distance_and_its_spread():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(5)
    n = 4000
    nominal = rng.random(n)
    view = np.clip(nominal + rng.normal(0.02, 0.05, n), 0, 1)  # each jet shifted a little
    weights = metrics.bootstrap_weights(n, 300, rng)
    boot = metrics.bootstrap_wasserstein(nominal, view, weights)
    for k in (0, 7, 299):
        assert boot[k] == pytest.approx(wasserstein_distance(nominal, view, weights[k], weights[k]),
                                        rel=1e-12)
    ones = metrics.bootstrap_wasserstein(nominal, view, np.ones((1, n)))
    assert ones[0] == pytest.approx(metrics.wasserstein(nominal, view), rel=1e-12)
    # the resampled values scatter around the full-sample distance, and their spread shrinks
    # as 1/sqrt(n): a quarter of the jets, twice the spread (within sampling noise)
    full = metrics.wasserstein(nominal, view)
    assert np.mean(boot) == pytest.approx(full, rel=0.05)
    quarter = metrics.bootstrap_wasserstein(nominal[: n // 4], view[: n // 4],
                                            metrics.bootstrap_weights(n // 4, 300, rng))
    assert np.std(quarter) / np.std(boot) == pytest.approx(2.0, rel=0.3)


def test_n2_score_orientation_and_common_scale():
    rng = np.random.default_rng(1)
    labels = np.concatenate([np.ones(500), np.zeros(500)])
    n2 = np.concatenate([rng.uniform(0.0, 0.3, 500), rng.uniform(0.2, 0.5, 500)])  # signal: small N2
    shifted = n2 + 0.05
    shifted[3] = np.nan
    scores, sign = metrics.n2_scores({"nominal": n2, "fsr_up": shifted}, n2, labels)
    assert sign == -1
    assert metrics.auc(labels, scores["nominal"]) > 0.9
    assert scores["nominal"].min() > 0 and scores["nominal"].max() == 1.0
    assert scores["fsr_up"][3] == 0.0  # undefined N2: least signal-like
    # A shift of every jet towards background moves every score down (same map for all views).
    finite = np.isfinite(shifted)
    assert np.all(scores["fsr_up"][finite] <= scores["nominal"][finite])
    _, flipped = metrics.n2_scores({"nominal": -n2}, -n2, labels)
    assert flipped == 1


def test_n2_map_comes_from_the_reference_sample_not_the_scored_one():
    # Reference (validation): signal has small N2. Scored (test): the opposite, as if the test
    # split were mislabelled; the orientation must still be the reference's (-N2).
    rng = np.random.default_rng(4)
    labels = np.concatenate([np.ones(300), np.zeros(300)])
    reference = np.concatenate([rng.uniform(0.0, 0.3, 300), rng.uniform(0.2, 0.5, 300)])
    test = reference[::-1].copy()
    scores, sign = metrics.n2_scores({"nominal": test}, reference, labels)
    assert sign == -1
    assert metrics.auc(labels, scores["nominal"]) < 0.2
    # The scale is the reference's CDF: a test jet at the reference median scores 0.5.
    median = np.median(reference)
    half, _ = metrics.n2_scores({"nominal": np.array([median])}, reference, labels)
    assert half["nominal"][0] == pytest.approx(0.5, abs=0.01)


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


def test_bootstrap_auc_is_the_auc_of_the_resampled_sets():
    rng = np.random.default_rng(5)
    labels = np.r_[np.zeros(300), np.ones(200)]
    scores = rng.normal(labels, 1.0)
    weights = metrics.bootstrap_weights(len(labels), 50, rng)
    got = metrics.bootstrap_auc(labels, scores, weights)
    for b in (0, 17, 49):  # the same as expanding each resampling into its copies
        rows = np.repeat(np.arange(len(labels)), weights[b])
        assert np.isclose(got[b], metrics.auc(labels[rows], scores[rows]))
    # its spread is the AUC's standard error: ~ sqrt(AUC (1 - AUC) / min(n_s, n_b)) order
    assert 0.005 < got.std() < 0.05 and abs(got.mean() - metrics.auc(labels, scores)) < 0.01
