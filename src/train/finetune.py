"""``rs3l finetune``: a tagger on a pre-trained backbone, or the fully supervised baseline.

Modes (seed 000 §II.D, digest §1.6 and §6):

- ``fixed``: the pre-trained backbone is frozen; only the head (8 → 1 on the L2-normalised
  representation) trains: a linear probe.
- ``floating``: initialised from the pre-trained checkpoint, everything trains.
- ``supervised``: the same architecture trained from scratch on the same jets.

Training jets: the task's classes (``finetune.tasks.<task>``: signal and background label
names of ``resim.dataset.schema.LABELS``), each pair row used once, as its nominal jet for a
fraction ``nominal_fraction`` of the rows and as one of the augmentation views for the rest
(round robin), like the seed's mix of nominal and augmented jets. The row → view assignment
depends only on (task, rep), so the three modes of one repetition see exactly the same jets.
BCE, Adam, StepLR; the epoch with the lowest validation loss is kept.

Writes ``model.pt`` (the tagger), ``scores.npz`` (validation scores, nominal jets) and
``metrics.json`` (per-epoch losses and the run's description), atomically, into ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from resim.config import load_config
from resim.dataset.reader import Jets, PairedDataset
from resim.dataset.schema import MAX_CONSTITUENTS
from resim.dataset.writer import CHUNK_ROWS
from resim.errors import ConfigError
from resim.features import FEATURE_NAMES, particle_features
from resim.io import atomic_path, atomic_write_text
from resim.seeds import derive_seed

from .checkpoint import atomic_torch_save, load_checkpoint
from .data import NOMINAL, jet_features
from .heads import MODES, Tagger
from .models import get_model

log = logging.getLogger(__name__)


#: Stream name for training randomness (shuffling, initialisation, view assignment).
_SEED_STREAM = "train"


# ---------------------------------------------------------------------------------------------
# tasks and the jets of a task


@dataclass(frozen=True)
class Task:
    """A binary tagging task: signal label names vs background label names."""

    name: str
    signal: tuple[str, ...]
    background: tuple[str, ...]

    @classmethod
    def from_config(cls, config: dict, name: str) -> Task:
        tasks = (config.get("finetune") or {}).get("tasks") or {}
        if name not in tasks:
            raise ConfigError(f"finetune.tasks: no task {name!r} (tasks: {', '.join(tasks) or 'none'})")
        spec = tasks[name]
        return cls(name, tuple(spec["signal"]), tuple(spec["background"]))

    def codes(self, label_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Label codes of the signal and background classes in a file's ``label_names``."""
        unknown = sorted(set(self.signal + self.background) - set(label_names))
        if unknown:
            raise ConfigError(f"finetune.tasks.{self.name}: labels {unknown} are not in the "
                              f"dataset's label_names {label_names}")
        index = {n: i for i, n in enumerate(label_names)}
        return (np.array([index[n] for n in self.signal]), np.array([index[n] for n in self.background]))

    def select(self, dataset: PairedDataset) -> tuple[np.ndarray, np.ndarray]:
        """(sorted rows of the task's classes, target 1 = signal / 0 = background).

        ConfigError naming the files when either class has no jet in them.
        """
        sig, bkg = self.codes(dataset.label_names)
        rows = np.flatnonzero(np.isin(dataset.labels, np.concatenate([sig, bkg])))
        targets = np.isin(dataset.labels[rows], sig).astype(np.float32)
        n_sig = int(targets.sum())
        if n_sig == 0 or n_sig == len(rows):
            files = ", ".join(str(p) for p in dataset.paths)
            raise ConfigError(f"finetune.tasks.{self.name}: {files} hold {n_sig} signal and "
                              f"{len(rows) - n_sig} background jets; both are needed")
        return rows, targets


def task_seed(config: dict, task: str, rep: int) -> int:
    """The seed of one repetition of one task (shared by its modes: same jets, same order)."""
    return derive_seed(config["run"]["seed"], f"finetune:{task}", rep, "all", _SEED_STREAM)


def assign_views(n: int, views: list[str], nominal_fraction: float,
                 rng: np.random.Generator) -> np.ndarray:
    """View index (into ``[nominal, *views]``) of each of ``n`` rows.

    ``round(n · nominal_fraction)`` randomly chosen rows are nominal; the others cycle through the
    augmentation views, so every view gets an equal share of the rest.
    """
    order = rng.permutation(n)
    n_nominal = n if not views else int(round(n * nominal_fraction))
    out = np.zeros(n, dtype=np.int64)
    rest = order[n_nominal:]
    out[rest] = 1 + np.arange(len(rest)) % max(len(views), 1)
    return out


def augmentation_views(config: dict, dataset: PairedDataset) -> list[str]:
    """The augmentation views of the training mix: ``finetune.views`` or every non-nominal view."""
    wanted = (config.get("finetune") or {}).get("views")
    available = [v for v in dataset.views if v != NOMINAL]
    if wanted is None:
        return available
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise ConfigError(f"finetune.views: {missing} not in the dataset's views {dataset.views}")
    return list(wanted)


def network_inputs(jets: Jets) -> tuple[np.ndarray, np.ndarray]:
    """(features (m, N, 15) float32, mask (m, N) bool) of jets already read (evaluation reads
    their N2 from the same selection)."""
    features = particle_features(jets.constituents, jets.n_constituents, jets.jet)
    mask = np.arange(features.shape[1])[None, :] < jets.n_constituents[:, None]
    return features, mask


def mixed_jets(dataset: PairedDataset, rows: np.ndarray, view_of_row: np.ndarray,
               views: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Features and mask of ``rows`` (any order), row i taken from view ``views[view_of_row[i]]``."""
    features = np.zeros((len(rows), MAX_CONSTITUENTS, len(FEATURE_NAMES)), dtype=np.float32)
    mask = np.zeros((len(rows), MAX_CONSTITUENTS), dtype=bool)
    for v, view in enumerate(views):
        where = np.flatnonzero(view_of_row == v)
        if where.size == 0:
            continue
        order = np.argsort(rows[where], kind="stable")
        f, m = jet_features(dataset, view, rows[where][order])
        features[where[order], :f.shape[1]] = f
        mask[where[order], :m.shape[1]] = m
    return _crop(features, mask)


def _crop(features: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the trailing constituent slots that are padding in every jet of the batch."""
    used = int(mask.any(0).nonzero()[0].max()) + 1 if mask.any() else 1
    return features[:, :used], mask[:, :used]


class JetSet:
    """The jets of a training or validation set, held in memory when small enough, else streamed."""

    def __init__(self, dataset: PairedDataset, rows: np.ndarray, view_of_row: np.ndarray,
                 views: list[str], targets: np.ndarray, cache_mb: float):
        self.dataset, self.rows, self.view_of_row, self.views = dataset, rows, view_of_row, views
        self.targets = torch.as_tensor(targets)
        size_mb = len(rows) * MAX_CONSTITUENTS * (4 * len(FEATURE_NAMES) + 1) / 2**20
        self.cache = mixed_jets(dataset, rows, view_of_row, views) if size_mb <= cache_mb else None

    def __len__(self) -> int:
        return len(self.rows)

    def epoch_order(self, rng: np.random.Generator) -> np.ndarray:
        """A random order of the jets for one epoch.

        In memory: a plain permutation. Streamed: whole blocks of ``CHUNK_ROWS`` consecutive rows
        (one compressed HDF5 chunk) in random order, so that a batch decompresses a few chunks
        instead of one chunk per jet; the loss of a batch does not depend on its order within.
        """
        if self.cache is not None:
            return rng.permutation(len(self))
        starts = rng.permutation(np.arange(0, len(self), CHUNK_ROWS))
        return np.concatenate([np.arange(s, min(s + CHUNK_ROWS, len(self))) for s in starts])

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.cache is not None:
            features, mask = _crop(self.cache[0][positions], self.cache[1][positions])
        else:
            features, mask = mixed_jets(self.dataset, self.rows[positions], self.view_of_row[positions],
                                        self.views)
        return torch.from_numpy(features), torch.from_numpy(mask), self.targets[positions]


def build_jet_set(config: dict, task: Task, data: list[str | Path], rep: int, stream: str,
                  max_jets: int | None) -> tuple[JetSet, list[str]]:
    """The task's jets of ``data`` in the nominal/augmentation mix; the view list it draws from."""
    section = config["finetune"]
    dataset = PairedDataset(data)
    rows, targets = task.select(dataset)
    rng = np.random.default_rng(derive_seed(config["run"]["seed"], f"finetune:{task.name}", rep, stream,
                                            _SEED_STREAM))
    if max_jets is not None and len(rows) > max_jets:
        keep = np.sort(rng.choice(len(rows), max_jets, replace=False))
        rows, targets = rows[keep], targets[keep]
    aug = augmentation_views(config, dataset)
    views = [NOMINAL, *aug]
    view_of_row = assign_views(len(rows), aug, section["nominal_fraction"], rng)
    return JetSet(dataset, rows, view_of_row, views, targets, section["cache_mb"]), views


# ---------------------------------------------------------------------------------------------
# models


def output_dim(backbone: nn.Module) -> int:
    """Width of the backbone's representation: the last linear layer's output features."""
    linears = [m for m in backbone.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError("the backbone has no linear layer to read its output width from")
    return linears[-1].out_features


def build_tagger(mode: str, backbone_path: str | Path | None, model_cfg: dict | None,
                 head: str) -> Tagger:
    """The tagger of ``mode``: pre-trained backbone (fixed, floating) or a fresh one (supervised).

    The supervised baseline takes its architecture from the checkpoint when one is given, else
    from ``model_cfg`` (the ``pretrain.model`` section), so that it matches the backbone.
    """
    if mode not in MODES:
        raise ConfigError(f"finetune mode {mode!r}: must be one of {', '.join(MODES)}")
    if mode == "supervised":
        cfg = load_checkpoint(backbone_path)["model_config"] if backbone_path else model_cfg
        backbone = get_model(cfg)
    else:
        if backbone_path is None:
            raise ConfigError(f"finetune mode {mode!r} needs --backbone (a pre-training checkpoint)")
        checkpoint = load_checkpoint(backbone_path)
        backbone = get_model(checkpoint["model_config"])
        backbone.load_state_dict(checkpoint["state_dict"])
    return Tagger(backbone, output_dim(backbone), head=head, frozen=(mode == "fixed"))


def load_tagger(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[Tagger, dict]:
    """A tagger written by ``rs3l finetune`` (``model.pt``), in eval mode, and its record."""
    record = load_checkpoint(path, map_location=map_location)
    backbone = get_model(record["model_config"])
    tagger = Tagger(backbone, output_dim(backbone), head=record["head"], frozen=record["mode"] == "fixed")
    tagger.load_state_dict(record["state_dict"])
    return tagger.eval(), record


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# ---------------------------------------------------------------------------------------------
# training


class EmbeddedSet:
    """The frozen backbone's representations of a :class:`JetSet`, computed once.

    In ``fixed`` mode the backbone is deterministic (frozen, eval mode), so every epoch would
    recompute the same representations: computing them once makes each epoch of the linear probe
    cost a matrix product instead of a pass through the backbone.
    """

    def __init__(self, tagger: Tagger, jets: JetSet, batch_size: int, device: torch.device):
        parts = []
        with torch.no_grad():
            for start in range(0, len(jets), batch_size):
                features, mask, _ = jets.batch(np.arange(start, min(start + batch_size, len(jets))))
                parts.append(tagger.embed(features.to(device), mask.to(device)))
        self.representation = torch.cat(parts)
        self.targets = jets.targets

    def __len__(self) -> int:
        return len(self.targets)

    def epoch_order(self, rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(len(self))

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.representation[positions], self.targets[positions]


def _epoch_loss(model, jets: JetSet | EmbeddedSet, batch_size: int, device: torch.device,
                order: np.ndarray, optimizer: torch.optim.Optimizer | None) -> float:
    """Mean BCE over ``jets`` in ``order``; a training epoch when an optimiser is given.

    ``model`` maps a batch's inputs (all but its last element, the targets) to logits.
    """
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    total = 0.0
    for start in range(0, len(order), batch_size):
        *inputs, target = (t.to(device) for t in jets.batch(order[start:start + batch_size]))
        if optimizer is None:
            with torch.no_grad():
                loss = loss_fn(model(*inputs), target)
        else:
            loss = loss_fn(model(*inputs), target)
            optimizer.zero_grad()
            (loss / len(target)).backward()
            optimizer.step()
        total += float(loss.detach())
    return total / len(order)


@torch.no_grad()
def predict(tagger: Tagger, jets: JetSet, batch_size: int, device: torch.device) -> np.ndarray:
    """Sigmoid scores of every jet of ``jets`` in order."""
    tagger.eval()
    out = []
    for start in range(0, len(jets), batch_size):
        features, mask, _ = jets.batch(np.arange(start, min(start + batch_size, len(jets))))
        out.append(tagger.predict(features.to(device), mask.to(device)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def finetune(config: dict, task_name: str, mode: str, rep: int, backbone_path: str | Path | None,
             train_data: list, val_data: list, out: str | Path) -> dict:
    """Train one tagger and write ``model.pt``, ``scores.npz`` and ``metrics.json`` into ``out``."""
    section = config["finetune"]
    task = Task.from_config(config, task_name)
    seed = task_seed(config, task_name, rep)
    torch.manual_seed(seed)
    device = resolve_device(section["device"])
    tagger = build_tagger(mode, backbone_path, (config.get("pretrain") or {}).get("model"),
                          section["head"]).to(device)
    train_set, views = build_jet_set(config, task, train_data, rep, "train", section["max_train_jets"])
    val_set, _ = build_jet_set(config, task, val_data, rep, "validation", section["max_val_jets"])
    params = [p for p in tagger.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=section["lr"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=section["step_size"],
                                                gamma=section["gamma"])
    rng = np.random.default_rng(seed)
    model, train_inputs, val_inputs = tagger, train_set, val_set
    if tagger.frozen:
        model = tagger.classify
        train_inputs = EmbeddedSet(tagger, train_set, section["batch_size"], device)
        val_inputs = EmbeddedSet(tagger, val_set, section["batch_size"], device)
    history, best, best_state = [], None, None
    for epoch in range(1, section["epochs"] + 1):
        tagger.train()
        train_loss = _epoch_loss(model, train_inputs, section["batch_size"], device,
                                 train_inputs.epoch_order(rng), optimizer)
        scheduler.step()
        tagger.eval()
        val_loss = _epoch_loss(model, val_inputs, section["batch_size"], device,
                               np.arange(len(val_inputs)), None)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        "lr": optimizer.param_groups[0]["lr"]})
        log.info("%s %s-%d epoch %d: train %.4f val %.4f", task_name, mode, rep, epoch, train_loss,
                 val_loss)
        if best is None or val_loss < best["val_loss"]:
            best = history[-1]
            best_state = copy.deepcopy(tagger.state_dict())
    tagger.load_state_dict(best_state)
    nominal_val = JetSet(val_set.dataset, val_set.rows, np.zeros(len(val_set), dtype=np.int64),
                         [NOMINAL], val_set.targets.numpy(), section["cache_mb"])
    scores = predict(tagger, nominal_val, section["batch_size"], device)
    record = {
        "task": task_name, "mode": mode, "rep": rep, "seed": seed, "head": section["head"],
        "signal": list(task.signal), "background": list(task.background),
        "train_size": len(train_set), "val_size": len(val_set), "views": views,
        "backbone": str(backbone_path) if backbone_path else None,
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
        "train_size": len(train_set), "views": views}, out / "model.pt")
    with atomic_path(out / "scores.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, scores=scores, target=val_set.targets.numpy(), rows=val_set.rows)
    atomic_write_text(out / "metrics.json", json.dumps(record, indent=2) + "\n")
    return record


# ---------------------------------------------------------------------------------------------
# CLI


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    finetune(config, args.task, args.mode, args.rep, args.backbone, args.train, args.val, args.out)
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
    p.add_argument("--backbone", help="pre-training checkpoint (fixed/floating: weights; "
                   "supervised: architecture only)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--train", nargs="+", required=True, help="paired HDF5 files for training")
    p.add_argument("--val", nargs="+", required=True, help="paired HDF5 files for validation")
    p.set_defaults(func=_run)
