"""Classifier and representation metrics of seed 000 §III and seed 001 §5.2.

All functions take plain numpy arrays so they can be checked against analytic answers:
``labels`` are 1 for signal and 0 for background, ``scores`` grow with signal-likeness.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class WorkingPoint:
    """The step-ROC working point for one target signal efficiency.

    ``n_pass`` background jets (of ``n_background``) pass the first threshold, scanning from the
    most signal-like score down, whose signal efficiency reaches the target. No interpolation:
    a threshold is a cut one can apply, a point between two thresholds is not.
    """

    n_pass: int
    n_background: int

    @property
    def bound(self) -> bool:
        """No background jet passes: the test set only bounds the rejection from below."""
        return self.n_pass == 0

    @property
    def rejection(self) -> float:
        """1/ε_B; where no background passes, the bound 1/(1/N_bkg) = N_bkg (never ∞)."""
        return self.n_background / max(self.n_pass, 1)


def _step_counts(labels: np.ndarray, scores: np.ndarray,
                 weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (signal, background) weights passing each distinct threshold, high to low.

    ``weights`` is (B, n): one row per resampling of the jets (a plain count is all ones).
    Returns two (B, n_thresholds) arrays; a threshold passes every jet scoring at least it.
    """
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    ends = np.flatnonzero(np.append(s[1:] != s[:-1], True))  # last jet of each tied group
    w = weights[:, order].astype(np.float64)
    sig = labels[order]
    return np.cumsum(w * sig, axis=1)[:, ends], np.cumsum(w * ~sig, axis=1)[:, ends]


def _first_reaching(cum_sig: np.ndarray, efficiency: float) -> np.ndarray:
    """Per row, the index of the first threshold whose signal efficiency reaches ``efficiency``."""
    total = cum_sig[:, -1:]
    # a relative tolerance so that 0.3 of 10 jets is reached by 3 jets despite rounding
    return np.argmax(cum_sig >= efficiency * total * (1 - 1e-12), axis=1)


def working_points(labels: np.ndarray, scores: np.ndarray,
                   efficiencies: tuple[float, ...] | np.ndarray = EFFICIENCIES) -> list[WorkingPoint]:
    """The step-ROC working point at each signal efficiency (see :class:`WorkingPoint`)."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("a ROC curve needs both signal and background jets")
    scores = np.asarray(scores, dtype=np.float64)
    cum_sig, cum_bkg = _step_counts(labels, scores, np.ones((1, len(scores))))
    n_bkg = int((~labels).sum())
    return [WorkingPoint(int(round(cum_bkg[0, _first_reaching(cum_sig, e)[0]])), n_bkg)
            for e in efficiencies]


def background_efficiency_at(labels: np.ndarray, scores: np.ndarray,
                             efficiencies: tuple[float, ...] | np.ndarray = EFFICIENCIES) -> np.ndarray:
    """Background efficiency ε_B at each signal efficiency, read from the step ROC."""
    return np.array([p.n_pass / p.n_background for p in working_points(labels, scores, efficiencies)])


def rejection_at(labels: np.ndarray, scores: np.ndarray,
                 efficiencies: tuple[float, ...] | np.ndarray = EFFICIENCIES) -> np.ndarray:
    """Background rejection 1/ε_B at each signal efficiency; the bound N_bkg where none passes."""
    return np.array([p.rejection for p in working_points(labels, scores, efficiencies)])


def bootstrap_weights(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(n_resamples, n) multiplicities of the jets in resamplings with replacement.

    Drawn once per evaluation and shared by every model, so that the models' resampled values
    can be averaged over repetitions resample by resample.
    """
    out = np.zeros((n_resamples, n), dtype=np.uint16)
    for b in range(n_resamples):
        out[b] = np.bincount(rng.integers(n, size=n), minlength=n)
    return out


def bootstrap_rejection(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray,
                        efficiencies: tuple[float, ...] | np.ndarray = EFFICIENCIES) -> np.ndarray:
    """(n_efficiencies, B) rejections of the resampled test sets ``weights`` (bounds as N_bkg)."""
    labels = np.asarray(labels).astype(bool)
    cum_sig, cum_bkg = _step_counts(labels, np.asarray(scores, dtype=np.float64), weights)
    rows = np.arange(len(weights))
    out = []
    for e in efficiencies:
        passing = cum_bkg[rows, _first_reaching(cum_sig, e)]
        out.append(cum_bkg[:, -1] / np.maximum(passing, 1))
    return np.array(out)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (0.5: no discrimination)."""
    return float(roc_auc_score(np.asarray(labels).astype(bool), scores))


def bootstrap_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B,) AUCs of the resampled test sets ``weights`` ((B, n) multiplicities of the jets, as
    :func:`bootstrap_weights` draws them, or products of such with fixed counts)."""
    labels = np.asarray(labels).astype(bool)
    return np.array([roc_auc_score(labels, scores, sample_weight=w) for w in weights])


def wasserstein(reference: np.ndarray, other: np.ndarray) -> float:
    """1-D Wasserstein-1 distance between two unbinned score samples (``scipy``)."""
    return float(wasserstein_distance(np.ravel(reference), np.ravel(other)))


#: Elements of one (resamplings x pooled scores) block of :func:`bootstrap_wasserstein`.
_CHUNK_ELEMENTS = 4_000_000


def bootstrap_wasserstein(reference: np.ndarray, other: np.ndarray,
                          weights: np.ndarray) -> np.ndarray:
    """(B,) Wasserstein-1 distances of the resampled test sets ``weights`` (B, n multiplicities).

    ``reference[i]`` and ``other[i]`` score the same jet in two views, so a resampling takes
    both together (a paired bootstrap). One sort of the pooled scores serves every resampling:
    W1 = sum over the gaps between sorted values of |F_ref - F_other| times the gap, with the
    weighted CDFs of each resampling, as ``scipy.stats.wasserstein_distance`` with weights.
    """
    reference, other = np.ravel(reference), np.ravel(other)
    pooled = np.concatenate([reference, other])
    order = np.argsort(pooled, kind="stable")
    gaps = np.diff(pooled[order])
    from_ref = order < len(reference)
    # resamplings in chunks: a few (chunk, 2n) arrays stay ~100 MB even at a million jets
    chunk = max(1, int(_CHUNK_ELEMENTS // len(pooled)))
    out = []
    for start in range(0, len(weights), chunk):
        w = np.asarray(weights[start:start + chunk], dtype=np.float64)
        pooled_w = np.concatenate([w, w], axis=1)[:, order]
        step = np.where(from_ref, pooled_w, -pooled_w)  # CDF_ref - CDF_other grows by this
        difference = np.cumsum(step, axis=1)[:, :-1]
        total = np.maximum(w.sum(axis=1), 1e-300)
        out.append(np.abs(difference) @ gaps / total)
    return np.concatenate(out) if out else np.zeros(0)


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


def n2_scores(n2_by_view: dict[str, np.ndarray], reference_n2: np.ndarray,
              reference_labels: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
    """Turn the N2 observable into a [0, 1] tagger score, the same map for every view.

    The map is fixed on a reference sample that is not the one scored (the validation split's
    nominal jets), so that neither the orientation nor the scale is tuned on the test jets.
    Orientation: ``-N2`` (two-prong jets have small N2) unless ``+N2`` discriminates better on
    the reference; the sign is returned (-1 or +1). Scale: the empirical CDF of the reference's
    mixed (signal + background) sample, so the score is the fraction of reference jets less
    signal-like and Wasserstein distances between views are on the same [0, 1] scale as the
    networks' sigmoid outputs. Non-finite N2 (jets too small to define it) count as the least
    signal-like value.
    """
    reference = np.asarray(reference_n2, dtype=np.float64)
    sign = -1 if auc(reference_labels, _oriented(reference, -1)) >= 0.5 else 1
    ecdf = np.sort(_oriented(reference, sign))
    return {v: np.searchsorted(ecdf, _oriented(np.asarray(x, dtype=np.float64), sign), side="right")
            / len(ecdf) for v, x in n2_by_view.items()}, sign


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
