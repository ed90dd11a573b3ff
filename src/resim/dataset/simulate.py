"""``resim simulate``: every view of one shard -> detector -> jets -> matched jet tables.

Output (one file per (sample, shard)): ``/views/<view>/`` holds one row per matched jet-like
truth object of the events that view simulated, in event then truth order, with its selection
``status`` (0 = selected, see ``resim.jets.STATUS``), ``event_id``, ``truth_index``, ``label``,
``parton`` and the schema's jet arrays, plus ``skipped_event_id`` (the events the view did not
simulate); root attributes hold the per-view cut-flows, seeds and provenance. Events stream
through in batches of ``run.batch_size``: memory does not grow with the shard.

The cascade (``jets.require_all_views: true``): a pair needs its jet selected in every view, so
the views run in ``dataset.view_order`` and each one simulates only the events that still hold
an object selected in every view before it. Every random stream is per event, so the skipped
events are the only difference from simulating everything: the objects that survive every view,
and so the paired file, are the same. With ``require_all_views: false`` every view simulates
every event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .. import jets as jetlib
from ..config import config_hash, section_digests, validate_section
from ..detector import get_detector
from ..contracts import Branch, LHEBatch, ViewBatch
from ..forks.chain import ViewChain
from ..io import atomic_path
from ..lhe import count_event_tags
from ..matching import match
from ..pileup import pileup_on
from ..pileup.overlay import SHARED, PileUp, stream_view
from ..seeds import SeedManifest
from .cutflow import check_closes, new_view_cutflow
from .provenance import detector_record, hard_record, versions
from .writer import JET_TABLE, PAIR_TABLE, H5Appender, create_file, set_attrs

log = logging.getLogger(__name__)

#: Rows of a view table: the pair fields, the jet arrays and where the object stands.
VIEW_TABLE = {**PAIR_TABLE, "truth_index": ((), np.int16), "status": ((), np.int8), **JET_TABLE}


def jets_config(config: dict) -> dict:
    """The ``jets`` section with the schema's defaults (a config given in part, as tests and
    notebooks do, gets them too)."""
    return validate_section("jets", dict(config.get("jets") or {}), source="jets")


def process_view(batch: ViewBatch, detector, seed: int, cfg: dict,
                 workdir: Path | None = None, pileup: PileUp | None = None,
                 pileup_seed: int = 0, vertex_seed: int = 0) -> tuple[dict[str, np.ndarray], dict]:
    """Pile-up overlay, detector, pile-up subtraction, clustering, matching and selection of one
    view batch (``pileup``: the run's :class:`PileUp`, drawn from stream ``pileup_seed``, the
    primary vertices from ``vertex_seed``).

    Returns the VIEW_TABLE rows of the matched objects and the batch's cut-flow (``events``
    and ``skipped`` are the caller's: it knows which events the view was given).
    """
    if pileup is not None:
        primary_z = pileup.primary_z(vertex_seed, batch.event_id)
        batch = pileup.overlay(batch, pileup_seed, primary_z)
    candidates = detector.simulate(batch, seed, workdir)
    if pileup is not None:
        candidates = pileup.subtract(candidates, primary_z)
    jets, index = jetlib.cluster(candidates, cfg["R"], cluster_pt_min=cfg["cluster_pt_min"])
    m = match(batch.truth, jets, cfg["R"])
    cutflow = new_view_cutflow()
    cutflow["failed_events"] = int(batch.info.get("failed", 0))  # their objects: no_jet
    cutflow["ignored"] = m["ignored"]
    cutflow["objects"] = len(m["jet"])
    has_jet = m["jet"] >= 0
    cutflow["lost"]["no_jet"] = int((~has_jet).sum())
    constituents, n_constituents, jet, pileup_flags = jetlib.jet_arrays(
        candidates, jets, index, m["event"][has_jet], m["jet"][has_jet], cfg["max_constituents"])
    status = jetlib.selection_status(jet[:, 0], jet[:, 3], jet[:, 1], cfg)
    for code, reason in enumerate(jetlib.STATUS[2:], start=2):
        cutflow["lost"][reason] = int((status == code).sum())
    cutflow["jets"] = int((status == 0).sum())
    rows = {"event_id": batch.event_id[m["event"][has_jet]], "label": m["label"][has_jet],
            "parton": m["parton"][has_jet], "truth_index": m["truth_index"][has_jet],
            "status": status, "constituents": constituents, "n_constituents": n_constituents,
            "jet": jet, "pileup": pileup_flags}
    return rows, cutflow


def _add(total: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            _add(total[key], value)
        else:
            total[key] += value


#: Objects are keyed within a batch as position * KEY_STRIDE + truth index.
KEY_STRIDE = 1 << 16


def _selected_keys(rows: dict[str, np.ndarray], positions: np.ndarray,
                   event_id: np.ndarray) -> np.ndarray:
    """Batch keys of the rows' selected objects (rows of the events at ``positions``)."""
    ok = rows["status"] == 0
    position = positions[np.searchsorted(event_id[positions], rows["event_id"][ok])]
    return position.astype(np.int64) * KEY_STRIDE + rows["truth_index"][ok]


class _Cascade:
    """Which events of a batch each view still has to simulate."""

    def __init__(self, n_events: int, enabled: bool):
        self.all = np.arange(n_events)
        self.enabled = enabled
        self.alive: np.ndarray | None = None  # keys of objects selected in every view so far

    def positions(self) -> np.ndarray:
        if not self.enabled or self.alive is None:
            return self.all
        return np.unique(self.alive // KEY_STRIDE)

    def keep(self, selected: np.ndarray) -> None:
        self.alive = selected if self.alive is None else np.intersect1d(self.alive, selected)


def _parent_branch(branches: dict, parent: str | None, positions: np.ndarray) -> Branch | None:
    if parent is None:
        return None
    parent_positions, branch = branches[parent]
    if len(parent_positions) == len(positions):
        return branch
    return branch.take(np.searchsorted(parent_positions, positions))


class _ViewFile:
    """The view file being written: one table per view, its skipped events and cut-flow."""

    def __init__(self, f, views: list[str]):
        self.f, self.views = f, views
        self.tables = {v: H5Appender(f.create_group(f"views/{v}"), VIEW_TABLE) for v in views}
        self.skipped = {v: H5Appender(f[f"views/{v}"], {"skipped_event_id": ((), np.int64)})
                        for v in views}
        self.cutflows = {v: new_view_cutflow() for v in views}

    def add(self, view: str, rows: dict, flow: dict, event_id: np.ndarray,
            positions: np.ndarray) -> None:
        """A view's rows for the events at ``positions`` of a batch of ``event_id``s."""
        self.tables[view].append(**rows)
        self.skipped[view].append(skipped_event_id=np.delete(event_id, positions))
        flow["events"], flow["skipped"] = len(event_id), len(event_id) - len(positions)
        _add(self.cutflows[view], flow)

    def close(self, config: dict, sample: str, shard: int, out, manifest: SeedManifest,
              cascade: bool, lhe=None) -> dict:
        for view, cutflow in self.cutflows.items():
            check_closes(cutflow, f"{out} view {view}")
        set_attrs(self.f, {"kind": "view-group", "sample": sample, "shard": int(shard),
                           "views": self.views, "cascade": cascade,
                           "cutflow": self.cutflows, "seeds": manifest.to_dict(),
                           "view_settings": {v: config["views"].get(v, {}) for v in self.views},
                           "jets": jets_config(config), "detector": detector_record(config),
                           "hard": hard_record(config, sample, lhe),
                           "config_hash": config_hash(config),
                           "config_sections": section_digests(config, sample),
                           "versions": versions(config)})
        return self.cutflows


class _Reconstruction:
    """What happens to a view batch after its generator, set up once per job: pile-up overlay,
    detector, subtraction, jets; each step seeded from the view's streams."""

    def __init__(self, config: dict, manifest: SeedManifest, workdir: Path | None,
                 pool: list) -> None:
        self.cfg, self.detector = jets_config(config), get_detector(config)
        self.manifest, self.workdir, self.specs = manifest, workdir, config["views"]
        section = config.get("pileup") or {}
        wanted = pileup_on(config) or section.get("mitigation", "none") != "none"
        self.pileup = PileUp(section, list(pool)) if wanted else None

    def __call__(self, batch: ViewBatch) -> tuple[dict, dict]:
        pileup_seed = vertex_seed = 0
        if self.pileup is not None:
            pileup_seed = self.manifest.seed(stream_view(self.specs, batch.view), "pileup")
            vertex_seed = self.manifest.seed(SHARED, "vertex")  # every view's, forks included
        return process_view(batch, self.detector, self.manifest.seed(batch.view, "detector"),
                            self.cfg, self.workdir, self.pileup, pileup_seed, vertex_seed)


def batch_events(config: dict) -> int:
    """Events simulated together: ``run.batch_size``, rounded up to whole blocks of
    ``detector.delphes.block_events`` when Delphes is the detector. Delphes draws one random
    stream per block, event after event: a batch holding part of a block would start the
    block's stream again for the rest and give two sets of events the same draws. Results do
    not depend on the batch size otherwise, so rounding changes only memory."""
    from ..detector.delphes import DEFAULT_BLOCK_EVENTS

    size = int(config["run"]["batch_size"])
    detector = config.get("detector") or {}
    if detector.get("backend") == "delphes":
        block = int((detector.get("delphes") or {}).get("block_events", DEFAULT_BLOCK_EVENTS))
        size = -(-size // block) * block
    return size


def simulate_shard(config: dict, sample: str, shard: int, lhe: str | Path, out: str | Path,
                   workdir: Path | None = None, events: range | None = None,
                   cascade: bool | None = None, pool: list = ()) -> dict:
    """Every view of the shard's events (``events``: a range of them) -> detector -> jets,
    published atomically as ``out``; returns the per-view cut-flows. ``cascade`` (default
    ``jets.require_all_views``): each view simulates only events with objects left to pair.
    ``pool``: the pile-up pool files (``pileup.mu`` > 0)."""
    cfg = jets_config(config)
    cascade = cfg["require_all_views"] if cascade is None else cascade
    manifest = SeedManifest(int(config["run"]["seed"]), sample, int(shard))
    reconstruct = _Reconstruction(config, manifest, workdir, pool)
    done = 0
    with ViewChain(config, sample, shard, lhe, manifest) as chain, \
            atomic_path(out) as tmp, create_file(tmp) as f:
        total = len(events) if events is not None else count_event_tags(lhe)
        view_file = _ViewFile(f, chain.order)
        for batch in chain.batches(batch_events(config), events):
            alive = _Cascade(len(batch), cascade)
            branches: dict[str, tuple[np.ndarray, Branch]] = {}
            for view in chain.order:
                positions = alive.positions()
                rows, flow = _simulate_view(chain, view, batch, positions, branches, reconstruct)
                view_file.add(view, rows, flow, batch.event_id, positions)
                alive.keep(_selected_keys(rows, positions, batch.event_id))
            done += len(batch)
            log.info("%s/%s: %d/%d events (this batch, simulated per view: %s)", sample, shard,
                     done, total, ", ".join(f"{v} {len(branches[v][0]) if v in branches else 0}"
                                            for v in chain.order))
        return view_file.close(config, sample, shard, out, manifest, cascade, lhe)


def _simulate_view(chain: ViewChain, view: str, batch: LHEBatch, positions: np.ndarray,
                   branches: dict, reconstruct: _Reconstruction) -> tuple[dict, dict]:
    """One view of the events at ``positions`` of ``batch``: its rows and cut-flow."""
    if len(positions) == 0:
        return {k: np.zeros((0, *shape), dtype) for k, (shape, dtype) in VIEW_TABLE.items()}, \
            new_view_cutflow()
    events = batch if len(positions) == len(batch) else batch.take(positions)
    branch = chain.run(view, events, _parent_branch(branches, chain.specs[view].get("parent"),
                                                    positions))
    branches[view] = (positions, branch)
    return reconstruct(chain.view_batch(view, events, branch))


def simulate_views(config: dict, sample: str, shard: int, out: str | Path,
                   batches: Iterable[dict[str, ViewBatch]], workdir: Path | None = None,
                   pool: list = ()) -> dict:
    """Detector + jets over ready-made view batches (every view of every event, no cascade),
    published atomically as ``out``; returns the per-view cut-flows. For views made elsewhere
    (a generator run outside resim, tests, benchmarks)."""
    manifest = SeedManifest(int(config["run"]["seed"]), sample, int(shard))
    reconstruct = _Reconstruction(config, manifest, workdir, pool)
    with atomic_path(out) as tmp, create_file(tmp) as f:
        view_file = None
        for group in batches:
            view_file = view_file or _ViewFile(f, list(group))
            for view, batch in group.items():
                rows, flow = reconstruct(batch)
                view_file.add(view, rows, flow, batch.event_id, np.arange(len(batch)))
        view_file = view_file or _ViewFile(f, [])
        return view_file.close(config, sample, shard, out, manifest, cascade=False)
