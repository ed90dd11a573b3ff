"""Per-event pile-up overlay and charged-hadron subtraction.

Every hard event of a view gets N ~ Poisson(mu) pool events, each at its own vertex
(z ~ N(0, sigma_z), x and y ~ N(0, sigma_xy): the beam spot), all drawn from the event's own
random stream (``resim.seeds.event_keys``), so the overlay of an event does not depend on its
batch. The hard interaction's own vertex (the primary vertex) lies on the beam line at
z ~ N(0, sigma_z), from a stream every view of the event shares (a ``pileup`` fork included:
it redraws the pile-up, not the hard event); candidates' DZ is then measured from it, as CMS's
dz from the primary vertex, and CHS cuts on that (its 10 um transverse spread is left out).
The pool events of one hard event are distinct: a window of N consecutive pool events from a
random start (pool events are independent draws, so any distinct set is as good as another). Pile-up particles carry ``pileup = 1`` to the detector, whose candidates carry
``IsPU`` to the stored constituents' truth flag.

The stream is shared by every view of the event (one bunch crossing: the views differ in the
hard event's simulation, not in its pile-up), except below a ``pileup`` fork, whose view draws
new pile-up from a stream of its own (the intervention point "pile-up").

``pileup.cone``: pool particles further than this (Delta R, by momentum and by the point where a
charged particle meets the calorimeter) from every jet-like truth object of the event cannot
reach a jet matched to one (R <= cone / 2), so they are not simulated; null simulates every
particle.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
from scipy.stats import poisson

from ..checks import register_check
from ..contracts import PARTICLE_FIELDS, ViewBatch
from ..counter_random import normal, uniform
from ..errors import ConfigError
from ..matching import NOT_A_JET, truth_labels
from ..seeds import event_keys
from . import pileup_on
from .pool import Pool

_N, _START, _X, _Y, _Z, _PV_Z = 1, 2, 3, 4, 5, 6  # what each counter-based draw is for
PILEUP_ITEM = 1 << 24  # above any hard event's particle count

#: the largest number of interactions a pool must serve distinct events for: P(N > it) < 1e-9
def max_interactions(mu: float) -> int:
    return int(poisson.ppf(1 - 1e-9, mu)) if mu > 0 else 0


@register_check("pile-up pool size")
def _pool_problems(config: dict):
    """A pool that cannot give one hard event distinct pool events at ``mu``."""
    if not pileup_on(config):
        return
    section = config["pileup"]
    mu = float(section["mu"])
    pool = int(section.get("pool_events", 0)) * int(section.get("pool_shards", 1))
    if pool < max_interactions(mu):
        yield (f"pileup.pool_events: {pool} pool events in all cannot give one hard event "
               f"distinct ones at mu = {mu} (up to {max_interactions(mu)} interactions)")


#: The seed-manifest name of the pile-up every view shares (not a valid view name: no clash).
SHARED = ":event"


def stream_view(specs: dict, view: str) -> str:
    """Whose pile-up a view sees: its nearest ``pileup``-fork ancestor (itself included), or
    the event's shared pile-up (:data:`SHARED`)."""
    while view is not None:
        if specs[view].get("fork") == "pileup":
            return view
        view = specs[view].get("parent")
    return SHARED


def _bending(pool: Pool) -> np.ndarray:
    """Azimuth where each pool particle meets the calorimeter barrel (3.8 T, R = 1.29 m)."""
    from ..detector import card

    sol = card.CARD["solenoid"]
    c = pool.columns
    pt = np.hypot(c["px"], c["py"]).astype(np.float64)
    radius = pt / (0.299792458 * sol["bz"])
    turn = np.arcsin(np.clip(sol["radius"] / (2 * np.maximum(radius, 1e-9)), 0.0, 1.0))
    return np.arctan2(c["py"], c["px"]) - np.sign(c["charge"]) * turn


class PileUp:
    """The ``pileup`` section applied to view batches (one per job: the pool is read once)."""

    def __init__(self, section: dict, pool_paths: list):
        self.mu = float(section["mu"])
        self.sigma_z = float(section["sigma_z_mm"])
        self.sigma_xy = float(section["sigma_xy_mm"])
        self.cone = section.get("cone")
        self.chs_dz = float(section["chs_dz_mm"]) if section["mitigation"] == "chs" else None
        self.pool = Pool(pool_paths) if self.mu > 0 else None
        if self.pool is not None:
            if len(self.pool) < max_interactions(self.mu):
                raise ConfigError(f"pileup.pool_events: {len(self.pool)} pool events cannot give "
                                  f"one hard event {max_interactions(self.mu)} distinct ones "
                                  f"(mu = {self.mu})")
            c = self.pool.columns
            pt = np.hypot(c["px"], c["py"])
            self._eta = np.arcsinh(c["pz"] / np.where(pt > 0, pt, 1e-12)).astype(np.float32)
            self._phi = np.arctan2(c["py"], c["px"]).astype(np.float32)
            self._phi_hit = ((_bending(self.pool) + np.pi) % (2 * np.pi) - np.pi).astype(np.float32)

    def primary_z(self, vertex_seed: int, event_id: np.ndarray) -> np.ndarray:
        """z (mm) of each event's primary vertex, from stream ``vertex_seed`` (0 without pile-up:
        nothing else in an event measures where along the beam it happened)."""
        if self.pool is None:
            return np.zeros(len(event_id))
        keys = event_keys(vertex_seed, np.asarray(event_id) & 0xFFFFFFFF)
        return normal(keys, np.zeros(len(keys), dtype=np.int64), _PV_Z) * self.sigma_z

    def overlay(self, batch: ViewBatch, stream_seed: int, primary_z: np.ndarray) -> ViewBatch:
        """The batch with each event's hard particles moved to its primary vertex at
        ``primary_z`` (:meth:`primary_z`) and its pile-up particles appended (``pileup`` = 1)."""
        hard = ak.with_field(batch.particles, ak.zeros_like(batch.particles.pid, dtype=np.int8),
                             "pileup")
        if self.pool is None or len(batch) == 0:
            return _replace(batch, hard)
        hard = ak.with_field(hard, hard.vz + primary_z, "vz")
        keys = event_keys(stream_seed, batch.event_id & 0xFFFFFFFF)
        zero = np.zeros(len(keys), dtype=np.int64)
        n = poisson.ppf(uniform(keys, zero, _N), self.mu).astype(np.int64)
        start = (uniform(keys, zero, _START) * len(self.pool)).astype(np.int64)
        # one row per (hard event, interaction)
        event = np.repeat(np.arange(len(keys)), n)
        k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        source = (start[event] + k) % len(self.pool)
        vertex = {"vx": normal(keys[event], k, _X) * self.sigma_xy,
                  "vy": normal(keys[event], k, _Y) * self.sigma_xy,
                  "vz": normal(keys[event], k, _Z) * self.sigma_z}
        # one row per pile-up particle
        counts = self.pool.counts[source]
        row = np.repeat(np.arange(len(source)), counts)
        index = self.pool.offsets[source][row] + np.arange(counts.sum()) - \
            np.repeat(np.cumsum(counts) - counts, counts)
        owner = event[row]
        if self.cone is not None:
            near = self._near_truth(batch, owner, index)
            index, owner, row = index[near], owner[near], row[near]
        columns = {name: self.pool.columns[name][index].astype(np.float64) for name in PARTICLE_FIELDS}
        columns["pid"] = columns["pid"].astype(np.int32)
        for name, shift in vertex.items():
            columns[name] = columns[name] + shift[row]
        columns["pileup"] = np.ones(len(index), dtype=np.int8)
        # each particle's counter for the detector's draws, stable whichever pool particles the
        # cone keeps: hard particles 0, 1, ...; pile-up (interaction k, particle j of its pool
        # event) PILEUP_ITEM + k * 2**12 + j
        columns["item"] = PILEUP_ITEM + (k[row] << 12) + (index - self.pool.offsets[source[row]])
        added = ak.unflatten(ak.zip(columns), np.bincount(owner, minlength=len(keys)))
        hard = ak.with_field(hard, ak.local_index(hard.pid, axis=1), "item")
        hard_cols = {name: hard[name] for name in (*PARTICLE_FIELDS, "pileup", "item")}
        merged = ak.zip({name: ak.concatenate([hard_cols[name], added[name]], axis=1)
                         for name in hard_cols})
        return _replace(batch, merged)

    def _near_truth(self, batch: ViewBatch, owner: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Which pile-up particles lie within ``cone`` of a jet-like truth object of their
        event (by momentum direction or by where they meet the calorimeter)."""
        truth = batch.truth[truth_labels(batch.truth) != NOT_A_JET]  # not Z -> nunu, leptons
        pt = np.hypot(truth.px, truth.py)
        slots = max(1, int(ak.max(ak.num(truth, axis=1), initial=0)))
        eta = _padded(np.arcsinh(truth.pz / ak.where(pt > 0, pt, 1e-12)), slots)
        phi = _padded(np.arctan2(truth.py, truth.px), slots)
        p_eta, p_phi, p_hit = self._eta[index], self._phi[index], self._phi_hit[index]
        cone2 = np.float32(self.cone) ** 2
        near = np.zeros(len(index), dtype=bool)
        for slot in range(slots):  # a handful of truth objects per event
            deta2 = (p_eta - eta[owner, slot]) ** 2  # NaN (no object) compares False
            todo = np.flatnonzero(~near & (deta2 < cone2))
            t_phi = phi[owner[todo], slot]
            for particle_phi in (p_phi[todo], p_hit[todo]):
                dphi = np.abs(particle_phi - t_phi)
                dphi = np.minimum(dphi, np.float32(2 * np.pi) - dphi)
                near[todo[deta2[todo] + dphi ** 2 < cone2]] = True
        return near

    def subtract(self, candidates: ak.Array, primary_z: np.ndarray) -> ak.Array:
        """DZ of charged candidates measured from each event's primary vertex at ``primary_z``,
        then CHS: drop charged candidates whose |DZ| exceeds the cut."""
        if self.pool is not None:
            charged = candidates.Charge != 0
            candidates = ak.with_field(
                candidates, ak.where(charged, candidates.DZ - primary_z, candidates.DZ), "DZ")
        if self.chs_dz is None:
            return candidates
        keep = (candidates.Charge == 0) | (abs(candidates.DZ) <= self.chs_dz)
        return candidates[keep]


def _padded(values: ak.Array, slots: int) -> np.ndarray:
    """(events, slots) float32, NaN where an event has fewer objects."""
    return ak.to_numpy(ak.fill_none(ak.pad_none(values, slots, axis=1, clip=True), np.nan)
                       ).astype(np.float32)


def _replace(batch: ViewBatch, particles: ak.Array) -> ViewBatch:
    return ViewBatch(batch.sample, batch.shard, batch.view, batch.event_id, particles,
                     batch.truth, batch.info)
