"""Statistics of the learned 8-d representation (seed 000 §III.A, Figs. 3–5; seed 001 §5.2)."""

from __future__ import annotations

import numpy as np
from sklearn.manifold import TSNE
from sklearn.metrics import roc_auc_score


def discriminating_power(embedding: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per dimension, |AUC − 0.5| of that single coordinate as a signal-vs-background score."""
    target = np.asarray(target).astype(bool)
    return np.array([abs(roc_auc_score(target, embedding[:, d]) - 0.5) for d in range(embedding.shape[1])])


def most_discriminating_dimension(embedding: np.ndarray, target: np.ndarray) -> int:
    """The coordinate that alone separates the classes best (seed 000 Fig. 3)."""
    return int(np.argmax(discriminating_power(embedding, target)))


def pearson_by_class(embedding: np.ndarray, classes: np.ndarray) -> dict:
    """Per class, the (d, d) Pearson correlation matrix of the representation (seed 000 Fig. 4)."""
    return {c: np.corrcoef(embedding[classes == c], rowvar=False) for c in np.unique(classes)}


def max_abs_offdiagonal(corr: np.ndarray) -> float:
    """The largest |Pearson coefficient| between two different dimensions, with its sign."""
    off = corr.copy()
    np.fill_diagonal(off, 0.0)
    i, j = np.unravel_index(np.nanargmax(np.abs(off)), off.shape)
    return float(off[i, j])


def tsne(embedding: np.ndarray, seed: int, perplexity: float) -> np.ndarray:
    """2-d t-SNE projection (scikit-learn); perplexity capped below the number of points."""
    perplexity = min(perplexity, max(1.0, (len(embedding) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed % 2**32).fit_transform(
        np.asarray(embedding, dtype=np.float64))
