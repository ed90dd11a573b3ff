"""``rs3l finetune``: a tagger on a pre-trained backbone, or the fully supervised baseline.

Modes (seed 000 §II.D, digest §1.6 and §6):

- ``fixed``: the pre-trained backbone is frozen; only the head (8 → 1 on the L2-normalised
  representation) trains: a linear probe.
- ``floating``: initialised from the pre-trained checkpoint, everything trains.
- ``lora``: the pre-trained backbone is frozen under low-rank adapters of rank
  ``finetune.lora_rank`` (:mod:`train.finetune.lora`, seed 001 §4); adapters and head train.
- ``supervised``: the same architecture trained from scratch on the same jets.

The jets: :mod:`train.finetune.labelled` (``--size`` labelled jets, the same for every mode and
backbone at a given size and repetition); the models: :mod:`train.finetune.taggers`; the loop:
:mod:`train.finetune.loop`. Writes ``model.pt`` (the tagger), ``scores.npz`` (validation
scores, nominal jets) and ``metrics.json`` (per-epoch losses and the run's description),
atomically, into ``--out``.
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
from resim.errors import ConfigError
from resim.io import atomic_path, atomic_write_text

from ..checkpoint import atomic_torch_save
from ..data import NOMINAL, OVERLAP_FLAG
from .loop import predict, train
from ..open_jets import open_jets
from .heads import MODES
from .labelled import JetSet, build_jet_set
from ..study import ALL, backbone_label, mix_label, networks, parse_size, run_config
from .taggers import build_tagger, resolve_device
from .tasks import Task, task_seed

log = logging.getLogger(__name__)


def backbone_name(backbone_path: str | Path | None) -> str | None:
    """A backbone's name: its run folder, ``results/train/<name>/checkpoint.pt``."""
    return Path(backbone_path).parent.name if backbone_path else None


def finetune(config: dict, task_name: str, mode: str, rep: int, backbone_path: str | Path | None,
             train_data: list, val_data: list, out: str | Path, size: int | str = ALL,
             run: str | None = None, val_overlaps_train: bool = False) -> dict:
    """Train one tagger and write ``model.pt``, ``scores.npz`` and ``metrics.json`` into ``out``.

    ``run`` (supervised only): the pre-training run whose network the baseline trains from
    scratch (default: the ``pretrain`` section's)."""
    if run is not None and mode != "supervised":
        raise ConfigError(f"--run {run}: names the network of a supervised baseline; a {mode} "
                          f"tagger takes its network from --backbone")
    section = config["finetune"]
    task = Task.from_config(config, task_name)
    seed = task_seed(config, task_name, rep)
    torch.manual_seed(seed)
    device = resolve_device(section["device"])
    tick = time.perf_counter()
    pretrain = run_config(config, run)["pretrain"] if run else (config.get("pretrain") or {})
    tagger = build_tagger(mode, backbone_path, pretrain.get("model"), section["head"],
                          section.get("lora_rank", 1)).to(device)
    train_data, val_data = open_jets(train_data), open_jets(val_data)
    train_data.require_apart(val_data, "validation", OVERLAP_FLAG, val_overlaps_train)
    train_set, views = build_jet_set(config, task, train_data, rep, "train", size,
                                     section["max_train_jets"])
    val_set, _ = build_jet_set(config, task, val_data, rep, "validation", ALL,
                               section["max_val_jets"])
    loaded = time.perf_counter()
    name = f"{task_name} {size} {backbone_name(backbone_path) or ''} {mode}-{rep}"
    history, best, optimizer, scheduler = train(tagger, train_set, val_set, section, seed, device,
                                                name)
    nominal_val = JetSet(val_set.dataset, val_set.rows, np.zeros(len(val_set), dtype=np.int64),
                         [NOMINAL], val_set.targets.numpy(), section["cache_mb"])
    scores = predict(tagger, nominal_val, section["batch_size"], device)
    # Where the time goes, in the log only (outputs depend on the config alone).
    log.info("%s: %d labelled jets; loading %.1f s, training %.1f s (%d epochs)", name,
             len(train_set), loaded - tick, time.perf_counter() - loaded, len(history))
    bb = backbone_name(backbone_path) if mode != "supervised" else None
    network = networks(config).get(bb or run or "", "")
    record = {
        "task": task_name, "mode": mode, "rep": rep, "seed": seed, "head": section["head"],
        "signal": list(task.signal), "background": list(task.background),
        "size": size, "train_size": len(train_set), "val_size": len(val_set), "views": views,
        # the mix as configured (``hard``, ``every``, ...): rows are named by it
        "views_label": mix_label(section["views"]),
        "backbone": str(backbone_path) if backbone_path else None, "backbone_name": bb,
        "backbone_label": backbone_label(config, bb) if bb else None,
        "network": network, "representation": tagger.representation,
        "best_epoch": best["epoch"], "history": history,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_torch_save({
        "model_config": tagger.backbone.model_config,
        "state_dict": {k: v.cpu() for k, v in tagger.state_dict().items()},
        "epoch": best["epoch"], "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "rng_state": {}, "config": config,
        "metrics": history, "head": section["head"], "mode": mode, "task": task_name,
        "train_size": len(train_set), "views": views,
        "representation": tagger.representation}, out / "model.pt")
    with atomic_path(out / "scores.npz") as tmp:
        with open(tmp, "wb") as fh:
            # the labelled jets (rows and views) too: which jets a run saw is checkable
            np.savez(fh, scores=scores, target=val_set.targets.numpy(), rows=val_set.rows,
                     train_rows=train_set.rows, train_views=train_set.view_of_row)
    atomic_write_text(out / "metrics.json", json.dumps(record, indent=2) + "\n")
    return record


# ---------------------------------------------------------------------------------------------
# CLI


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    finetune(config, args.task, args.mode, args.rep, args.backbone, args.train, args.val, args.out,
             parse_size(args.size), args.run, args.val_overlaps_train)
    return 0


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--task``, shared by ``rs3l finetune`` and ``rs3l evaluate``."""
    parser.add_argument("--config", required=True, help="run configuration (config.yaml)")
    parser.add_argument("--task", required=True, help="a key of finetune.tasks")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("finetune", help="fine-tune a tagger on a pre-trained backbone, or "
                              "train the supervised baseline",
                              description="Train one tagger for one task: on a frozen (fixed) or "
                              "trainable (floating) pre-trained backbone, or from scratch "
                              "(supervised); writes model.pt, scores.npz and metrics.json to OUT.")
    add_task_arguments(p)
    p.add_argument("--mode", required=True, choices=MODES, help="how the backbone is used: "
                   + ", ".join(MODES))
    p.add_argument("--rep", type=int, default=0, help="repetition index (seeds the run)")
    p.add_argument("--size", default=ALL, help="labelled training jets: a number or 'all' "
                   "(default; at most finetune.max_train_jets)")
    p.add_argument("--backbone", help="pre-training checkpoint (fixed/floating: weights; "
                   "supervised: architecture only)")
    p.add_argument("--run", help="supervised: the pre-training run (pretrain.runs) whose network "
                   "to train from scratch (default: the pretrain section's)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--train", nargs="+", required=True, help="paired HDF5 files for training, "
                   "or JetClass .root files (docs/datasets.md)")
    p.add_argument("--val", nargs="+", required=True, help="paired HDF5 files for validation, "
                   "or JetClass .root files")
    p.add_argument(OVERLAP_FLAG, action="store_true",
                   help="accept validation files that share shards with the training files")
    p.set_defaults(func=_run)
    declare_paths(p, inputs=("config", "backbone", "train", "val"), output_dirs=("out",),
                  runs=("backbone",))
