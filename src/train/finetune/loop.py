"""The fine-tuning loop: BCE epochs, the best epoch on validation loss, early stopping.

Every mode trains here; ``fixed`` trains its head on representations computed once
(:class:`EmbeddedSet`), since a frozen backbone would recompute the same ones every epoch.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch
from torch import nn

from .heads import Tagger
from .labelled import JetSet

log = logging.getLogger(__name__)


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


def planned_epochs(section: dict, n_jets: int) -> int:
    """``finetune.epochs``, or more for a small labelled set so that the run makes at least
    ``finetune.min_steps`` optimiser steps (100 jets in batches of 1000 make one step an epoch)."""
    steps_per_epoch = -(-n_jets // section["batch_size"])
    return max(section["epochs"], -(-section["min_steps"] // max(steps_per_epoch, 1)))


def train(tagger: Tagger, train_set: JetSet, val_set: JetSet, section: dict, seed: int,
          device: torch.device, name: str) -> tuple[list[dict], dict, torch.optim.Optimizer, object]:
    """Train ``tagger`` in place and leave it with its best epoch's weights (lowest validation
    loss); stop after ``finetune.patience`` epochs without a better one (0: never).

    Returns (history, best epoch's row, optimiser, scheduler).
    """
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
    for epoch in range(1, planned_epochs(section, len(train_set)) + 1):
        tagger.train()
        train_loss = _epoch_loss(model, train_inputs, section["batch_size"], device,
                                 train_inputs.epoch_order(rng), optimizer)
        scheduler.step()
        tagger.eval()
        val_loss = _epoch_loss(model, val_inputs, section["batch_size"], device,
                               np.arange(len(val_inputs)), None)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        "lr": optimizer.param_groups[0]["lr"]})
        log.info("%s epoch %d: train %.4f val %.4f", name, epoch, train_loss, val_loss)
        if best is None or val_loss < best["val_loss"]:
            best = history[-1]
            best_state = copy.deepcopy(tagger.state_dict())
        elif section["patience"] and epoch - best["epoch"] >= section["patience"]:
            log.info("%s: early stop, no better validation loss for %d epochs", name,
                     section["patience"])
            break
    tagger.load_state_dict(best_state)
    return history, best, optimizer, scheduler
