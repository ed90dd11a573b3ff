"""``resim simulate``: the views of one view group -> detector -> jets -> matched jet tables.

Output (one file per (sample, shard, root view)): ``/views/<view>/`` holds one row per matched
jet-like truth object, in event then truth order, with its selection ``status`` (0 = selected,
see ``resim.jets.STATUS``), ``event_id``, ``truth_index``, ``label``, ``parton`` and the schema's
jet arrays; root attributes hold the per-view cut-flows, seeds and provenance. Events stream
through in batches, rows are appended as they come: memory does not grow with the shard.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .. import jets as jetlib
from ..config import config_hash
from ..detector import get_detector
from ..events import ViewBatch
from ..io import atomic_path
from ..matching import match
from ..seeds import SeedManifest
from .cutflow import check_closes, new_view_cutflow
from .provenance import versions
from .writer import JET_TABLE, PAIR_TABLE, H5Appender, create_file, set_attrs

log = logging.getLogger(__name__)

#: Rows of a view-group table: the pair fields, the jet arrays and where the object stands.
VIEW_TABLE = {**PAIR_TABLE, "truth_index": ((), np.int16), "status": ((), np.int8), **JET_TABLE}

DEFAULT_JETS = {"R": 0.8, "pt_min": 450.0, "mass_min": 10.0, "eta_max": 0.1,
                "max_constituents": 100, "require_all_views": True, "cluster_pt_min": 20.0}


def jets_config(config: dict) -> dict:
    return {**DEFAULT_JETS, **(config.get("jets") or {})}


def process_view(batch: ViewBatch, detector, seed: int, cfg: dict,
                 workdir: Path | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Detector, clustering, matching and selection of one view batch.

    Returns the VIEW_TABLE rows of the matched objects and the batch's cut-flow.
    """
    candidates = detector.simulate(batch, seed, workdir)
    jets, index = jetlib.cluster(candidates, cfg["R"], cfg["cluster_pt_min"])
    m = match(batch.truth, jets, cfg["R"])
    cutflow = new_view_cutflow()
    cutflow["events"] = len(batch)
    cutflow["failed_events"] = int(batch.info.get("failed", 0))  # their objects: no_jet
    cutflow["ignored"] = m["ignored"]
    cutflow["objects"] = len(m["jet"])
    has_jet = m["jet"] >= 0
    cutflow["lost"]["no_jet"] = int((~has_jet).sum())
    constituents, n_constituents, jet = jetlib.jet_arrays(
        candidates, jets, index, m["event"][has_jet], m["jet"][has_jet], cfg["max_constituents"])
    status = jetlib.selection_status(jet[:, 0], jet[:, 3], jet[:, 1], cfg)
    for code, reason in enumerate(jetlib.STATUS[2:], start=2):
        cutflow["lost"][reason] = int((status == code).sum())
    cutflow["jets"] = int((status == 0).sum())
    rows = {"event_id": batch.event_id[m["event"][has_jet]], "label": m["label"][has_jet],
            "parton": m["parton"][has_jet], "truth_index": m["truth_index"][has_jet],
            "status": status, "constituents": constituents, "n_constituents": n_constituents,
            "jet": jet}
    return rows, cutflow


def _add(total: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            _add(total[key], value)
        else:
            total[key] += value


def simulate_group(config: dict, sample: str, shard: int, root: str, out: str | Path,
                   batches: Iterable[dict[str, ViewBatch]], workdir: Path | None = None,
                   manifest: SeedManifest | None = None) -> dict:
    """Run detector + jets over streamed view batches and publish the view-group file atomically.

    ``batches`` yields {view: ViewBatch} for every view of the group, for the same events
    (``resim.forks.run_views``); ``manifest`` collects every seed used (the file records it).
    Returns the per-view cut-flows.
    """
    cfg = jets_config(config)
    detector = get_detector(config)
    manifest = manifest or SeedManifest(int(config["run"]["seed"]), sample, shard)
    cutflows: dict[str, dict] = {}
    with atomic_path(out) as tmp, create_file(tmp) as f:
        tables: dict[str, H5Appender] = {}
        for group in batches:
            for view, batch in group.items():
                if view not in tables:
                    tables[view] = H5Appender(f.create_group(f"views/{view}"), VIEW_TABLE)
                    cutflows[view] = new_view_cutflow()
                seed = manifest.seed(view, "detector")
                rows, cutflow = process_view(batch, detector, seed, cfg, workdir)
                tables[view].append(**rows)
                _add(cutflows[view], cutflow)
            log.info("%s/%s/%s: %d events", sample, shard, root,
                     next(iter(cutflows.values()))["events"] if cutflows else 0)
        for view, cutflow in cutflows.items():
            check_closes(cutflow, f"{out} view {view}")
        set_attrs(f, {"kind": "view-group", "sample": sample, "shard": int(shard), "root": root,
                      "views": list(cutflows), "cutflow": cutflows, "seeds": manifest.to_dict(),
                      "view_settings": {v: config["views"].get(v, {}) for v in cutflows},
                      "jets": cfg, "detector": config.get("detector", {}),
                      "config_hash": config_hash(config), "versions": versions()})
    return cutflows


def run_group(config: dict, sample: str, shard: int, lhe: str | Path, root: str,
              out: str | Path, workdir: Path | None = None) -> dict:
    """``simulate_group`` on the engine's streamed views of ``lhe`` (``resim.forks.run_views``)."""
    from ..forks import run_views

    batch_size = int((config.get("dataset") or {}).get("batch_size", 100))
    manifest = SeedManifest(int(config["run"]["seed"]), sample, shard)
    views: Iterator[dict[str, ViewBatch]] = run_views(config, sample, shard, lhe, root,
                                                      batch_size=batch_size, manifest=manifest)
    return simulate_group(config, sample, shard, root, out, views, workdir, manifest)
