"""Per-epoch pre-training metrics: CSV and JSON logs and the training-curve plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from resim.io import atomic_path, atomic_write_text


def write_metrics(out: Path, rows: list[dict]) -> None:
    """``metrics.csv`` (one row per epoch, union of keys) and ``metrics.json`` under ``out``."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "metrics.csv", buffer.getvalue())
    atomic_write_text(out / "metrics.json", json.dumps(rows, indent=1) + "\n")


def plot_curves(out: Path, rows: list[dict], loss_label: str = "NT-Xent loss") -> None:
    """``curves.png`` (train/val loss, learning rate) and ``cosine.png`` (seed 000 Fig. 2, with
    the alignment and uniformity of the normalised representation below when logged).

    A run without cosine metrics (masked particle modelling) plots its train/val accuracy in
    ``cosine.png`` instead, so every run writes the same files.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in rows]

    def series(key: str) -> list[float]:
        return [row.get(key, float("nan")) for row in rows]

    fig, (ax_loss, ax_lr) = plt.subplots(2, 1, figsize=(6, 6), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    for key in ("train_loss", "val_loss"):
        ax_loss.plot(epochs, series(key), marker=".", label=key.replace("_", " "))
    ax_loss.set_ylabel(loss_label)
    ax_loss.legend()
    ax_lr.plot(epochs, series("lr"), color="grey")
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("epoch")
    _save(fig, out / "curves.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    if "train_accuracy" in rows[-1]:
        for key in ("train_accuracy", "val_accuracy"):
            ax.plot(epochs, series(key), marker=".", label=key.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel("masked-particle token accuracy")
        ax.legend()
        _save(fig, out / "cosine.png")
        return
    split = "val" if "val_loss" in rows[-1] else "train"
    health = f"{split}_uniformity" in rows[-1]
    if health:  # a second panel: alignment and uniformity (Wang & Isola 2020)
        plt.close(fig)
        fig, (ax, ax_health) = plt.subplots(2, 1, figsize=(6, 6), sharex=True,
                                            gridspec_kw={"height_ratios": [3, 2]})
    cos_keys = [k for k in rows[-1] if k.startswith((f"{split}_cos_pos_", f"{split}_cos_class_"))]
    for key in [f"{split}_cos_pos", f"{split}_cos_neg", *cos_keys]:
        ax.plot(epochs, series(key), marker=".", label=key.removeprefix(f"{split}_"))
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_ylabel(f"cosine similarity ({'validation' if split == 'val' else 'training'})")
    ax.legend(fontsize="small")
    if health:
        for key in (f"{split}_alignment", f"{split}_uniformity"):
            ax_health.plot(epochs, series(key), marker=".", label=key.removeprefix(f"{split}_"))
        ax_health.axhline(0.0, color="black", linewidth=0.5)
        ax_health.set_ylabel("alignment, uniformity")
        ax_health.legend(fontsize="small")
        ax = ax_health
    ax.set_xlabel("epoch")
    _save(fig, out / "cosine.png")


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
