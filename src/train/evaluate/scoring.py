"""Scores of every tagger on every view of the test jets, and the metrics of one tagger.

One pass over the test jets per view feeds every tagger and every backbone, so the (expensive)
feature computation is done once. Fixed-mode taggers share their frozen backbone (bit-identical
to the checkpoint, see ``tests/test_eval_finetune.py``): its representation is computed once per
batch for all of them (every size and repetition) and only their heads differ.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from resim.dataset.reader import PairedDataset
from resim.contracts import JET_FIELDS

from ..data import NOMINAL
from ..open_jets import open_jets
from ..finetune.heads import Tagger
from ..finetune.labelled import network_inputs
from ..finetune.tasks import Task
from . import metrics

_N2 = JET_FIELDS.index("n2")


def share_frozen_backbones(taggers: dict[str, Tagger], backbones: dict[str, torch.nn.Module],
                           sources: dict[str, str]) -> None:
    """Point every fixed-mode tagger at the loaded backbone it was trained on (``sources``:
    tagger → backbone name), so that :func:`score_views` embeds each batch once per backbone."""
    for name, tagger in taggers.items():
        if tagger.frozen and sources.get(name) in backbones:
            tagger.backbone = backbones[sources[name]]


def score_views(dataset: PairedDataset, rows: np.ndarray, taggers: dict[str, Tagger],
                backbones: dict[str, torch.nn.Module], batch_size: int, device: torch.device) -> dict:
    """Scores of every tagger in every view, the taggers' and the backbones' representations, N2.

    Returns ``{"scores": {model: {view: (n,)}}, "embedding": {model: (n, d)}`` (nominal jets),
    ``"backbones": {name: {view: (n, d)}}, "n2": {view: (n,)}}``, all in the order of ``rows``.
    """
    out = {"scores": {m: {} for m in taggers}, "embedding": {m: [] for m in taggers},
           "backbones": {b: {} for b in backbones}, "n2": {}}
    for view in dataset.views:
        parts = {m: [] for m in taggers}
        emb = {b: [] for b in backbones}
        n2 = []
        for start in range(0, len(rows), batch_size):
            jets = dataset.read(view, rows[start:start + batch_size])
            n2.append(jets.jet[:, _N2])
            features, mask = (torch.from_numpy(a).to(device) for a in network_inputs(jets))
            # (id(frozen backbone), what its taggers read) -> that representation
            shared: dict[tuple[int, str], torch.Tensor] = {}
            with torch.no_grad():
                for name, tagger in taggers.items():
                    if tagger.frozen:
                        key = (id(tagger.backbone), tagger.representation)
                        if key not in shared:
                            shared[key] = tagger.embed(features, mask)
                        z = shared[key]
                    else:
                        z = tagger.embed(features, mask)
                    parts[name].append(torch.sigmoid(tagger.classify(z)).cpu().numpy())
                    if view == NOMINAL:
                        out["embedding"][name].append(z.cpu().numpy())
                for name, backbone in backbones.items():
                    emb[name].append(F.normalize(backbone(features, mask), dim=1).cpu().numpy())
        for name in taggers:
            out["scores"][name][view] = np.concatenate(parts[name])
        out["n2"][view] = np.concatenate(n2)
        for name in backbones:
            out["backbones"][name][view] = np.concatenate(emb[name])
    out["embedding"] = {m: np.concatenate(e) for m, e in out["embedding"].items()}
    return out


def reference_n2(task: Task, val: list) -> tuple[np.ndarray, np.ndarray]:
    """(nominal N2, target) of the task's validation jets: N2's orientation and scale come from
    them, never from the test jets it is scored on."""
    dataset = open_jets(val)
    rows, target = task.select(dataset)
    return dataset.read(NOMINAL, rows).jet[:, _N2], target


def tagger_metrics(scores: dict[str, np.ndarray], target: np.ndarray, labels: np.ndarray,
                   label_names: list[str], balanced: np.ndarray, efficiencies: list[float],
                   weights: np.ndarray) -> dict:
    """Rejection (step ROC, with the background count behind it) and AUC on nominal jets,
    Wasserstein per view on the balanced rows, sub-class ROCs; rejections and distances also on
    each test-set resampling ``weights`` (the same for every model)."""
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
    resampled = {f"rejection@{e:g}": b.tolist() for e, b in zip(efficiencies, boot)}
    for view, s in scores.items():
        if view != NOMINAL:
            resampled[f"wasserstein:{view}"] = metrics.bootstrap_wasserstein(
                nominal[balanced], s[balanced], weights[:, balanced]).tolist()
    signal = target.astype(bool)
    subclass = {}
    for code in np.unique(labels[~signal]):
        sel = signal | (labels == code)
        subclass[label_names[code]] = metrics.roc(target[sel], nominal[sel])
    return {"values": values, "roc": metrics.roc(target, nominal), "subclass_roc": subclass,
            "bootstrap": resampled}
