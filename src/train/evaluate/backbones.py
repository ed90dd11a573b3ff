"""What each pre-trained backbone's representation of the test jets looks like: seed 000
Figs. 2–5 (pair cosine and loss per epoch, the most discriminating coordinate per view, the
corner plot with Pearson r per class, t-SNE by class and view) and its kNN accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from resim.errors import ConfigError

from ..checkpoint import load_checkpoint
from ..data import NOMINAL
from ..metrics_log import plot_curves
from ..finetune.tasks import Task
from . import metrics, plots, representation


def knn(embedding: np.ndarray, labels: np.ndarray, config: dict, rng: np.random.Generator) -> dict:
    """kNN accuracy of the label classes in ``embedding`` (``evaluate.knn``)."""
    section = config["evaluate"]["knn"]
    take = rng.permutation(len(labels))[:section["max_jets"]]
    return metrics.knn_accuracy(embedding[take], labels[take], section["k"], tuple(section["fractions"]),
                                rng)


def representation_plots(out: Path, emb: dict[str, np.ndarray], target: np.ndarray, task: Task,
                         config: dict, rng: np.random.Generator, seed: int) -> dict:
    """Seed 000 Figs. 3–5 from the backbone's representation; returns the statistics shown."""
    section = config["evaluate"]
    names = {1: "+".join(task.signal), 0: "+".join(task.background)}
    nominal = emb[NOMINAL]
    dim = representation.most_discriminating_dimension(nominal, target)
    plots.discriminating_dimension({v: e[:, dim] for v, e in emb.items()}, target, dim,
                                   out / "discriminating_dim.png", (names[1], names[0]))
    take = np.sort(rng.permutation(len(target))[:section["corner_max_jets"]])
    classes = target[take].astype(int)
    corr = representation.pearson_by_class(nominal[take], classes)
    plots.corner(nominal[take], classes, names, corr, out / "corner.png")
    views = section["tsne"]["views"] or list(emb)
    if set(views) - set(emb):
        raise ConfigError(f"evaluate.tsne.views: {sorted(set(views) - set(emb))} are not views of the "
                          f"test data {list(emb)}")
    take = np.sort(rng.permutation(len(target))[:max(1, section["tsne"]["max_jets"] // len(views))])
    points = representation.tsne(np.concatenate([emb[v][take] for v in views]), seed,
                                 section["tsne"]["perplexity"])
    by_class = np.tile(target[take].astype(int), len(views))
    by_view = np.repeat(np.array(views), len(take))
    plots.tsne_panels(points, by_class, by_view, names, out / "tsne.png")
    return {"most_discriminating_dimension": dim,
            "discriminating_power": representation.discriminating_power(nominal, target).tolist(),
            "max_abs_pearson": {names[c]: representation.max_abs_offdiagonal(m) for c, m in corr.items()}}


def backbone_report(out: Path, checkpoint: Path, emb: dict[str, np.ndarray], target: np.ndarray,
                    labels: np.ndarray, task: Task, config: dict, rng: np.random.Generator,
                    seed: int) -> dict:
    """Every plot of one backbone into ``out``; returns its statistics and kNN accuracy."""
    out.mkdir(parents=True, exist_ok=True)
    stats = representation_plots(out, emb, target, task, config, rng, seed)
    plot_curves(out, load_checkpoint(checkpoint)["metrics"])
    return {"path": str(checkpoint), "knn": knn(emb[NOMINAL], labels, config, rng), **stats}
