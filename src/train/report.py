"""``rs3l summary``: a one-page Markdown summary of a run (``results/summary.md``).

Collects what the other stages wrote, from the files the rule names (``--splits``,
``--pretrain``, ``--evaluations``, ``--anomaly``): dataset sizes per split and label, the
cut-flows summed over shards, the pre-training outcome, every task's tables and plot links, the
two questions the seed answers (does fine-tuning beat the supervised baseline at equal labelled
size; is the fixed backbone more robust), answered from this run's numbers, and the dark-jet
anomaly detection's table when the run has that stage.
Anything missing is listed as missing rather than silently skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np

from resim.cliutil import declare_paths
from resim.config import config_hash, load_config
from resim.dataset.cutflow import cutflow_table
from resim.dataset.reader import PairedDataset
from resim.errors import DatasetError
from resim.io import atomic_write_text

from .anomaly.run import auc_table
from .evaluate.tables import Row, collect_rows
from .pretrain.contrastive import collapse_warning


#: Plots of a task and of each backbone, as ``rs3l evaluate`` writes them.
TASK_PLOTS = ("label_efficiency", "label_efficiency_wasserstein", "roc", "roc_subclass", "wasserstein")
BACKBONE_PLOTS = ("discriminating_dim", "corner", "tsne", "cosine", "curves")


def add_counts(total: dict, part: dict) -> dict:
    """Add a nested dict of counts into ``total`` (cut-flows of several shards)."""
    for key, value in part.items():
        if isinstance(value, dict):
            add_counts(total.setdefault(key, {}), value)
        elif isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
    return total


def _shard_cutflows(attrs: dict) -> list[dict]:
    """The per-shard cut-flows of a file: its own, or each source's in a merged file."""
    flow = attrs.get("cutflow") or {}
    if "views" in flow or "pairing" in flow:
        return [flow]
    return [f for f in flow.values() if isinstance(f, dict)]


def dataset_section(splits: list[Path]) -> list[str]:
    """Each split file (named by its stem: ``pretrain.h5``) with its jets and cut-flow."""
    out = ["## Data", ""]
    for path in splits:
        split = path.stem
        if not path.exists():
            out.append(f"- `{split}`: missing ({path})")
            continue
        try:
            ds = PairedDataset(path)
        except DatasetError as err:
            out.append(f"- `{split}`: unreadable: {err}")
            continue
        counts = Counter(ds.label_names[c] for c in ds.labels)
        labels = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        out.append(f"- `{split}`: {len(ds)} pairs × {len(ds.views)} views ({', '.join(ds.views)}); "
                   f"{labels}")
        flow: dict = {}
        for shard_flow in _shard_cutflows(ds.attrs):
            add_counts(flow, shard_flow)
        out += ["", f"<details><summary>cut-flow of {split} (summed over shards)</summary>", "",
                cutflow_table(flow), "</details>", ""]
    return out + [""]


def pretrain_section(metrics_path: Path, page: Path, collapse_gap: float) -> list[str]:
    """One pre-training run from its ``metrics.json`` (the run is named by its folder); plots
    are linked relative to the folder of the summary, ``page``."""
    run = metrics_path.parent
    name = run.name
    out = [f"## Pre-training: `{name}`", ""]
    if not metrics_path.exists():
        return out + [f"Missing: {metrics_path}", ""]
    history = json.loads(metrics_path.read_text())
    best = min(history, key=lambda r: r.get("val_loss", math.inf))
    keys = ("epoch", "train_loss", "val_loss", "val_cos_pos", "val_cos_neg", "val_alignment",
            "val_uniformity")
    shown = ", ".join(f"{k} = {best[k]:.4g}" if isinstance(best[k], float) else f"{k} = {best[k]}"
                      for k in keys if k in best)
    out.append(f"Backbone `{name}`: {len(history)} epochs; best validation loss at {shown}")
    warning = collapse_warning(best, collapse_gap)
    if warning:
        out += ["", f"> **Warning**: {warning}"]
    out += ["", f"![training curves]({_link(run / 'curves.png', page)}) ![pair cosine vs epoch "
            f"(seed 000 Fig. 2)]({_link(run / 'cosine.png', page)})", ""]
    return out


def verdicts(records: list[dict], views: list[str], efficiency: float) -> list[str]:
    """The seed's two claims, checked on this run's mean values (with their spread: over
    several pre-trained backbones, the larger of the spreads over backbones and over
    fine-tunings, :meth:`Row.spread`)."""
    rows = collect_rows(records, views)
    col = f"rejection@{efficiency:g}"
    out = []
    for ft in (r for r in rows if r.mode == "floating"):
        for sup in (r for r in rows if r.mode == "supervised" and r.train_size == ft.train_size
                    and r.views == ft.views and r.network == ft.network):
            (a, da), (b, db) = _mean_spread(ft, col), _mean_spread(sup, col)
            word = "beats" if a > b else "does not beat"
            out.append(f"- At ε_S = {efficiency:g}, {ft.name} {word} {sup.name}: rejection "
                       f"{_pm(a, da)} vs {_pm(b, db)}{_significance(a, da, b, db)}.")
    others = [v for v in views if v != "nominal"]
    for fixed in (r for r in rows if r.mode == "fixed"):
        for sup in (r for r in rows if r.mode == "supervised" and r.train_size == fixed.train_size
                    and r.network == fixed.network):
            pairs = [(_mean_spread(fixed, f"wasserstein:{v}"), _mean_spread(sup, f"wasserstein:{v}"))
                     for v in others]
            more = sum(a < b for (a, _), (b, _) in pairs)
            clear = sum(a < b and not _significance(a, da, b, db)
                        for (a, da), (b, db) in pairs)
            out.append(f"- {fixed.name} is more robust (lower Wasserstein distance) than "
                       f"{sup.name} in {more} of {len(pairs)} views, {clear} of them beyond the "
                       f"spread of the repetitions{_resampled(fixed, sup, others)}.")
    for size in sorted({r.train_size for r in rows if r.mode == "floating"}):
        floating = [r for r in rows if r.mode == "floating" and r.train_size == size]
        if len(floating) < 2:
            continue
        best = {v: min(floating, key=lambda r: r.mean_std(f"wasserstein:{v}")[0]).backbone
                for v in others}
        out.append(f"- {size} labelled jets, floating: the backbone with the lowest Wasserstein "
                   f"distance per view: " + ", ".join(f"`{v}`: {b}" for v, b in best.items()) + ".")
    return out


def _mean_spread(row: Row, column: str) -> tuple[float, float]:
    """(mean, the spread a claim must clear) of ``row``'s ``column``."""
    return row.mean_std(column)[0], row.spread(column)


def _resampled(lower: Row, other: Row, views: list[str], level: float = 0.95) -> str:
    """How many views keep ``lower``'s distance below ``other``'s on ``level`` of the test-set
    resamplings (both rows are scored on the same ones)."""
    fractions, resamplings = [], 0
    for view in views:
        a, b = (r.resampled_means(f"wasserstein:{view}") for r in (lower, other))
        if a is not None and b is not None:
            fractions.append(float(np.mean(a < b)))
            resamplings = len(a)
    if not fractions:
        return ""
    kept = sum(f >= level for f in fractions)
    return (f", {kept} of them on ≥ {level:.0%} of the {resamplings} test-set resamplings "
            f"(test-set statistics only)")


def _pm(mean: float, std: float) -> str:
    return f"{mean:.4g}" if math.isnan(std) else f"{mean:.4g} ± {std:.2g}"


def _significance(a: float, da: float, b: float, db: float) -> str:
    """A warning when two means differ by less than their combined spread over repetitions."""
    spread = math.hypot(0.0 if math.isnan(da) else da, 0.0 if math.isnan(db) else db)
    if spread == 0.0:
        return " (single runs: no spread to compare with)"
    return " (within the spread of the repetitions)" if abs(a - b) < spread else ""


def _link(path: Path, page: Path) -> str:
    """``path`` as a link from a Markdown page in the folder ``page``."""
    return Path(os.path.relpath(path, page)).as_posix()


def task_section(metrics_path: Path, page: Path) -> list[str]:
    """One task from its evaluation's ``metrics.json`` (the task is named by its folder)."""
    folder = metrics_path.parent
    task = folder.name
    out = [f"## Task `{task}`", ""]
    if not metrics_path.exists():
        return out + [f"Missing: {metrics_path}", ""]
    summary = json.loads(metrics_path.read_text())
    out.append(f"{summary['n_test']} test jets ({summary['n_signal']} signal); Wasserstein distances on "
               f"{summary['n_wasserstein']} jets with equal signal and background; N2 score: "
               f"{summary['n2_orientation']} mapped through the empirical CDF of the nominal test jets.")
    out.append("")
    for table in ("rejection", "wasserstein", "knn"):
        md = folder / f"{table}.md"
        out += [md.read_text().strip() if md.exists() else f"Missing: {md}", ""]
    efficiencies = [float(k.split("@")[1]) for k in summary["models"][0]["values"]
                    if k.startswith("rejection@")]
    middle = efficiencies[len(efficiencies) // 2] if efficiencies else 0.5
    claims = verdicts(summary["models"], summary["views"], middle)
    out += ["What this run says:", "",
            *(claims or ["- no floating/fixed vs supervised pair with equal training size"]), ""]
    for name, base in (summary.get("backbones") or {}).items():
        pearson = ", ".join(f"{c}: {v:+.2f}" for c, v in base["max_abs_pearson"].items())
        out.append(f"Backbone `{name}`: kNN accuracy {100 * base['knn']['accuracy']:.1f} % "
                   f"(k = {base['knn']['k']}); most discriminating dimension "
                   f"z[{base['most_discriminating_dimension']}]; largest |Pearson r| per class: "
                   f"{pearson}. Plots: " + " · ".join(
                       f"[{p}]({_link(folder / 'backbones' / name / f'{p}.png', page)})"
                       for p in BACKBONE_PLOTS))
        out.append("")
    plots = [p for p in TASK_PLOTS if (folder / f"{p}.png").exists()]
    out += ["Plots: " + " · ".join(f"[{p}]({_link(folder / f'{p}.png', page)})" for p in plots), ""]
    if (folder / "label_efficiency.png").exists():
        out += [f"![label efficiency]({_link(folder / 'label_efficiency.png', page)})", ""]
    return out


def anomaly_section(metrics_path: Path, page: Path) -> list[str]:
    """Dark-jet anomaly detection from ``rs3l anomaly``'s ``metrics.json``: its AUC table."""
    out = ["## Anomaly detection (dark jets)", ""]
    if not metrics_path.exists():
        return out + [f"Missing: {metrics_path}", ""]
    record = json.loads(metrics_path.read_text())
    out += [f"An autoencoder with a {record['latent']}-wide bottleneck on the frozen backbone's "
            f"{record['representation']} representation ({record['input_dim']} numbers per jet; "
            f"backbone `{record['backbone']}`), trained on {record['sm_train_jets']} SM jets "
            f"of the finetune split, scores {record['sm_test_jets']} SM test jets against each "
            f"dark model's jets (SSL + AE); FSV is the fully supervised benchmark. "
            f"AUC 0.5 is no separation.", "", auc_table(record).strip(), ""]
    roc = metrics_path.parent / "roc.png"
    if roc.exists():
        out += [f"Plot: [roc]({_link(roc, page)})", ""]
    return out


def summary(config: dict, out: str | Path, splits: list, pretrain: list,
            evaluations: list, anomaly: str | Path | None = None) -> str:
    """Write the one-page summary to ``out`` from the split files, each pre-training run's
    ``metrics.json``, each task's evaluation ``metrics.json`` (in the order given) and the
    anomaly detection's ``metrics.json`` (when the run has that stage)."""
    out = Path(out)
    lines = [f"# resim run `{config['run'].get('name', 'default')}`", "",
             f"Config hash `{config_hash(config)}`, global seed {config['run']['seed']}.", ""]
    lines += dataset_section([Path(p) for p in splits])
    for path in pretrain:
        lines += pretrain_section(Path(path), out.parent, config["pretrain"]["collapse_gap"])
    for path in evaluations:
        lines += task_section(Path(path), out.parent)
    if anomaly is not None:
        lines += anomaly_section(Path(anomaly), out.parent)
    text = "\n".join(lines).rstrip() + "\n"
    atomic_write_text(out, text)
    return text


def _run(args: argparse.Namespace) -> int:
    summary(load_config(args.config), args.out, args.splits, args.pretrain, args.evaluations,
            args.anomaly)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("summary", help="one-page Markdown summary of a run",
                              description="One Markdown page from what the stages wrote: dataset "
                              "sizes and cut-flows, pre-training, every task's tables and plots; "
                              "anything missing is listed as missing. Plots are linked relative "
                              "to the page.")
    p.add_argument("--config", required=True, help="run configuration (config.yaml)")
    p.add_argument("--out", required=True, help="output Markdown file (results/summary.md)")
    p.add_argument("--splits", nargs="+", required=True, metavar="FILE",
                   help="the dataset splits, each named by its stem (results/dataset/test.h5)")
    p.add_argument("--pretrain", nargs="+", required=True, metavar="FILE",
                   help="each pre-training run's metrics.json (results/train/<name>/metrics.json)")
    p.add_argument("--evaluations", nargs="*", default=[], metavar="FILE",
                   help="each task's evaluation metrics.json (results/evaluate/<task>/metrics.json)")
    p.add_argument("--anomaly", metavar="FILE",
                   help="the anomaly detection's metrics.json (results/anomaly/metrics.json)")
    p.set_defaults(func=_run)
    declare_paths(p, inputs=("config", "splits", "pretrain", "evaluations", "anomaly"),
                  outputs=("out",))
