"""Seed 001's Fig. 9: ROC curves of the anomaly score, one per dark model, and the fully
supervised benchmark dashed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from resim.io import atomic_path  # noqa: E402


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path) -> Path:
    """Dark-jet efficiency versus SM-jet efficiency; ``curves``: label -> (tpr, fpr)."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for label, (tpr, fpr) in curves.items():
        ax.plot(fpr, tpr, label=label, ls="--" if label.startswith("FSV") else "-")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="random")
    ax.set_xlabel("SM jet efficiency")
    ax.set_ylabel("dark jet efficiency")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Anomaly score log(1 − cos) on the pre-trained backbone", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
