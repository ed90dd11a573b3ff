"""Tiny synthetic inputs for the evaluation tests: paired HDF5 files and a backbone checkpoint.

The jets are not physics-generated but have the features the tests rely on: two-prong "H_bb"
jets (two clusters of constituents 0.3 apart, small N2) against one-prong QCD jets of several
sub-classes, in three views whose constituents are smeared differently (``fsr_up`` a little,
``vincia`` more), so taggers separate the classes and the views differ by a known ordering.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml

from resim.contracts import CONSTITUENT_FIELDS, JET_FIELDS, LABEL_CODE, LABELS, MAX_CONSTITUENTS
from resim.dataset.schema import SCHEMA_VERSION
from resim.dataset.writer import JET_TABLE, PAIR_TABLE, H5Appender, create_file, set_attrs
from train.checkpoint import save_checkpoint
from train.models import get_model

VIEWS = ("nominal", "fsr_up", "vincia")
VIEW_SMEAR = {"nominal": 0.0, "fsr_up": 0.01, "vincia": 0.04}
QCD = ("q", "g", "g_bb")

#: A DGCNN small enough to train in seconds on one core.
TINY_MODEL = {"network": "dgcnn", "hidden": 16, "embed_layers": 1, "edgeconv_layers": 1, "k": 4,
              "head": [16, 8]}



def tiny_config() -> dict:
    """The repository's default config (raw, unvalidated) with small training and evaluation."""
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    config["run"]["seed"] = 7
    config["views"] = {v: config["views"][v] for v in VIEWS}
    config.setdefault("pretrain", {})["model"] = TINY_MODEL
    config["finetune"] = {"tasks": {"h_vs_qcd": {"signal": ["H_bb"], "background": list(QCD)}},
                          "reps": 2, "epochs": 2, "batch_size": 64, "lr": 1e-3, "max_val_jets": 200}
    config["evaluate"] = {"knn": {"k": [3, 5], "max_jets": 400},
                          "tsne": {"max_jets": 120, "perplexity": 10},
                          "corner_max_jets": 300, "batch_size": 128}
    return config


def _jets(rng: np.random.Generator, labels: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    n = len(labels)
    prongs = np.where(labels == LABEL_CODE["H_bb"], 2, 1)
    n_const = rng.integers(8, 30, n)
    base_eta = rng.normal(0, 0.1, (n, MAX_CONSTITUENTS))
    base_phi = rng.normal(0, 0.1, (n, MAX_CONSTITUENTS))
    prong = (np.arange(MAX_CONSTITUENTS)[None, :] % prongs[:, None]).astype(float)
    pt = rng.exponential(20.0, (n, MAX_CONSTITUENTS)) + 1.0
    pid = rng.choice([211, -211, 22, 130, 11], (n, MAX_CONSTITUENTS))
    charge = np.sign(pid) * np.isin(np.abs(pid), (211, 11))
    out = {}
    for view in VIEWS:
        s = VIEW_SMEAR[view]
        eta = base_eta + 0.3 * prong + rng.normal(0, s, base_eta.shape)
        phi = base_phi + rng.normal(0, s, base_phi.shape)
        c = np.zeros((n, MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS)), dtype=np.float32)
        fields = {"PT": pt, "Eta": eta, "Phi": phi, "E": pt * np.cosh(eta), "Charge": charge, "PID": pid,
                  "D0": rng.normal(0, 0.05, pt.shape), "DZ": rng.normal(0, 0.05, pt.shape)}
        for i, name in enumerate(CONSTITUENT_FIELDS):
            c[..., i] = fields[name]
        real = np.arange(MAX_CONSTITUENTS)[None, :] < n_const[:, None]
        c[~real] = 0.0
        jet = np.zeros((n, len(JET_FIELDS)), dtype=np.float32)
        jet_pt = np.where(real, pt, 0).sum(1)
        n2 = np.where(prongs == 2, 0.15, 0.3) + rng.normal(0, 0.06, n) + 2 * s
        values = {"pt": jet_pt, "eta": 0.15 * (prongs - 1), "phi": 0.0, "mass": 125.0 * (prongs == 2) + 40,
                  "E": jet_pt, "n_constituents": n_const, "n2": n2}
        for i, name in enumerate(JET_FIELDS):
            jet[:, i] = values[name]
        out[view] = {"constituents": c, "n_constituents": n_const.astype(np.int16), "jet": jet,
                     "pileup": np.zeros(c.shape[:2], dtype=np.int8)}
    return out


def write_paired_file(path: Path, n: int, seed: int, shard: int = 0) -> Path:
    """A paired HDF5 file of ``n`` pairs (half H_bb, the rest QCD sub-classes) in the schema."""
    rng = np.random.default_rng(seed)
    labels = np.where(np.arange(n) % 2 == 0, LABEL_CODE["H_bb"],
                      np.array([LABEL_CODE[q] for q in QCD])[np.arange(n) % len(QCD)]).astype(np.int8)
    jets = _jets(rng, labels)
    with create_file(path) as f:
        set_attrs(f, {"schema_version": SCHEMA_VERSION, "sample": "toy", "shard": shard,
                      "views": list(VIEWS), "label_names": list(LABELS), "config_hash": "test",
                      "view_settings": {}, "seeds": {}, "versions": {},
                      "cutflow": {"views": {v: {"events": n, "ignored": 0, "objects": n + 3,
                                                "lost": {"pt": 2, "unmatched": 1}, "jets": n}
                                            for v in VIEWS},
                                  "pairing": {"candidates": n + 1, "lost": {"vincia": 1}, "pairs": n}}})
        pairs = H5Appender(f.create_group("pairs"), PAIR_TABLE)
        pairs.append(event_id=np.arange(n, dtype=np.int64) + (shard << 32), label=labels,
                     parton=np.zeros((n, 5), dtype=np.float32))
        views = f.create_group("views")
        for view in VIEWS:
            H5Appender(views.create_group(view), JET_TABLE).append(**jets[view])
    return path


def write_backbone(path: Path, seed: int = 0, epochs: int = 3, objective: str = "contrastive"
                   ) -> Path:
    """A pre-training-like checkpoint of :data:`TINY_MODEL` (untrained weights, a short history)
    of ``pretrain.objective`` ``objective``."""
    torch.manual_seed(seed)
    model = get_model(TINY_MODEL)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 50)
    metrics = [{"epoch": e, "train_loss": 5.0 - e, "val_loss": 5.1 - e, "lr": 1e-3,
                "val_cos_pos": 0.5 + 0.1 * e, "val_cos_neg": 0.1,
                } for e in range(1, epochs + 1)]
    save_checkpoint(path, model=model, epoch=epochs, optimizer=optimizer, scheduler=scheduler,
                    config={"pretrain": {"model": TINY_MODEL, "objective": objective}},
                    metrics=metrics)
    return path


def summary_args(root: Path, backbones=("rs3l",), tasks=("h_vs_qcd",)) -> list[str]:
    """``rs3l summary``'s inputs as the workflow's rule names them, for a run in ``root``."""
    from resim_workflow import layout
    from resim_workflow.splits import SPLITS

    def under(path: str) -> str:
        return str(root / path)

    return ["--splits", *(under(layout.split_path(s)) for s in SPLITS),
            "--pretrain", *(under(f"{layout.train_dir(b)}/metrics.json") for b in backbones),
            "--evaluations", *(under(f"{layout.evaluate_dir(t)}/metrics.json") for t in tasks)]
