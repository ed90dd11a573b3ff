"""The minimum-bias pool: ``SoftQCD:inelastic`` events of the run's tune, as flat arrays.

One HDF5 file per pool shard: ``particles/<field>`` (``resim.contracts.PARTICLE_FIELDS``, the
final state with production vertices in mm, relative to the interaction point) and
``offsets`` (events + 1). Neutrinos are left out (no detector sees them) and so are particles
beyond the calorimeters (|eta| > 5). Each shard has its own seed, (``run.seed``, "pileup",
shard, "pool", "pileup"), so pool shards are independent events.
"""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from ..config import config_hash
from ..contracts import PARTICLE_FIELDS
from ..errors import ConfigError, DatasetError
from ..hard.pythia import SQRT_S, new_pythia, pythia_version
from ..io import atomic_path
from ..seeds import derive_seed
from ..showers.pythia import settings_lines, tune_settings
from ..showers.records import ChargeTable, final_state
from ..dataset.writer import create_file, set_attrs

log = logging.getLogger(__name__)

KIND = "pileup-pool"
ETA_MAX = 5.0
_NEUTRINOS = (12, 14, 16)
#: Minimum bias needs every part of the event: ISR and MPI on, whatever the hard views use.
MINBIAS = ("SoftQCD:inelastic = on", "PartonLevel:ISR = on", "PartonLevel:MPI = on")


def pool_settings(config: dict, seed: int) -> list[str]:
    """The views' tune, PDF, long-lived particles and ``shower.settings``, then minimum bias
    (last, so that a view-level ``PartonLevel:MPI = off`` cannot empty the pool)."""
    shower = config.get("shower") or {}
    return [f"Beams:eCM = {SQRT_S}", *tune_settings(config),
            *settings_lines(shower.get("settings")), *MINBIAS, "Next:numberCount = 0",
            "Random:setSeed = on", f"Random:seed = {seed}"]


def generate_pool(config: dict, shard: int, out: str | Path, batch: int = 500) -> int:
    """Write pool shard ``shard`` (``pileup.pool_events`` events) to ``out``; returns the
    number of particles stored."""
    section = config["pileup"]
    if not 0 <= int(shard) < int(section["pool_shards"]):
        raise ConfigError(f"pileup.pool_shards: pool shard {shard} is outside "
                          f"0..{int(section['pool_shards']) - 1}")
    n_events = int(section["pool_events"])
    seed = derive_seed(int(config["run"]["seed"]), "pileup", int(shard), "pool", "pileup")
    settings = pool_settings(config, seed)
    pythia = new_pythia(settings, f"pileup pool shard {shard}")
    charge = ChargeTable(pythia.particleData)
    parts, done = [], 0
    while done < n_events:
        records = pythia.nextBatch(min(batch, n_events - done), "none")
        particles, failed = final_state(records, charge)
        particles = particles[~failed]
        pt = np.hypot(particles.px, particles.py)
        eta = np.arcsinh(particles.pz / ak.where(pt > 0, pt, 1e-12))
        apid = abs(particles.pid)
        neutrino = (apid == _NEUTRINOS[0]) | (apid == _NEUTRINOS[1]) | (apid == _NEUTRINOS[2])
        keep = (abs(eta) < ETA_MAX) & (pt > 0) & ~neutrino
        parts.append(particles[keep])
        done += len(particles)
        log.info("pileup pool shard %d: %d/%d events", shard, done, n_events)
    particles = ak.concatenate(parts)[:n_events]
    counts = ak.to_numpy(ak.num(particles, axis=1)).astype(np.int64)
    with atomic_path(out) as tmp, create_file(tmp) as f:
        group = f.create_group("particles")
        flat = ak.flatten(particles)
        for name in PARTICLE_FIELDS:
            dtype = np.int32 if name == "pid" else np.float32
            group.create_dataset(name, data=ak.to_numpy(flat[name]).astype(dtype),
                                 compression="gzip", shuffle=True, track_times=False)
        f.create_dataset("offsets", data=np.concatenate([[0], np.cumsum(counts)]),
                         track_times=False)
        set_attrs(f, {"kind": KIND, "shard": int(shard), "events": int(len(counts)),
                      "settings": settings, "seed": seed, "versions": {"pythia8mc": pythia_version()},
                      "config_hash": config_hash({"run": {"seed": config["run"]["seed"]},
                                                  "shower": config.get("shower"),
                                                  "pileup": section})})
    return int(counts.sum())


class Pool:
    """Every pool shard of a run in memory, as flat arrays (float32: ~150 particles per event,
    36 bytes each: a 10,000-event pool is ~55 MB)."""

    def __init__(self, paths: list[str | Path]):
        if not paths:
            raise DatasetError("pileup: mu > 0 needs pool files (resim pileup-pool)")
        columns: dict[str, list] = {name: [] for name in PARTICLE_FIELDS}
        counts = []
        for path in paths:
            with h5py.File(path, "r") as f:
                if f.attrs.get("kind") != KIND:
                    raise DatasetError(f"{path}: not a pile-up pool file (resim pileup-pool "
                                       f"writes them)")
                offsets = f["offsets"][()]
                counts.append(np.diff(offsets))
                for name in PARTICLE_FIELDS:
                    columns[name].append(f["particles"][name][()])
        self.counts = np.concatenate(counts)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.columns = {name: np.concatenate(v) for name, v in columns.items()}

    def __len__(self) -> int:
        return len(self.counts)
