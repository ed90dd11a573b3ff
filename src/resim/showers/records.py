"""From Pythia's batch records (``Pythia.nextBatch``) to the arrays of ``resim.contracts``.

Everything here is vectorised: awkward/numpy for the final state, numba for the walk down the
shower history that finds each gluon's first splitting. No Python loop runs per particle.
"""

from __future__ import annotations

import awkward as ak
import numba
import numpy as np

from ..contracts import PARTICLE_FIELDS

class ChargeTable:
    """PDG id -> electric charge (units of e), vectorised, from Pythia's particle data."""

    def __init__(self, particle_data):
        self._data = particle_data
        self._ids = np.zeros(0, dtype=np.int32)
        self._charges = np.zeros(0, dtype=np.float32)

    def __call__(self, pids: np.ndarray) -> np.ndarray:
        pids = np.asarray(pids, dtype=np.int32)
        new = np.setdiff1d(np.unique(pids), self._ids, assume_unique=True)
        if len(new):
            ids = np.concatenate([self._ids, new])
            charges = np.concatenate([self._charges,
                                      np.array([self._data.charge(int(i)) for i in new],
                                               dtype=np.float32)])
            order = np.argsort(ids)
            self._ids, self._charges = ids[order], charges[order]
        return self._charges[np.searchsorted(self._ids, pids)]


def final_state(batch: ak.Array, charge: ChargeTable) -> tuple[ak.Array, np.ndarray]:
    """Final-state particles (PARTICLE_FIELDS) of a ``nextBatch(..., "none")`` result and the
    mask of failed events (None entries), which get an empty particle list."""
    failed = ak.to_numpy(ak.is_none(batch, axis=0))
    prt = batch.prt[~failed]
    final = prt[prt.status > 0]
    counts = np.zeros(len(batch), dtype=np.int64)
    counts[~failed] = ak.to_numpy(ak.num(final, axis=1))
    flat = ak.flatten(final)
    pid = ak.to_numpy(flat.id).astype(np.int32)
    vertex = flat.vProd
    columns = {
        "px": flat.p.px, "py": flat.p.py, "pz": flat.p.pz, "E": flat.p.e,
        "pid": pid, "charge": charge(pid),
        # Pythia's vertices are in mm; a particle without one was made at the origin
        "vx": ak.fill_none(vertex.px, 0.0), "vy": ak.fill_none(vertex.py, 0.0),
        "vz": ak.fill_none(vertex.pz, 0.0),
    }
    columns = {k: ak.to_numpy(columns[k]) for k in PARTICLE_FIELDS}
    return ak.unflatten(ak.zip(columns), counts), failed


@numba.njit(cache=True)
def _is_parton(pid: int) -> bool:
    a = abs(pid)
    return a == 21 or 1 <= a <= 6


@numba.njit(cache=True)
def _hard_entry(base, size, ids, status, px, py, pz, pid, qx, qy, qz):
    """Index of the hard-process entry (|status| 21-23) with this id nearest in momentum to
    (qx, qy, qz), or -1. Generators reorder the LHE particles (Pythia puts resonance decays
    last), so the LHE position says nothing; id and momentum do."""
    best, best_d = -1, 1e-3 * (abs(qx) + abs(qy) + abs(qz)) + 1e-6
    for i in range(size):
        s = abs(status[base + i])
        if ids[base + i] != pid or s < 21 or s > 23:
            continue
        d = abs(px[base + i] - qx) + abs(py[base + i] - qy) + abs(pz[base + i] - qz)
        if d < best_d:
            best, best_d = i, d
    return best


@numba.njit(cache=True)
def _first_split_kernel(offsets, ids, status, px, py, pz, d1, d2, truth_offsets, tpid, tpx, tpy,
                        tpz, out):
    for ev in range(len(offsets) - 1):
        base, size = offsets[ev], offsets[ev + 1] - offsets[ev]
        for k in range(truth_offsets[ev], truth_offsets[ev + 1]):
            out[k] = 0
            if tpid[k] != 21 or size == 0:
                continue
            i = _hard_entry(base, size, ids, status, px, py, pz, 21, tpx[k], tpy[k], tpz[k])
            if i < 0:
                continue
            for _ in range(size):  # bounded: a history has no cycles, but never trust that
                a, b = d1[base + i], d2[base + i]
                if a <= 0 or a >= size:
                    break
                if b == a or b == 0:  # a copy of the same parton (recoil, remnant handling)
                    if not _is_parton(ids[base + a]):
                        break
                    i = a
                    continue
                lo, hi = (a, b) if b > a else (b, a)
                step = 1 if b > a else hi - lo
                quark, n_partons, n_daughters = 0, 0, 0
                for j in range(lo, hi + 1, step):
                    if j >= size:
                        continue
                    n_daughters += 1
                    pid = ids[base + j]
                    if _is_parton(pid):
                        n_partons += 1
                        if abs(pid) != 21:
                            quark = abs(pid)
                if n_partons != n_daughters:  # the gluon went into hadrons: it never split
                    break
                out[k] = quark if quark else 21
                break


def first_splits(batch: ak.Array, truth: ak.Array) -> ak.Array:
    """For each truth object, |pid| of its first splitting's products (21 for g -> gg,
    1-5 for g -> qq) read from the shower history of ``batch`` (``nextBatch`` records); 0 for
    non-gluons, failed events, gluons that never split or that are not in the record."""
    counts = ak.to_numpy(ak.num(truth, axis=1))
    truth_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sizes = ak.to_numpy(ak.fill_none(ak.num(batch.prt, axis=1), 0))  # failed events: empty
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    out = np.zeros(truth_offsets[-1], dtype=np.int32)
    if len(out):
        flat = ak.flatten(batch.prt)
        column = {k: ak.to_numpy(v) for k, v in (
            ("id", flat.id), ("status", flat.status), ("px", flat.p.px), ("py", flat.p.py),
            ("pz", flat.p.pz), ("d1", flat.daughter1), ("d2", flat.daughter2))}
        t = {k: ak.to_numpy(ak.flatten(truth[k])) for k in ("pid", "px", "py", "pz")}
        _first_split_kernel(offsets, column["id"].astype(np.int32), column["status"].astype(np.int32),
                            column["px"], column["py"], column["pz"],
                            column["d1"].astype(np.int64), column["d2"].astype(np.int64),
                            truth_offsets, t["pid"].astype(np.int32), t["px"], t["py"], t["pz"], out)
    return ak.unflatten(out, counts)
