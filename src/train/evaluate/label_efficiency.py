"""The label-efficiency plots: a metric against the number of labelled jets (log axis).

One line per backbone × mode and for the supervised baseline, a band of ± the standard
deviation over repetitions, N2 (which trains on no labels) as a horizontal line; one panel per
column (rejection at each ε_S, or Wasserstein distance to each view). Rejections that are
bounds (no background test jet passed) are drawn with an upward triangle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .plots import _save, plt
from .tables import Row


def series_name(row: Row) -> str:
    """A row's name without its size: the line it belongs to."""
    if row.mode == "n2":
        return "N2"
    net = f", {row.network}" if row.network else ""
    if row.mode == "supervised":
        return f"Fully-supervised ({row.views}{net})"
    if row.backbone == "MPM":
        return f"MPM fine-tuned ({row.mode}{net})"
    return f"Fine-tuned ({row.mode}, {row.backbone or row.views}{net})"


def series(rows: Sequence[Row], column: str) -> dict[str, dict[str, np.ndarray]]:
    """Per line: sizes, mean, std (0 for one run) and bound flags, by increasing size."""
    out: dict[str, dict[str, list]] = {}
    efficiency = column.split("@")[1] if column.startswith("rejection@") else None
    for row in sorted(rows, key=lambda r: r.train_size):
        mean, std = row.mean_std(column)
        bound = efficiency is not None and row.mean_std(f"bound@{efficiency}")[0] > 0
        line = out.setdefault(series_name(row), {"size": [], "mean": [], "std": [], "bound": []})
        line["size"].append(row.train_size)
        line["mean"].append(mean)
        line["std"].append(0.0 if math.isnan(std) else std)
        line["bound"].append(bool(bound))
    return {name: {k: np.asarray(v) for k, v in line.items()} for name, line in out.items()}


def plot(rows: Sequence[Row], columns: Sequence[str], titles: Sequence[str], path: str | Path,
         ylabel: str, suptitle: str) -> Path:
    """One panel per column, one line per :func:`series_name` (N2 horizontal, dashed)."""
    fig, axes = plt.subplots(1, len(columns), figsize=(5 * len(columns), 4.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, column, title in zip(axes[0], columns, titles):
        lines = series(rows, column)
        for k, (name, line) in enumerate(sorted(lines.items())):
            colour = colours[k % len(colours)]
            if name == "N2":
                ax.axhline(line["mean"][0], color="black", ls="--", lw=1, label=name)
                continue
            style = "--" if name.startswith("Fully") else "-"
            ax.plot(line["size"], line["mean"], style, marker="o", color=colour, label=name)
            ax.fill_between(line["size"], line["mean"] - line["std"], line["mean"] + line["std"],
                            color=colour, alpha=0.2)
            if line["bound"].any():
                ax.plot(line["size"][line["bound"]], line["mean"][line["bound"]], "^",
                        color=colour, ms=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("labelled training jets")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return _save(fig, path)
