"""``rs3l pretrain``: pre-training of an RS3L backbone, contrastive (NT-Xent) or MPM.

``pretrain.objective`` picks what the loop optimises: ``contrastive`` (RS3L: NT-Xent between a
nominal jet and one of its re-simulated views) or ``mpm`` (masked particle modelling on the
nominal jets, :mod:`train.pretrain.mpm`). Both share this loop, the loader, checkpoints,
resume and DDP.

Writes into ``--out``: ``last.pt`` (every epoch), ``checkpoint.pt`` (lowest validation loss),
``config.yaml`` (the configuration it ran with), ``metrics.csv``/``metrics.json`` and the
plots ``curves.png``/``cosine.png``. ``--resume`` continues from ``last.pt`` and ends with the
weights an uninterrupted run would have. Under ``torchrun`` it trains with DDP (NCCL on GPUs,
gloo on CPUs): every rank draws its own batches of pairs and gradients are averaged.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from resim.cliutil import check_paths, declare_paths
from resim.config import load_config
from resim.dataset.reader import PairedDataset
from resim.errors import ConfigError, ResimError
from resim.io import atomic_write_text, remove_stale_temporaries
from resim.seeds import derive_seed

from ..checkpoint import load_checkpoint, save_checkpoint, set_rng_state, unwrap
from .contrastive import Contrastive, collapse_warning
from ..data import (OVERLAP_FLAG, PairWindows, batches_per_rank, iterate_batches, make_loader,
                   split_blocks)
from .distributed import Distributed
from ..open_jets import open_jets
from ..metrics_log import plot_curves, write_metrics
from ..models import get_model, resolve_model_config
from ..study import backbone_names, resolve_views, run_config, view_forks
from .mpm import MaskedParticleModelling

log = logging.getLogger(__name__)


def train_seed(config: dict, purpose: str) -> int:
    """The seed of one training stream ("loader", "split", "init"), derived from run.seed and
    the pre-training repetition ``pretrain.rep`` (0 draws what a study without repetitions
    drew). The backbone's name is left out on purpose: the backbones of one repetition start
    from the same weights and draw the same batches, so two rows differ by their objective or
    views, not by their luck (a paired comparison); the repetitions give the luck its spread."""
    rep = int((config.get("pretrain") or {}).get("rep", 0))
    return derive_seed(config["run"]["seed"], "pretrain", rep, purpose, "train")


def objective_rows(cfg: dict) -> str:
    """What one row of the training set is to ``pretrain.objective`` (for messages)."""
    return "nominal jets" if cfg["objective"] == "mpm" else "pairs"


def make_objective(config: dict, label_names: list[str]) -> Contrastive | MaskedParticleModelling:
    """The objective of ``pretrain.objective``."""
    cfg = config["pretrain"]
    if cfg["objective"] == "mpm":
        return MaskedParticleModelling(cfg["mpm"], kmeans_seed=train_seed(config, "kmeans"),
                                       val_seed=train_seed(config, "mask"))
    return Contrastive(cfg, label_names, resolve_model_config(cfg["model"])["head"][-1])


def build_optimiser(model: torch.nn.Module, cfg: dict, steps_per_epoch: int):
    """Adam and the schedule of ``pretrain.schedule``; returns (optimizer, scheduler, per_batch)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    if cfg["schedule"] == "one_cycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg["lr"], epochs=cfg["epochs"], steps_per_epoch=max(steps_per_epoch, 1))
        return optimizer, scheduler, True
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, cfg["step_size"], cfg["gamma"])
    return optimizer, scheduler, False


def open_data(paths: list[Path], val_paths: list[Path] | None, cfg: dict, config: dict,
              val_overlaps_train: bool = False):
    """(train windows, validation windows or None, label names) from the data files and config.

    Masked particle modelling reads the nominal jets only (windows with no augmented view).
    Validation files must be of the training files' config and, unless ``val_overlaps_train``,
    share no shard with them.
    """
    def views_of(dataset: PairedDataset) -> list[str]:
        if cfg["objective"] == "mpm":
            return []
        return resolve_views(cfg["views"], dataset.views, view_forks(config))

    train_set = open_jets(paths)
    views = views_of(train_set)
    seed = train_seed(config, "loader")
    common = {"batch_size": cfg["batch_size"], "block": cfg["block"], "window": cfg["window"]}
    rows = torch.arange(len(train_set)).numpy()
    if val_paths:
        val_set, val_rows = open_jets(val_paths), None
        train_set.require_apart(val_set, "validation", OVERLAP_FLAG, val_overlaps_train)
    else:
        rows, val_rows = split_blocks(rows, cfg["block"], cfg["val_fraction"],
                                      train_seed(config, "split"))
        val_set = train_set
    train = PairWindows(train_set, rows, views, seed=seed, shuffle=True, **common)
    if val_rows is not None and len(val_rows) == 0:
        return train, None, train_set.label_names
    val_rows = torch.arange(len(val_set)).numpy() if val_rows is None else val_rows
    val = PairWindows(val_set, val_rows, views_of(val_set), seed=seed, shuffle=False, **common)
    return train, val, train_set.label_names


def run_pretrain(config: dict, data: list[Path], out: Path, *, val: list[Path] | None = None,
                 resume: bool = False, stop_after: int | None = None,
                 val_overlaps_train: bool = False) -> list[dict]:
    """Pre-train as ``config["pretrain"]`` says; returns the per-epoch metrics of the whole run.

    ``stop_after`` ends this invocation after that many epochs (a later ``resume`` continues).
    """
    ddp = Distributed(config["pretrain"]["device"])
    metrics = _train(config, data, Path(out), ddp, val=val, resume=resume, stop_after=stop_after,
                     val_overlaps_train=val_overlaps_train)
    # Only now, with the DDP model released, may the process group go: destroying it under a
    # live DistributedDataParallel can hang. After an error it is left to the process exit.
    gc.collect()
    ddp.close()
    return metrics


def _train(config: dict, data: list[Path], out: Path, ddp: Distributed, *, val: list[Path] | None,
           resume: bool, stop_after: int | None, val_overlaps_train: bool) -> list[dict]:
    cfg = config["pretrain"]
    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    last = out / "last.pt"
    if last.exists() and not resume:
        raise ConfigError(f"{out} already holds a pre-training run (last.pt): pass --resume to "
                          f"continue it or remove the directory")
    train, val, label_names = open_data(data, val, cfg, config, val_overlaps_train)
    n_batches = batches_per_rank(train, ddp.world)
    if cfg["max_batches"]:
        n_batches = min(n_batches, cfg["max_batches"])
    if n_batches == 0:
        raise ConfigError(f"{len(train.rows)} training {objective_rows(cfg)} make no full batch of "
                          f"pretrain.batch_size = {cfg['batch_size']} per rank ({ddp.world} ranks; batches are "
                          f"drawn from whole blocks of pretrain.block rows): generate more "
                          f"events or lower pretrain.batch_size / pretrain.block")
    if ddp.main:
        log.info("%d training rows (%s): %d batches of %d per epoch and rank (%d ranks)",
                 len(train.rows), objective_rows(cfg), n_batches, cfg["batch_size"], ddp.world)
    train_loader = make_loader(train, workers=cfg["workers"], rank=ddp.rank, world=ddp.world)
    val_loader = make_loader(val, workers=cfg["workers"], rank=ddp.rank, world=ddp.world) \
        if val is not None else None

    objective = make_objective(config, label_names)
    torch.manual_seed(train_seed(config, "init"))
    model = objective.build(get_model(cfg["model"])).to(ddp.device)
    optimizer, scheduler, per_batch = build_optimiser(model, cfg, n_batches)
    metrics: list[dict] = []
    trainer = {"best": float("inf"), "bad_epochs": 0}
    start = 0
    if resume and last.exists():
        metrics, trainer, start = restore(last, model, optimizer, scheduler, objective)
        log.info("resuming %s after epoch %d", out, start)
    else:
        objective.prepare(model, train)
    if ddp.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ddp.device.index] if ddp.device.type == "cuda" else None)
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        # a run killed while writing leaves a temporary file; checkpoint.pt's would outlive the
        # resumed run when validation no longer improves: every output's goes now
        for name in RUN_FILES:
            remove_stale_temporaries(out / name)
        atomic_write_text(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))

    end = cfg["epochs"] if stop_after is None else min(cfg["epochs"], start + stop_after)
    for epoch in range(start, end):
        if cfg["patience"] and trainer["bad_epochs"] >= cfg["patience"]:
            log.info("early stop: no better validation loss for %d epochs", cfg["patience"])
            break
        tick = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        stats = objective.stats(ddp.device)
        batches = tqdm(iterate_batches(train_loader, epoch, n_batches), total=n_batches,
                       desc=f"epoch {epoch + 1}/{cfg['epochs']}",
                       disable=not ddp.main or None, leave=False)
        train_epoch(model, batches, optimizer, scheduler if per_batch else None, stats, objective,
                    ddp.device)
        if not per_batch:
            scheduler.step()
        row = {"epoch": epoch + 1, "lr": lr, **stats.summary("train", ddp.sum)}
        # Throughput goes to the log, not into metrics (the checkpoint holds them, and its
        # bytes must depend on the config alone).
        jets_per_s = objective.jets_per_row * n_batches * cfg["batch_size"] * ddp.world / \
            (time.perf_counter() - tick)
        if val_loader is not None:
            row.update(run_validation(unwrap(model), val_loader, objective, ddp))
        score = row.get("val_loss", row["train_loss"])
        improved = score < trainer["best"]
        trainer = {"best": min(score, trainer["best"]),
                   "bad_epochs": 0 if improved else trainer["bad_epochs"] + 1}
        metrics.append(row)
        warning = collapse_warning(row, cfg["collapse_gap"])
        if warning and ddp.main:
            log.warning(warning)
        if ddp.main:
            save_epoch(out, model, epoch + 1, optimizer, scheduler, config, metrics, trainer,
                       improved, objective)
            log.info("epoch %d (%.0f training jets/s, %.1f s): %s", epoch + 1, jets_per_s,
                     time.perf_counter() - tick, ", ".join(
                         f"{k}={v:.4g}" for k, v in row.items() if k.endswith(objective.log_keys)))
        ddp.barrier()
    return metrics


def restore(path: Path, model, optimizer, scheduler, objective) -> tuple[list[dict], dict, int]:
    """Load ``last.pt`` into the run's objects; returns (metrics, trainer state, epochs done)."""
    state = load_checkpoint(path)  # on the CPU: the optimiser moves its state to the parameters
    backbone = objective.backbone(model)
    if state["model_config"] != backbone.model_config:
        raise ConfigError(f"pretrain.model {backbone.model_config} differs from the run in "
                          f"{path} ({state['model_config']}): resume with the run's config.yaml")
    backbone.load_state_dict(state["state_dict"])
    objective.restore_extra(model, state, path)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng_state"])
    return state["metrics"], state["trainer"], state["epoch"]


def train_epoch(model, batches, optimizer, batch_scheduler, stats, objective,
                device: torch.device) -> None:
    """One pass of optimiser steps over ``batches`` (a per-batch scheduler steps with them)."""
    model.train()
    for batch in batches:
        batch = batch.to(device)
        loss = objective.step(model, batch, stats)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if batch_scheduler is not None:
            batch_scheduler.step()
        if isinstance(batches, tqdm) and not batches.disable:  # .item() waits for the GPU
            batches.set_postfix(loss=f"{loss.item():.3f}", refresh=False)


@torch.no_grad()
def run_validation(model: torch.nn.Module, loader, objective, ddp: Distributed) -> dict[str, float]:
    """Validation metrics of ``objective`` (the same fixed batches, and masks, every epoch)."""
    model.eval()
    stats = objective.stats(ddp.device)
    generator = objective.validation_generator()
    for batch in iterate_batches(loader, 0):
        objective.step(model, batch.to(ddp.device), stats, generator)
    return stats.summary("val", ddp.sum)


#: What a pre-training run writes into its directory.
RUN_FILES = ("last.pt", "checkpoint.pt", "config.yaml", "metrics.csv", "metrics.json",
             "curves.png", "cosine.png")


def save_epoch(out: Path, model, epoch: int, optimizer, scheduler, config: dict,
               metrics: list[dict], trainer: dict, improved: bool, objective) -> None:
    """last.pt every epoch, checkpoint.pt when validation improved, logs and plots."""
    kwargs = {"model": objective.backbone(model), "epoch": epoch, "optimizer": optimizer,
              "scheduler": scheduler, "config": config, "metrics": metrics, "trainer": trainer,
              "extra": objective.checkpoint_extra(model)}
    if improved:
        save_checkpoint(out / "checkpoint.pt", **kwargs)
    save_checkpoint(out / "last.pt", **kwargs)
    write_metrics(out, metrics)
    plot_curves(out, metrics, loss_label=objective.loss_label)


def _positive(text: str) -> int:
    """An epoch count of at least 1: ``--stop-after 0`` would end a run that trained nothing."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of epochs >= 1")
    return int(text)


#: What ``rs3l pretrain`` reads and writes (:func:`resim.cliutil.check_paths`).
PATH_ROLES = {"inputs": ("config", "data", "val"), "output_dirs": ("out",)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="resim config (pretrain section)")
    parser.add_argument("--out", required=True, type=Path, help="run directory results/train/NAME")
    parser.add_argument("--run", metavar="NAME", help="the backbone of pretrain.runs to train "
                        "(default: the only one)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    parser.add_argument("--val", nargs="+", type=Path, metavar="DATA",
                        help="validation files (default: pretrain.val_fraction of DATA, by blocks)")
    parser.add_argument(OVERLAP_FLAG, action="store_true",
                        help="accept validation files that share shards with the training files")
    parser.add_argument("--stop-after", type=_positive, metavar="N",
                        help="stop this invocation after N epochs (continue later with --resume)")
    parser.add_argument("data", nargs="+", type=Path, metavar="DATA",
                        help="paired HDF5 files, RS3L public HDF5 (contrastive) or JetClass "
                        ".root files (mpm)")


def command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    names = backbone_names(config)
    if args.run is None and len(names) > 1:
        raise ConfigError(f"pretrain.runs lists {len(names)} backbones ({', '.join(names)}): "
                          f"pass --run NAME")
    config = run_config(config, args.run or names[0])
    run_pretrain(config, args.data, args.out, val=args.val, resume=args.resume,
                 stop_after=args.stop_after, val_overlaps_train=args.val_overlaps_train)
    return 0


def register(subparsers) -> None:
    """Add ``rs3l pretrain``."""
    parser = subparsers.add_parser("pretrain", help="pre-training of the backbone "
                                   "(contrastive or masked particle modelling)",
                                   description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=command)
    declare_paths(parser, **PATH_ROLES)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``torchrun ... -m train.pretrain`` (same arguments as ``rs3l pretrain``)."""
    parser = argparse.ArgumentParser(prog="train.pretrain", description=__doc__.splitlines()[0])
    add_arguments(parser)
    declare_paths(parser, **PATH_ROLES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        check_paths(args)
        return command(args)
    except ResimError as err:
        print(f"train.pretrain: error: {err}", file=sys.stderr)
        return 2
