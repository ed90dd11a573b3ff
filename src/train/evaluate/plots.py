"""The seed's figures (seed 000 Figs. 3–5 and 7, ROC curves), written as PNG files.

Fig. 2 (pair cosine vs epoch) is pre-training's own ``cosine.png``.

Each function takes arrays and a path and writes one figure atomically; none computes physics,
so they can be re-run on stored numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from resim.io import atomic_path  # noqa: E402

_DPI = 120


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _rejection_panel(ax: plt.Axes, curves: dict[str, tuple[np.ndarray, np.ndarray]], xlabel: str,
                     ylabel: str, title: str) -> None:
    for label, (tpr, fpr) in curves.items():
        keep = fpr > 0  # rejection is infinite where no background passes
        ax.plot(tpr[keep], 1.0 / fpr[keep], label=label, ls="--" if label.startswith("N2") else "-")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)


def roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str,
               signal: str = "signal", background: str = "background") -> Path:
    """Background rejection 1/ε_B versus signal efficiency ε_S, one line per tagger."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    _rejection_panel(ax, curves, f"{signal} efficiency", f"{background} rejection 1/ε_B", title)
    return _save(fig, path)


def discriminating_dimension(values: dict[str, np.ndarray], target: np.ndarray, dim: int,
                             path: str | Path, class_names: tuple[str, str] = ("signal", "background"),
                             reference: str = "nominal", bins: int = 30) -> Path:
    """Seed 000 Fig. 3: the most discriminating coordinate per class and view, ratio panels per view.

    ``values``: view → the coordinate for the same jets (rows) in every view; ``target``: 1 signal.
    """
    target = np.asarray(target).astype(bool)
    others = [v for v in values if v != reference]
    edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig, axes = plt.subplots(1 + len(others), 1, figsize=(6, 4 + 1.4 * len(others)), sharex=True,
                             gridspec_kw={"height_ratios": [3] + [1] * len(others)}, squeeze=False)
    axes = axes[:, 0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ref_hist = {}
    for i, view in enumerate([reference, *others]):
        for cls, sel, ls in ((class_names[0], target, "-"), (class_names[1], ~target, "--")):
            h, _ = np.histogram(values[view][sel], bins=edges, density=True)
            axes[0].step(centres, h, where="mid", color=colours[i % len(colours)], ls=ls,
                         label=f"{cls}, {view}")
            if view == reference:
                ref_hist[cls] = h
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    axes[others.index(view) + 1].step(centres, h / ref_hist[cls], where="mid",
                                                      color=colours[i % len(colours)], ls=ls)
    axes[0].set_ylabel("density")
    axes[0].set_title(f"Most discriminating dimension: z[{dim}]")
    axes[0].legend(fontsize=7, ncol=2)
    for ax, view in zip(axes[1:], others):
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_ylim(0.5, 1.5)
        ax.set_ylabel(f"{view} / {reference}", fontsize=8)
    axes[-1].set_xlabel(f"z[{dim}] (L2-normalised representation)")
    return _save(fig, path)


def corner(embedding: np.ndarray, classes: np.ndarray, names: dict, correlations: dict,
           path: str | Path, bins: int = 25) -> Path:
    """Seed 000 Fig. 4: pairwise distributions of the representation per class, with Pearson r."""
    d = embedding.shape[1]
    fig, axes = plt.subplots(d, d, figsize=(1.6 * d, 1.6 * d))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    labels = list(np.unique(classes))
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j > i:
                ax.axis("off")
                continue
            for k, c in enumerate(labels):
                x = embedding[classes == c]
                colour = colours[k % len(colours)]
                if i == j:
                    ax.hist(x[:, i], bins=bins, histtype="step", density=True, color=colour)
                else:
                    ax.scatter(x[:, j], x[:, i], s=1, alpha=0.3, color=colour, rasterized=True)
                    ax.text(0.03, 0.95 - 0.12 * k, f"r={correlations[c][i, j]:+.2f}", color=colour,
                            transform=ax.transAxes, fontsize=6, va="top")
            if i == d - 1:
                ax.set_xlabel(f"z[{j}]", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"z[{i}]", fontsize=8)
    handles = [plt.Line2D([], [], color=colours[k % len(colours)], label=names.get(c, str(c)))
               for k, c in enumerate(labels)]
    fig.legend(handles=handles, loc="upper right")
    fig.suptitle("Representation per class (Pearson r per class)")
    return _save(fig, path)


def tsne_panels(points: np.ndarray, classes: np.ndarray, views: np.ndarray, class_names: dict,
                path: str | Path) -> Path:
    """Seed 000 Fig. 5: t-SNE of the representation coloured by class and by view (shower model)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, groups, title in ((axes[0], classes, "by class"), (axes[1], views, "by view")):
        for g in np.unique(groups):
            sel = groups == g
            ax.scatter(points[sel, 0], points[sel, 1], s=3, alpha=0.5, label=class_names.get(g, str(g)),
                       rasterized=True)
        ax.set_title(f"t-SNE {title}")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(markerscale=4, fontsize=8)
    return _save(fig, path)


def subclass_rocs(panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], path: str | Path,
                  signal: str = "signal") -> Path:
    """Seed 000 Fig. 7: per tagger (one panel each), the ROC against each background sub-class."""
    n = max(len(panels), 1)
    cols = min(n, 3)
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 4 * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (setup, curves) in zip(axes.flat, panels.items()):
        _rejection_panel(ax, curves, f"{signal} efficiency", "sub-class rejection 1/ε_B", setup)
    fig.tight_layout()
    return _save(fig, path)


def bars(values: dict[str, Sequence[float]], path: str | Path, ylabel: str, title: str,
         groups: Sequence[str]) -> Path:
    """Grouped bars (mean with std error bars), e.g. Wasserstein distance per view and setup."""
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(len(values), 1)
    x = np.arange(len(groups))
    for k, (label, per_group) in enumerate(values.items()):
        arr = np.asarray(per_group, dtype=np.float64).reshape(len(groups), -1)
        ax.bar(x + k * width, arr[:, 0], width, yerr=arr[:, 1] if arr.shape[1] > 1 else None, label=label)
    ax.set_xticks(x + width * (len(values) - 1) / 2, groups)
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return _save(fig, path)
