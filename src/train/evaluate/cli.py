"""``rs3l evaluate``: score held-out jets with every fine-tuned model and write tables and plots.

One pass over the test jets per view feeds every tagger and the pre-trained backbone, so the
(expensive) feature computation is done once. Outputs in ``--out`` (``results/evaluate/<task>``):

- ``rejection.{csv,md}``, ``wasserstein.{csv,md}``, ``knn.{csv,md}``: the seed's tables;
- ``metrics.json``: every number per model (and N2), the representation statistics;
- ``scores.npz``: the scores per model and view (``<model>/<view>``), labels and rows;
- ``roc.png``, ``roc_subclass.png`` (seed 000 Fig. 7), ``wasserstein.png``; with ``--backbone``
  also ``discriminating_dim.png``, ``corner.png``, ``tsne.png`` (seed 000 Figs. 3–5) and, drawn
  by pre-training's own plotter from the checkpoint's history, ``cosine.png`` (Fig. 2, pair
  cosine vs epoch up to the selected epoch) and ``curves.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from resim.config import load_config
from resim.dataset.reader import PairedDataset
from resim.dataset.schema import JET_FIELDS
from resim.errors import ConfigError
from resim.io import atomic_path, atomic_write_text
from resim.seeds import derive_seed

from ..checkpoint import load_checkpoint
from ..data import NOMINAL
from ..finetune import Task, add_task_arguments, load_tagger, network_inputs, resolve_device
from ..metrics_log import plot_curves
from ..models import load_backbone
from . import metrics, plots, representation, tables

log = logging.getLogger(__name__)

_N2 = JET_FIELDS.index("n2")
_SEED_STREAM = "train"


def score_views(dataset: PairedDataset, rows: np.ndarray, taggers: dict, backbone, batch_size: int,
                device: torch.device) -> dict:
    """Scores of every tagger in every view, the taggers' and the backbone's representations, N2.

    Returns ``{"scores": {model: {view: (n,)}}, "embedding": {model: (n, d)}`` (nominal jets),
    ``"backbone": {view: (n, d)}``, ``"n2": {view: (n,)}}``, all in the order of ``rows``.
    """
    out = {"scores": {m: {} for m in taggers}, "embedding": {m: [] for m in taggers}, "backbone": {},
           "n2": {}}
    for view in dataset.views:
        parts = {m: [] for m in taggers}
        emb, n2 = [], []
        for start in range(0, len(rows), batch_size):
            jets = dataset.read(view, rows[start:start + batch_size])
            n2.append(jets.jet[:, _N2])
            features, mask = (torch.from_numpy(a).to(device) for a in network_inputs(jets))
            with torch.no_grad():
                for name, tagger in taggers.items():
                    z = tagger.embed(features, mask)
                    parts[name].append(torch.sigmoid(tagger.classify(z)).cpu().numpy())
                    if view == NOMINAL:
                        out["embedding"][name].append(z.cpu().numpy())
                if backbone is not None:
                    emb.append(F.normalize(backbone(features, mask), dim=1).cpu().numpy())
        for name in taggers:
            out["scores"][name][view] = np.concatenate(parts[name])
        out["n2"][view] = np.concatenate(n2)
        if backbone is not None:
            out["backbone"][view] = np.concatenate(emb)
    out["embedding"] = {m: np.concatenate(e) for m, e in out["embedding"].items()}
    return out


def tagger_metrics(scores: dict[str, np.ndarray], target: np.ndarray, labels: np.ndarray,
                   label_names: list[str], balanced: np.ndarray, efficiencies: list[float],
                   weights: np.ndarray) -> dict:
    """Rejection (step ROC, with the background count behind it and bootstrap resamples over
    ``weights``) and AUC on nominal jets, Wasserstein per view on the balanced rows, sub-class ROCs."""
    nominal = scores[NOMINAL]
    values = {}
    for e, point in zip(efficiencies, metrics.working_points(target, nominal, efficiencies)):
        values.update({f"rejection@{e:g}": point.rejection, f"n_pass@{e:g}": point.n_pass,
                       f"bound@{e:g}": float(point.bound)})
    values["n_background"] = float((target == 0).sum())
    values["auc"] = metrics.auc(target, nominal)
    for view, w in metrics.view_wasserstein({v: s[balanced] for v, s in scores.items()}).items():
        values[f"wasserstein:{view}"] = w
    boot = metrics.bootstrap_rejection(target, nominal, weights, efficiencies)
    signal = target.astype(bool)
    subclass = {}
    for code in np.unique(labels[~signal]):
        sel = signal | (labels == code)
        subclass[label_names[code]] = metrics.roc(target[sel], nominal[sel])
    return {"values": values, "roc": metrics.roc(target, nominal), "subclass_roc": subclass,
            "bootstrap": {f"rejection@{e:g}": b.tolist() for e, b in zip(efficiencies, boot)}}


def _knn(embedding: np.ndarray, labels: np.ndarray, config: dict, rng: np.random.Generator) -> dict:
    section = config["evaluate"]["knn"]
    take = rng.permutation(len(labels))[:section["max_jets"]]
    return metrics.knn_accuracy(embedding[take], labels[take], section["k"], tuple(section["fractions"]),
                                rng)


def _model_record(path: Path) -> dict:
    record = json.loads((path / "metrics.json").read_text())
    return {"name": path.name, "mode": record["mode"], "rep": record["rep"],
            "train_size": record["train_size"], "views": record["views"]}


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


def reference_n2(config: dict, task: Task, val: list) -> tuple[np.ndarray, np.ndarray]:
    """(nominal N2, target) of the task's validation jets: N2's orientation and scale come from
    them, never from the test jets it is scored on."""
    dataset = PairedDataset(val)
    rows, target = task.select(dataset)
    return dataset.read(NOMINAL, rows).jet[:, _N2], target


def evaluate(config: dict, task_name: str, out: str | Path, test: list, model_dirs: list,
             backbone_path: str | Path | None = None, val: list | None = None) -> dict:
    """Evaluate the models of ``model_dirs`` on the task's jets of ``test``; write into ``out``."""
    section = config["evaluate"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task = Task.from_config(config, task_name)
    seed = derive_seed(config["run"]["seed"], f"evaluate:{task_name}", 0, "all", _SEED_STREAM)
    rng = np.random.default_rng(seed)
    dataset = PairedDataset(test)
    rows, target = task.select(dataset)
    if section["max_test_jets"] and len(rows) > section["max_test_jets"]:
        keep = np.sort(rng.choice(len(rows), section["max_test_jets"], replace=False))
        rows, target = rows[keep], target[keep]
    labels = dataset.labels[rows]
    device = resolve_device(section["device"])
    model_dirs = sorted(Path(d) for d in model_dirs)
    taggers = {d.name: load_tagger(d / "model.pt", map_location=device)[0].to(device) for d in model_dirs}
    backbone = load_backbone(backbone_path, map_location=device).to(device) if backbone_path else None
    log.info("%s: %d test jets, %d models, views %s", task_name, len(rows), len(taggers), dataset.views)
    scored = score_views(dataset, rows, taggers, backbone, section["batch_size"], device)

    efficiencies = list(section["efficiencies"])
    balanced = (metrics.balanced_rows(target, rng) if section["balance_wasserstein"]
                else np.arange(len(rows)))
    records, knn_records, roc_curves, subclass = [], [], {}, {}
    if not val:
        raise ConfigError("rs3l evaluate: --val (the validation split) is needed to fix N2's "
                          "orientation and scale")
    n2_scores, n2_sign = metrics.n2_scores(scored["n2"], *reference_n2(config, task, val))
    weights = metrics.bootstrap_weights(len(rows), section["bootstrap"], rng)
    n2 = tagger_metrics(n2_scores, target, labels, dataset.label_names, balanced, efficiencies,
                        weights)
    records.append({"name": "n2", "mode": "n2", "train_size": 0, "views": dataset.views,
                    "values": n2["values"], "bootstrap": n2["bootstrap"], "n2_sign": n2_sign})
    for d in model_dirs:
        rec = _model_record(d)
        result = tagger_metrics(scored["scores"][d.name], target, labels, dataset.label_names, balanced,
                                efficiencies, weights)
        rec.update(values=result["values"], bootstrap=result["bootstrap"])
        records.append(rec)
        knn = _knn(scored["embedding"][d.name], labels, config, rng)
        knn_records.append({**rec, "values": {"knn": knn["accuracy"]}, "knn": knn})
        label = tables.row_name(rec["mode"], rec["train_size"],
                                tables.view_set_label(rec["views"], dataset.views))
        roc_curves.setdefault(label, result["roc"])
        subclass.setdefault(label, result["subclass_roc"])
    roc_curves["N2"] = n2["roc"]
    subclass["N2"] = n2["subclass_roc"]

    written = tables.write_tables(out, task_name, records, dataset.views, efficiencies, knn_records)
    sig_name, bkg_name = "+".join(task.signal), "+".join(task.background)
    written.append(plots.roc_curves(roc_curves, out / "roc.png", f"{task_name}: nominal test jets",
                                    sig_name, bkg_name))
    written.append(plots.subclass_rocs(subclass, out / "roc_subclass.png", sig_name))
    rows_table = tables.collect_rows(records, dataset.views)
    others = [v for v in dataset.views if v != NOMINAL]
    written.append(plots.bars({r.name: [x for v in others for x in r.mean_std(f"wasserstein:{v}")]
                               for r in rows_table}, out / "wasserstein.png",
                              "Wasserstein distance to nominal", f"{task_name}: robustness", others))
    summary = {"task": task_name, "test_files": [str(p) for p in dataset.paths], "n_test": len(rows),
               "n_signal": int(target.sum()), "n_wasserstein": len(balanced), "views": dataset.views,
               "n2_orientation": "-N2" if n2_sign < 0 else "+N2",
               "n_background": int((target == 0).sum()), "bootstrap": section["bootstrap"],
               "models": records, "knn": knn_records}
    if backbone is not None:
        base_knn = _knn(scored["backbone"][NOMINAL], labels, config, rng)
        stats = representation_plots(out, scored["backbone"], target, task, config, rng, seed)
        plot_curves(out, load_checkpoint(backbone_path)["metrics"])
        written += [out / "cosine.png", out / "curves.png"]
        summary["backbone"] = {"path": str(backbone_path), "knn": base_knn, **stats}
    with atomic_path(out / "scores.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, rows=rows, labels=labels, target=target,
                 **{f"{m}/{v}": s for m, per_view in scored["scores"].items() for v, s in per_view.items()},
                 **{f"n2/{v}": s for v, s in n2_scores.items()})
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    # "--test DATA... MODELDIR..." (INTERFACES.md): argparse hands everything after the last
    # file option to it; datasets are files and model outputs are directories, so they separate.
    test = [Path(p) for p in args.test if not Path(p).is_dir()]
    val = [Path(p) for p in args.val if not Path(p).is_dir()]
    models = [Path(p) for p in [*args.test, *args.val, *args.models] if Path(p).is_dir()]
    if not models:
        raise ConfigError("rs3l evaluate: no model directory given (fine-tuning outputs <mode>-<rep>/)")
    evaluate(config, args.task, args.out, test, models, args.backbone, val)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="score test jets with fine-tuned models; write the "
                              "seed's tables and plots",
                              description="Score the held-out jets with every fine-tuned model of "
                              "a task (and the backbone) and write the seed's tables "
                              "(rejection, Wasserstein, kNN), metrics.json, scores.npz and plots "
                              "into OUT.")
    add_task_arguments(p)
    p.add_argument("--out", required=True, help="output directory (results/evaluate/<task>)")
    p.add_argument("--test", nargs="+", required=True, help="paired HDF5 files of held-out jets")
    p.add_argument("--val", nargs="+", required=True, help="paired HDF5 files of the validation "
                   "split (N2's orientation and scale)")
    p.add_argument("--backbone", help="pre-training checkpoint: adds the representation plots, its "
                   "kNN accuracy and its training curves")
    p.add_argument("models", nargs="*", help="fine-tuning output directories (<mode>-<rep>)")
    p.set_defaults(func=_run)
