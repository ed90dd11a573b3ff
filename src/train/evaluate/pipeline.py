"""The evaluation pipeline behind ``rs3l evaluate`` (:mod:`.cli`): score held-out jets with every
fine-tuned model and write tables and plots.

Scoring (:mod:`.scoring`) runs every tagger (every size, backbone, mode and repetition) and
every backbone over the test jets of every view in one pass. Outputs in ``--out``
(``results/evaluate/<task>``):

- ``rejection.{csv,md}``, ``wasserstein.{csv,md}``, ``knn.{csv,md}``: the seed's tables, one row
  per setup (size, mode, backbone);
- ``label_efficiency.png`` (rejection at each ε_S vs labelled jets) and
  ``label_efficiency_wasserstein.png`` (Wasserstein distance to each view vs labelled jets);
- ``metrics.json``: every number per model (and N2), the backbones' statistics;
- ``scores.npz``: the scores per model and view (``<model>/<view>``), labels and rows;
- ``roc.png``, ``roc_subclass.png`` (seed 000 Fig. 7), ``wasserstein.png``, for the largest
  labelled set (a curve per setup, first repetition);
- per ``--backbone``, ``backbones/<name>/``: ``discriminating_dim.png``, ``corner.png``,
  ``tsne.png`` (seed 000 Figs. 3–5), ``cosine.png`` (Fig. 2) and ``curves.png``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from resim.errors import ConfigError
from resim.io import atomic_path, atomic_write_text
from resim.seeds import derive_seed

from ..data import NOMINAL
from ..finetune.run import backbone_name
from ..open_jets import open_jets
from ..models import load_backbone
from ..finetune.taggers import load_tagger, resolve_device
from ..finetune.tasks import SEED_STREAM, Task
from . import label_efficiency, metrics, plots, tables
from .backbones import backbone_report, knn
from .scoring import reference_n2, score_views, share_frozen_backbones, tagger_metrics

log = logging.getLogger(__name__)


def model_names(dirs: list[Path]) -> dict[Path, str]:
    """Each model's key in scores and records: its folder below the folders' common root
    (``100/rs3l/fixed-0``), or the folder name alone when they share a parent (``fixed-0``)."""
    if len({d.parent for d in dirs}) <= 1:
        return {d: d.name for d in dirs}
    root = Path(os.path.commonpath([d.resolve() for d in dirs]))
    return {d: d.resolve().relative_to(root).as_posix() for d in dirs}


def model_record(path: Path, name: str) -> dict:
    if not (path / "metrics.json").is_file():
        raise ConfigError(f"{path}: not a fine-tuning output (no metrics.json; rs3l finetune "
                          f"writes model.pt, scores.npz and metrics.json)")
    record = json.loads((path / "metrics.json").read_text())
    return {"name": name, "mode": record["mode"], "rep": record["rep"],
            "train_size": record["train_size"], "views": record["views"],
            "views_label": record.get("views_label"), "backbone_name": record.get("backbone_name"),
            "backbone_label": record.get("backbone_label"), "network": record.get("network", "")}


def evaluate(config: dict, task_name: str, out: str | Path, test: list, model_dirs: list,
             backbone_paths: list | None = None, val: list | None = None) -> dict:
    """Evaluate the models of ``model_dirs`` on the task's jets of ``test``; write into ``out``."""
    section = config["evaluate"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not val:
        raise ConfigError("--val (the validation split) is needed to fix N2's orientation and "
                          "scale")
    task = Task.from_config(config, task_name)
    seed = derive_seed(config["run"]["seed"], f"evaluate:{task_name}", 0, "all", SEED_STREAM)
    rng = np.random.default_rng(seed)
    dataset = open_jets(test)
    rows, target = task.select(dataset)
    if section["max_test_jets"] and len(rows) > section["max_test_jets"]:
        keep = np.sort(rng.choice(len(rows), section["max_test_jets"], replace=False))
        rows, target = rows[keep], target[keep]
    labels = dataset.labels[rows]
    device = resolve_device(section["device"])

    model_dirs = sorted(Path(d) for d in model_dirs)
    names = model_names(model_dirs)
    records = {d: model_record(d, names[d]) for d in model_dirs}
    taggers = {names[d]: load_tagger(d / "model.pt", map_location=device)[0].to(device)
               for d in model_dirs}
    backbone_paths = [Path(p) for p in backbone_paths or []]
    backbones = {backbone_name(p): load_backbone(p, map_location=device).to(device)
                 for p in backbone_paths}
    share_frozen_backbones(taggers, backbones,
                           {names[d]: records[d]["backbone_name"] for d in model_dirs})
    log.info("%s: %d test jets, %d models, %d backbones, views %s", task_name, len(rows),
             len(taggers), len(backbones), dataset.views)
    scored = score_views(dataset, rows, taggers, backbones, section["batch_size"], device)

    efficiencies = list(section["efficiencies"])
    balanced = (metrics.balanced_rows(target, rng) if section["balance_wasserstein"]
                else np.arange(len(rows)))
    weights = metrics.bootstrap_weights(len(rows), section["bootstrap"], rng)
    n2_scores, n2_sign = metrics.n2_scores(scored["n2"], *reference_n2(task, val))
    n2 = tagger_metrics(n2_scores, target, labels, dataset.label_names, balanced, efficiencies,
                        weights)
    model_records = [{"name": "n2", "mode": "n2", "train_size": 0, "views": dataset.views,
                      "values": n2["values"], "bootstrap": n2["bootstrap"], "n2_sign": n2_sign}]
    knn_records, curves = [], {}
    for d in model_dirs:
        rec = records[d]
        result = tagger_metrics(scored["scores"][rec["name"]], target, labels, dataset.label_names,
                                balanced, efficiencies, weights)
        rec.update(values=result["values"], bootstrap=result["bootstrap"])
        model_records.append(rec)
        accuracy = knn(scored["embedding"][rec["name"]], labels, config, rng)
        knn_records.append({**rec, "values": {"knn": accuracy["accuracy"]}, "knn": accuracy})
        curves.setdefault(rec["train_size"], {}).setdefault(
            tables.row_name(rec["mode"], rec["train_size"],
                            tables.record_views_label(rec, dataset.views),
                            rec["backbone_label"] or ""), result)

    notes = {v: spec.get("description") for v, spec in
             (dataset.attrs.get("view_settings") or {}).items() if spec.get("description")}
    written = tables.write_tables(out, task_name, model_records, dataset.views, efficiencies,
                                  knn_records, notes)
    written += write_plots(out, task, model_records, dataset.views, efficiencies, curves, n2)
    summary = {"task": task_name, "test_files": [str(p) for p in dataset.paths], "n_test": len(rows),
               "n_signal": int(target.sum()), "n_wasserstein": len(balanced), "views": dataset.views,
               "n2_orientation": "-N2" if n2_sign < 0 else "+N2",
               "n_background": int((target == 0).sum()), "bootstrap": section["bootstrap"],
               "models": model_records, "knn": knn_records, "backbones": {}}
    for path in backbone_paths:
        name = backbone_name(path)
        summary["backbones"][name] = backbone_report(
            out / "backbones" / name, path, scored["backbones"][name], target, labels, task, config,
            rng, seed)
    with atomic_path(out / "scores.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, rows=rows, labels=labels, target=target,
                 **{f"{m}/{v}": s for m, per_view in scored["scores"].items() for v, s in per_view.items()},
                 **{f"n2/{v}": s for v, s in n2_scores.items()})
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary


def write_plots(out: Path, task: Task, records: list[dict], views: list[str],
                efficiencies: list[float], curves: dict, n2: dict) -> list[Path]:
    """ROC, sub-class ROC and Wasserstein bars of the largest labelled set; the label-efficiency
    plots of every set."""
    rows = tables.collect_rows(records, views)
    largest = max(curves) if curves else 0
    roc = {label: result["roc"] for label, result in curves.get(largest, {}).items()}
    subclass = {label: result["subclass_roc"] for label, result in curves.get(largest, {}).items()}
    roc["N2"], subclass["N2"] = n2["roc"], n2["subclass_roc"]
    sig_name, bkg_name = "+".join(task.signal), "+".join(task.background)
    others = [v for v in views if v != NOMINAL]
    shown = [r for r in rows if r.mode == "n2" or r.train_size == largest]
    robust = bool(others)  # one view (a JetClass test set): no robustness to show
    return [
        plots.roc_curves(roc, out / "roc.png",
                         f"{task.name}: nominal test jets, {largest} labelled jets", sig_name,
                         bkg_name),
        plots.subclass_rocs(subclass, out / "roc_subclass.png", sig_name),
        *([plots.bars({r.name: [x for v in others for x in r.mean_std(f"wasserstein:{v}")]
                       for r in shown}, out / "wasserstein.png", "Wasserstein distance to nominal",
                      f"{task.name}: robustness ({largest} labelled jets)", others)]
          if robust else []),
        label_efficiency.plot(rows, [f"rejection@{e:g}" for e in efficiencies],
                              [f"ε_S = {e:g}" for e in efficiencies], out / "label_efficiency.png",
                              f"{bkg_name} rejection 1/ε_B",
                              f"{task.name}: rejection vs labelled jets (band: ± std over repetitions)"),
        *([label_efficiency.plot(rows, [f"wasserstein:{v}" for v in others],
                                 [f"nominal vs {v}" for v in others],
                                 out / "label_efficiency_wasserstein.png", "Wasserstein distance",
                                 f"{task.name}: robustness vs labelled jets")] if robust else []),
    ]
