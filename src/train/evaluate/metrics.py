"""Classifier and representation metrics of seed 000 §III and seed 001 §5.2.

All functions take plain numpy arrays so they can be checked against analytic answers:
``labels`` are 1 for signal and 0 for background, ``scores`` grow with signal-likeness.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import KNeighborsClassifier

#: Signal efficiencies of the seed's rejection tables (Table II / IV).
EFFICIENCIES = (0.3, 0.5, 0.7)


def roc(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(signal efficiency, background efficiency) at every distinct threshold, from (0, 0) to (1, 1).

    Tied scores form one point (``sklearn.metrics.roc_curve`` groups them), so a tie is a
    straight segment of the curve, which is what a random tie-break would give on average.
    """
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("a ROC curve needs both signal and background jets")
    fpr, tpr, _ = roc_curve(labels, np.asarray(scores, dtype=np.float64), drop_intermediate=False)
    return tpr, fpr


def background_efficiency_at(labels: np.ndarray, scores: np.ndarray,
                             efficiencies: tuple[float, ...] | np.ndarray = EFFICIENCIES) -> np.ndarray:
    """Background efficiency ε_B at each signal efficiency ε_S, interpolated linearly on the ROC.

    Linear interpolation between two ROC points is the working point a randomised threshold
    between them achieves. Where the curve is flat in ε_S (several thresholds with the same
    signal efficiency), the smallest ε_B, the best achievable one, is taken.
    """
    tpr, fpr = roc(labels, scores)
    # fpr is non-decreasing along the curve, so the first point of each tpr value has the least fpr.
    tpr_unique, first = np.unique(tpr, return_index=True)
    return np.interp(np.asarray(efficiencies, dtype=np.float64), tpr_unique, fpr[first])


def rejection_at(labels: np.ndarray, scores: np.ndarray,
                 efficiencies: tuple[float, ...] | np.ndarray = EFFICIENCIES) -> np.ndarray:
    """Background rejection 1/ε_B at each signal efficiency; ``inf`` where no background passes."""
    eps_b = background_efficiency_at(labels, scores, efficiencies)
    with np.errstate(divide="ignore"):
        return 1.0 / eps_b


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (0.5: no discrimination)."""
    return float(roc_auc_score(np.asarray(labels).astype(bool), scores))


def wasserstein(reference: np.ndarray, other: np.ndarray) -> float:
    """1-D Wasserstein-1 distance between two unbinned score samples (``scipy``)."""
    return float(wasserstein_distance(np.ravel(reference), np.ravel(other)))


def view_wasserstein(scores_by_view: dict[str, np.ndarray], reference: str = "nominal") -> dict[str, float]:
    """Wasserstein distance between the reference view's scores and every other view's."""
    ref = scores_by_view[reference]
    return {view: wasserstein(ref, s) for view, s in scores_by_view.items() if view != reference}


def balanced_rows(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices with equal numbers of signal and background (the larger class subsampled).

    The seed computes the W-vs-QCD Wasserstein distances on such a sample (Table V); using it for
    every task keeps the distances independent of the test set's class fractions.
    """
    labels = np.asarray(labels).astype(bool)
    sig, bkg = np.flatnonzero(labels), np.flatnonzero(~labels)
    n = min(len(sig), len(bkg))
    keep = np.concatenate([rng.choice(sig, n, replace=False), rng.choice(bkg, n, replace=False)])
    return np.sort(keep)


def n2_scores(n2_by_view: dict[str, np.ndarray], labels: np.ndarray,
              reference: str = "nominal") -> tuple[dict[str, np.ndarray], int]:
    """Turn the N2 observable into a [0, 1] tagger score, the same map for every view.

    Orientation: ``-N2`` (two-prong jets have small N2) unless ``+N2`` discriminates better on
    the reference view; the sign is returned (-1 or +1). Scale: the empirical CDF of the
    reference view's mixed (signal + background) sample, applied to every view, so the score
    is the fraction of reference jets less signal-like, and Wasserstein distances between views
    are on the same [0, 1] scale as the networks' sigmoid outputs. Non-finite N2 (jets too small
    to define it) count as the least signal-like value.
    """
    raw = {v: np.asarray(x, dtype=np.float64) for v, x in n2_by_view.items()}
    sign = -1 if auc(labels, _oriented(raw[reference], -1)) >= 0.5 else 1
    oriented = {v: _oriented(x, sign) for v, x in raw.items()}
    ecdf = np.sort(oriented[reference])
    return {v: np.searchsorted(ecdf, x, side="right") / len(ecdf) for v, x in oriented.items()}, sign


def _oriented(n2: np.ndarray, sign: int) -> np.ndarray:
    out = sign * n2
    # The lowest finite double rather than -inf: sklearn rejects infinite scores.
    out[~np.isfinite(out)] = -np.finfo(np.float64).max
    return out


def split_three(n: int, fractions: tuple[float, float, float],
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint (reference, tuning, evaluation) row sets of ``n`` rows, in the given fractions."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise ValueError(f"kNN split fractions must be positive and sum to 1, got {fractions}")
    order = rng.permutation(n)
    cut1 = int(round(fractions[0] * n))
    cut2 = cut1 + int(round(fractions[1] * n))
    return order[:cut1], order[cut1:cut2], order[cut2:]


def knn_accuracy(embedding: np.ndarray, classes: np.ndarray, ks: tuple[int, ...] | list[int],
                 fractions: tuple[float, float, float], rng: np.random.Generator) -> dict:
    """kNN classification in the representation space, as seed 001 §5.2.

    Three disjoint subsets: the reference jets are the neighbours, the tuning jets choose k from
    ``ks`` (best accuracy), and the evaluation jets give the quoted accuracy, overall and per
    class (fraction of each class classified correctly) with each class's share of the data.
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    classes = np.asarray(classes)
    ref, tune, ev = split_three(len(classes), fractions, rng)
    usable = [k for k in ks if k <= len(ref)]
    if not usable:
        raise ValueError(f"kNN: {len(ref)} reference jets are fewer than every k in {list(ks)}")
    tuning = {}
    for k in usable:
        model = KNeighborsClassifier(n_neighbors=k).fit(embedding[ref], classes[ref])
        tuning[k] = float(np.mean(model.predict(embedding[tune]) == classes[tune]))
    best_k = max(usable, key=lambda k: (tuning[k], -k))
    model = KNeighborsClassifier(n_neighbors=best_k).fit(embedding[ref], classes[ref])
    correct = model.predict(embedding[ev]) == classes[ev]
    per_class = {}
    for c in np.unique(classes):
        in_c = classes[ev] == c
        per_class[str(c)] = {"accuracy": float(np.mean(correct[in_c])) if in_c.any() else float("nan"),
                             "fraction": float(np.mean(classes == c))}
    return {"k": int(best_k), "accuracy": float(np.mean(correct)),
            "tuning": {str(k): a for k, a in tuning.items()}, "per_class": per_class,
            "n_reference": len(ref), "n_tuning": len(tune), "n_evaluation": len(ev)}
