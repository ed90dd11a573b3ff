"""``rs3l anomaly``: dark-jet anomaly detection with an autoencoder on a frozen backbone.

Seed 001 §5.5 and Fig. 9. The autoencoder (:mod:`train.anomaly.autoencoder`) trains on the SM
jets of ``--train`` only (validated on ``--val``), on the frozen pre-trained backbone's representation
(``anomaly.representation``: ``auto``, the default, is ``mean`` (seed 001's choice: the
per-particle encodings averaged over the jet, narrower than an ``anomaly.latent`` bottleneck
would need to be to pass everything through) for a backbone with per-particle encodings, else
``output``; ``pooled`` sums the encodings); every dark-jet sample (``--dark NAME FILE...``) is
scored against the SM jets
of ``--test``, its jets resampled to their (pT, η) distribution. For ``anomaly.benchmark`` the
fully supervised benchmark (FSV) is trained too: the backbone's architecture from scratch with
the MLP head, on balanced SM and dark jets (the ``finetune`` section's training recipe); its
dark jets are split 60 / 20 / 20 into training, validation and test, and both methods are
scored on the same test jets. All jets are the nominal view's.

Writes into ``--out``: ``metrics.json`` (AUC and SM rejection at each ``evaluate.efficiencies``
per dark model and for the FSV, jet counts, training histories), ``auc.md`` (the table),
``roc.png`` (Fig. 9), ``scores.npz`` and ``autoencoder.pt``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from resim.cliutil import declare_paths
from resim.config import load_config
from resim.contracts import JET_FIELDS, LABEL_CODE
from resim.dataset.reader import PairedDataset
from resim.errors import ConfigError
from resim.io import atomic_path, atomic_write_text
from resim.seeds import derive_seed

from . import checks  # noqa: F401 (registers the anomaly section's config checks)
from .autoencoder import pooled_representation, resample_to, train_autoencoder
from .plot import roc_figure
from ..checkpoint import atomic_torch_save
from ..data import NOMINAL, jet_features
from ..evaluate import metrics
from ..finetune.loop import predict, train
from ..finetune.heads import Tagger
from ..finetune.labelled import JetSet
from ..models import get_model, load_backbone
from ..models.common import JetBackbone
from ..finetune.taggers import output_dim, resolve_device
from ..finetune.tasks import SEED_STREAM

log = logging.getLogger(__name__)

#: FSV: fractions of a dark sample's jets for training, validation and test.
FSV_SPLIT = (0.6, 0.2, 0.2)
_PT, _ETA = JET_FIELDS.index("pt"), JET_FIELDS.index("eta")


def _rng(config: dict, what: str) -> np.random.Generator:
    return np.random.default_rng(derive_seed(config["run"]["seed"], "anomaly", 0, what,
                                             SEED_STREAM))


def _first(rows: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """At most ``cap`` of ``rows``, a random choice, sorted."""
    if cap is None or len(rows) <= cap:
        return rows
    return np.sort(rng.permutation(rows)[:cap])


def _sm_rows(dataset: PairedDataset) -> np.ndarray:
    return np.flatnonzero(dataset.labels != LABEL_CODE["dark"])


def _dark_rows(dataset: PairedDataset, name: str) -> np.ndarray:
    rows = np.flatnonzero(dataset.labels == LABEL_CODE["dark"])
    if len(rows) == 0:
        raise ConfigError(f"anomaly.samples: {name} ({', '.join(map(str, dataset.paths))}) holds "
                          "no dark jet")
    return rows


def _kinematics(dataset: PairedDataset, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    jet = dataset.read(NOMINAL, rows).jet
    return jet[:, _PT].astype(np.float64), jet[:, _ETA].astype(np.float64)


def representation_kind(backbone: torch.nn.Module, kind: str) -> str:
    """``anomaly.representation`` for this backbone: ``auto`` is ``mean`` where the backbone
    has per-particle encodings (every :class:`~train.models.common.JetBackbone`), else
    ``output``."""
    if kind != "auto":
        return kind
    return "mean" if isinstance(backbone, JetBackbone) else "output"


def representations(backbone: torch.nn.Module, dataset: PairedDataset, rows: np.ndarray,
                    batch_size: int, device: torch.device, kind: str = "output") -> torch.Tensor:
    """The frozen backbone's representation of ``rows`` (any order, repeats allowed): its
    output (``kind="output"``) or its per-particle encodings averaged (``"mean"``) or summed
    (``"pooled"``) over each jet."""
    order = np.argsort(rows, kind="stable")
    parts = []
    for start in range(0, len(rows), batch_size):
        features, mask = jet_features(dataset, NOMINAL, rows[order[start:start + batch_size]])
        features, mask = torch.from_numpy(features).to(device), torch.from_numpy(mask).to(device)
        if kind in ("pooled", "mean"):
            parts.append(pooled_representation(backbone, features, mask,
                                               "mean" if kind == "mean" else "sum"))
        else:
            with torch.no_grad():
                parts.append(backbone(features, mask))
    out = torch.cat(parts)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return out[torch.from_numpy(inverse).to(device)]


def _summary(target: np.ndarray, scores: np.ndarray, efficiencies: list[float]) -> dict:
    tpr, fpr = metrics.roc(target, scores)
    return {"auc": metrics.auc(target, scores),
            "rejection": {f"{e:g}": metrics.rejection_at(target, scores, [e])[0]
                          for e in efficiencies},
            "roc": (tpr, fpr)}


def _dark_parts(config: dict, name: str, dataset: PairedDataset, benchmark: bool
                ) -> dict[str, np.ndarray]:
    """A dark sample's jets: all for the test, or (benchmark) 60/20/20 train/val/test."""
    rows = _dark_rows(dataset, name)
    if not benchmark:
        return {"test": rows}
    order = _rng(config, f"split:{name}").permutation(rows)
    n_train, n_val = (int(round(f * len(rows))) for f in FSV_SPLIT[:2])
    return {"train": np.sort(order[:n_train]), "val": np.sort(order[n_train:n_train + n_val]),
            "test": np.sort(order[n_train + n_val:])}


def _resampled(config: dict, name: str, part: str, dataset: PairedDataset, rows: np.ndarray,
               ref: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    pt, eta = _kinematics(dataset, rows)
    return rows[resample_to(pt, eta, *ref, n, _rng(config, f"resample:{name}:{part}"))]


def supervised_benchmark(config: dict, model_config: dict, sm: dict, dark: PairedDataset,
                         dark_rows: dict, device: torch.device) -> tuple[np.ndarray, list]:
    """FSV: the backbone architecture from scratch + MLP head on balanced SM and dark jets;
    returns the scores of the test jets (SM test, then dark test) and the training history."""
    section = dict(config["finetune"])
    seed = derive_seed(config["run"]["seed"], "anomaly", 0, "supervised", SEED_STREAM)
    torch.manual_seed(seed)
    sets = {}
    for part in ("train", "val", "test"):
        sm_data, sm_rows = sm[part]
        if part != "test":  # balanced
            n = min(len(sm_rows), len(dark_rows[part]))
            sm_rows = _first(sm_rows, n, _rng(config, f"fsv:{part}"))
            dark_part = dark_rows[part][:n]
        else:
            dark_part = dark_rows[part]
        both = PairedDataset([*sm_data.paths, *dark.paths])
        rows = np.concatenate([sm_rows, len(sm_data) + dark_part])
        targets = np.concatenate([np.zeros(len(sm_rows)), np.ones(len(dark_part))]).astype(np.float32)
        sets[part] = JetSet(both, rows, np.zeros(len(rows), dtype=np.int64), [NOMINAL], targets,
                            section["cache_mb"])
    backbone = get_model(model_config)
    tagger = Tagger(backbone, output_dim(backbone), head="mlp").to(device)
    history, _, _, _ = train(tagger, sets["train"], sets["val"], section, seed, device,
                             "anomaly FSV")
    return predict(tagger, sets["test"], section["batch_size"], device), history


def run(config: dict, backbone_path: str | Path, train_files: list, val_files: list,
        test_files: list, dark_files: dict[str, list], out: str | Path) -> dict:
    section = config["anomaly"]
    efficiencies = list(config["evaluate"]["efficiencies"])
    device = resolve_device(section["device"])
    tick = time.perf_counter()
    backbone = load_backbone(backbone_path).to(device)
    backbone.requires_grad_(False)
    batch = section["batch_size"]
    kind = representation_kind(backbone, section["representation"])

    sm = {}
    for part, files, cap in (("train", train_files, section["max_train_jets"]),
                             ("val", val_files, section["max_val_jets"]),
                             ("test", test_files, section["max_test_jets"])):
        data = PairedDataset(files)
        if part != "train":  # the autoencoder must be judged on jets it was not trained on
            sm["train"][0].require_apart(data, part)
        sm[part] = (data, _first(_sm_rows(data), cap, _rng(config, f"sm:{part}")))
    x = {part: representations(backbone, data, rows, batch, device, kind)
         for part, (data, rows) in sm.items()}
    ae_seed = derive_seed(config["run"]["seed"], "anomaly", 0, "autoencoder", SEED_STREAM)
    autoencoder, ae_history = train_autoencoder(x["train"], x["val"], section["epochs"], batch,
                                                section["lr"], ae_seed, section["patience"],
                                                section["latent"])
    sm_score = autoencoder.score(x["test"])
    ref = _kinematics(*sm["test"])

    results, scores, curves = {}, {"sm": sm_score}, {}
    fsv = None
    for name, files in dark_files.items():
        data = PairedDataset(files)
        parts = _dark_parts(config, name, data, name == section["benchmark"])
        parts = {part: _resampled(config, name, part, data, rows, ref,
                                  min(len(rows), section["max_dark_jets"]))
                 for part, rows in parts.items()}
        dark_score = autoencoder.score(representations(backbone, data, parts["test"], batch,
                                                       device, kind))
        target = np.concatenate([np.zeros(len(sm_score)), np.ones(len(dark_score))])
        summary = _summary(target, np.concatenate([sm_score, dark_score]), efficiencies)
        curves[f"AE {name}"] = summary.pop("roc")
        results[name] = {**summary, **auc_spread(config, name, sm_score, dark_score,
                                                 parts["test"]),
                         "dark_jets": int(len(dark_score)),
                         "dark_jets_available": int(len(_dark_rows(data, name)))}
        scores[name] = dark_score
        if name == section["benchmark"]:
            fsv_scores, history = supervised_benchmark(config, backbone.model_config, sm, data,
                                                       parts, device)
            n_sm = len(sm_score)
            fsv = {**_summary(target, fsv_scores, efficiencies),
                   **auc_spread(config, f"fsv:{name}", fsv_scores[:n_sm], fsv_scores[n_sm:],
                                parts["test"]),
                   "dark_jets": int(len(dark_score)), "model": name,
                   "train_jets": 2 * min(len(sm["train"][1]), len(parts["train"])),
                   "history": history}
            curves[f"FSV {name}"] = fsv.pop("roc")
            scores[f"fsv_{name}"] = fsv_scores
    record = {"backbone": str(backbone_path), "representation": kind,
              "input_dim": int(x["train"].shape[1]), "latent": section["latent"], "sm_train_jets": int(len(sm["train"][1])),
              "sm_test_jets": int(len(sm_score)), "models": results, "supervised": fsv,
              "autoencoder_history": ae_history, "efficiencies": efficiencies}
    log.info("anomaly: %s in %.1f s", {k: round(v["auc"], 3) for k, v in results.items()},
             time.perf_counter() - tick)
    _write(Path(out), record, scores, curves, autoencoder)
    return record


def auc_spread(config: dict, name: str, sm_score: np.ndarray, dark_score: np.ndarray,
               dark_rows: np.ndarray) -> dict:
    """The AUC's spread over test sets: SM test jets and *distinct* dark jets resampled with
    replacement (``evaluate.bootstrap`` times). The dark jets were drawn with replacement to the
    SM (pT, eta) spectrum, so copies of one jet are not independent: each distinct jet is drawn
    with all its copies, and their number is reported beside the AUC."""
    distinct, first, copies = np.unique(dark_rows, return_index=True, return_counts=True)
    rng = _rng(config, f"bootstrap:{name}")
    n_boot = int(config["evaluate"]["bootstrap"])
    sm_w = metrics.bootstrap_weights(len(sm_score), n_boot, rng)
    dark_w = metrics.bootstrap_weights(len(distinct), n_boot, rng) * copies
    target = np.concatenate([np.zeros(len(sm_score)), np.ones(len(distinct))])
    aucs = metrics.bootstrap_auc(target, np.concatenate([sm_score, dark_score[first]]),
                                 np.concatenate([sm_w, dark_w], axis=1))
    return {"auc_std": float(aucs.std()), "dark_jets_distinct": int(len(distinct))}


def auc_table(record: dict) -> str:
    """The Markdown table of ``metrics.json``: AUC and SM rejection per dark model."""
    effs = [f"{e:g}" for e in record["efficiencies"]]
    lines = ["| Method | Dark model | dark jets (distinct) | AUC ± σ (test sets) | "
             + " | ".join(f"1/ε_SM at ε_dark = {e}" for e in effs) + " |",
             "|---|---|---|---|" + "---|" * len(effs)]
    rows = [("SSL + AE", name, r) for name, r in record["models"].items()]
    if record["supervised"]:
        rows.append(("FSV", record["supervised"]["model"], record["supervised"]))
    for method, name, r in rows:
        n = r.get("dark_jets", "")
        if "dark_jets_distinct" in r:
            n = f"{n} ({r['dark_jets_distinct']})"
        spread = f" ± {r['auc_std']:.3f}" if "auc_std" in r else ""
        lines.append(f"| {method} | {name} | {n} | {r['auc']:.3f}{spread} | "
                     + " | ".join(f"{r['rejection'][e]:.2f}" for e in effs) + " |")
    return "\n".join(lines) + "\n"


def _write(out: Path, record: dict, scores: dict, curves: dict, autoencoder) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_torch_save({"state_dict": autoencoder.state_dict()}, out / "autoencoder.pt")
    with atomic_path(out / "scores.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **scores)
    atomic_write_text(out / "auc.md", auc_table(record))
    atomic_write_text(out / "metrics.json", json.dumps(record, indent=2) + "\n")
    roc_figure(curves, out / "roc.png")


# ---------------------------------------------------------------------------------------------
# CLI


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    dark = {}
    for entry in args.dark:
        if len(entry) < 2:
            raise ConfigError(f"--dark {' '.join(entry)}: give a sample name and its files")
        dark[entry[0]] = entry[1:]
    run(config, args.backbone, args.train, args.val, args.test, dark, args.out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("anomaly", help="dark-jet anomaly detection: an autoencoder on the "
                              "frozen backbone, trained on SM jets",
                              description="Train an autoencoder on the frozen backbone's "
                              "representation of SM jets, score dark jets (log(1 - cos)), and the "
                              "fully supervised benchmark for anomaly.benchmark; writes "
                              "metrics.json, auc.md, roc.png, scores.npz to OUT.")
    p.add_argument("--config", required=True, help="run configuration (config.yaml)")
    p.add_argument("--backbone", required=True, help="pre-training checkpoint")
    p.add_argument("--train", nargs="+", required=True, help="SM jets to train on")
    p.add_argument("--val", nargs="+", required=True, help="SM jets to validate on")
    p.add_argument("--test", nargs="+", required=True, help="SM jets to test on")
    p.add_argument("--dark", nargs="+", action="append", required=True, metavar="NAME FILE",
                   help="a dark-jet sample: its name, then its paired files (repeat per sample)")
    p.add_argument("--out", required=True, help="output directory (results/anomaly)")
    p.set_defaults(func=_run)
    declare_paths(p, inputs=("config", "backbone", "train", "val", "test", "dark"),
                  output_dirs=("out",), runs=("backbone",))
