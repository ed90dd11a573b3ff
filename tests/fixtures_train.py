"""Small synthetic paired HDF5 files for the pre-training tests, written in the dataset schema.

Each pair is one random "event": a QCD-like jet ("q": one prong, many soft particles) or a
Higgs-like jet ("H_bb": two hard prongs 0.4 apart, fewer particles). Every view re-draws the same
event with small perturbations (particle momenta and angles jittered, a few soft particles
dropped), so views of one event resemble each other more than other events do.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from resim.config import load_config, validate
from resim.contracts import CONSTITUENT_FIELDS, JET_FIELDS, LABEL_CODE, LABELS, MAX_CONSTITUENTS
from resim.dataset.schema import SCHEMA_VERSION
from resim.dataset.writer import JET_TABLE, PAIR_TABLE, H5Appender, create_file, set_attrs

VIEWS = ("nominal", "seed", "fsr_up", "fsr_down", "herwig")
CLASSES = ("q", "H_bb")

#: A DGCNN small enough for a few training steps per second on one core.
TINY_MODEL = {"network": "dgcnn", "hidden": 16, "embed_layers": 2, "edgeconv_layers": 2, "k": 6,
              "head": [16, 8]}


def _event(rng: np.random.Generator, label: str, scale: float) -> dict[str, np.ndarray]:
    """The per-event truth every view perturbs: particle pT, positions, PIDs."""
    two_prong = label == "H_bb"
    n = int(scale * (rng.integers(12, 30) if two_prong else rng.integers(25, 60)))
    prong = rng.integers(0, 2, n) if two_prong else np.zeros(n, dtype=int)
    spread = 0.05 if two_prong else 0.15
    return {
        "pt": rng.pareto(1.5, n) * (8.0 if two_prong else 3.0) + 1.0,
        "eta": rng.normal(0.0, spread, n) + 0.2 * (2 * prong - 1) * two_prong,
        "phi": rng.normal(0.0, spread, n) + 0.2 * (2 * prong - 1) * two_prong,
        "pid": rng.choice([211, -211, 22, 130, 11, -13], n, p=[.3, .3, .25, .1, .03, .02]),
        "d0": rng.normal(0.0, 0.3 if two_prong else 0.02, n),
    }


def _view(rng: np.random.Generator, event: dict, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """(constituents (100, 8), jet (7,)) of one view of ``event``."""
    keep = (event["pt"] > 2.0) | (rng.random(len(event["pt"])) > jitter * 3)
    pt = event["pt"][keep] * rng.normal(1.0, jitter, keep.sum()).clip(0.5)
    eta = event["eta"][keep] + rng.normal(0.0, jitter * 0.2, keep.sum())
    phi = event["phi"][keep] + rng.normal(0.0, jitter * 0.2, keep.sum())
    pid = event["pid"][keep]
    order = np.argsort(-pt)[:MAX_CONSTITUENTS]
    fields = {"PT": pt, "Eta": eta, "Phi": phi, "E": pt * np.cosh(eta),
              "Charge": np.sign(pid) * np.isin(np.abs(pid), (211, 11, 13)), "PID": pid,
              "D0": event["d0"][keep], "DZ": event["d0"][keep] * 0.5}
    constituents = np.zeros((MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS)), dtype=np.float32)
    for i, name in enumerate(CONSTITUENT_FIELDS):
        constituents[: len(order), i] = fields[name][order]
    px, py, pz = (pt * np.cos(phi)).sum(), (pt * np.sin(phi)).sum(), (pt * np.sinh(eta)).sum()
    energy = fields["E"].sum()
    jet_pt = np.hypot(px, py)
    jet = {"pt": jet_pt, "eta": np.arcsinh(pz / jet_pt), "phi": np.arctan2(py, px),
           "mass": np.sqrt(max(energy**2 - px**2 - py**2 - pz**2, 0.0)), "E": energy,
           "n_constituents": len(order), "n2": 0.2}
    return constituents, np.array([jet[k] for k in JET_FIELDS], dtype=np.float32)


def write_pairs(path: Path, n: int, seed: int = 0, shard: int = 0,
                views: tuple[str, ...] = VIEWS, scale: float = 1.0) -> Path:
    """A paired HDF5 file of ``n`` pairs, classes alternating, every view of ``views``.

    ``scale`` multiplies the particle multiplicities (mean ≈ 28 at 1).
    """
    rng = np.random.default_rng(seed)
    labels = np.array([LABEL_CODE[CLASSES[i % 2]] for i in range(n)], dtype=np.int8)
    events = [_event(rng, LABELS[code], scale) for code in labels]
    with create_file(path) as f:
        set_attrs(f, {"schema_version": SCHEMA_VERSION, "sample": "toy", "shard": shard,
                      "views": list(views), "label_names": list(LABELS), "config_hash": "test",
                      "view_settings": {}, "seeds": {}, "versions": {},
                      "cutflow": {v: {"events": n, "jets": n} for v in views}})
        H5Appender(f.create_group("pairs"), PAIR_TABLE).append(
            event_id=np.arange(n, dtype=np.int64) + (shard << 32), label=labels,
            parton=np.zeros((n, 5), dtype=np.float32))
        group = f.create_group("views")
        for k, view in enumerate(views):
            jitter = 0.08 * k  # nominal: the event itself; later views further off
            jets = [_view(rng, event, jitter) for event in events]
            constituents = np.stack([c for c, _ in jets])
            jet = np.stack([j for _, j in jets])
            H5Appender(group.create_group(view), JET_TABLE).append(
                constituents=constituents, jet=jet,
                pileup=np.zeros(constituents.shape[:2], dtype=np.int8),
                n_constituents=jet[:, JET_FIELDS.index("n_constituents")].astype(np.int16))
    return path


def tiny_config(**pretrain) -> dict:
    """A validated config whose pretrain section trains :data:`TINY_MODEL` in seconds."""
    section = {"model": copy.deepcopy(TINY_MODEL), "batch_size": 16, "epochs": 2, "lr": 3e-3,
               "block": 8, "window": 4, "workers": 0, "val_fraction": 0.25, "threads": 1}
    section.update(pretrain)
    config = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    config["run"]["seed"] = 11
    # the fixture files' views, each a re-shower (fork "hard"), so the mix "hard" is all of them
    config["views"] = {v: {"fork": "hard", "backend": "pythia"} for v in VIEWS}
    config["dataset"]["view_order"] = None
    config["pretrain"] = section
    return validate(config)
