"""Every random stream derives from (global seed, sample, shard, view, step, event).

``numpy.random.SeedSequence`` mixes the global seed with a spawn key built from the names, so
streams are independent and the mapping never changes between runs or machines (names are
hashed with SHA-256, not Python's salted ``hash``). That gives one *stream seed* per (sample,
shard, view, step); :func:`event_keys` then mixes in the event's index in its shard, so every
stochastic step of every view draws from a stream of its own per event: an event gives the same
result whatever the batch size, whichever other events ran, alone or in a shard run in parts.

Programs that take one seed per run (Delphes, Herwig 7) get :func:`block_seed`: one seed per
fixed block of events (``event index // block size``), in the range the program accepts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Pythia accepts Random:seed in 1 ... 900_000_000 (0 means "from the clock", negative is default).
PYTHIA_SEED_MAX = 900_000_000

STREAMS = ("hard", "shower", "hadronise", "detector", "pileup", "vertex", "external", "train")


def _name_key(name: str | int) -> int:
    digest = hashlib.sha256(str(name).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def derive_seed(global_seed: int, sample: str, shard: int, view: str, stream: str) -> int:
    """The seed of one random stream, an integer in Pythia's valid range [1, 900000000]."""
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; known: {', '.join(STREAMS)}")
    key = tuple(_name_key(x) for x in (sample, shard, view, stream))
    state = np.random.SeedSequence(int(global_seed), spawn_key=key).generate_state(1, np.uint64)[0]
    return int(state % PYTHIA_SEED_MAX) + 1


# splitmix64's finaliser (Steele, Lea & Flood 2014): a bijection of uint64 whose output bits all
# depend on all input bits; applied to distinct counters it gives independent-looking words.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised over a uint64 array (wrapping arithmetic)."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return z


def event_keys(stream_seed: int, event_index: np.ndarray | int) -> np.ndarray:
    """One 64-bit key per event of a stream: the root of everything that step draws for it."""
    index = np.atleast_1d(np.asarray(event_index, dtype=np.int64)).astype(np.uint64)
    with np.errstate(over="ignore"):
        return mix64(mix64(index * _GOLDEN + np.uint64(1)) ^ np.uint64(int(stream_seed) % 2**64))


def event_seeds(stream_seed: int, event_index: np.ndarray | int) -> np.ndarray:
    """Per-event Pythia seeds (int64 in [1, PYTHIA_SEED_MAX]) of a stream."""
    return (event_keys(stream_seed, event_index) % np.uint64(PYTHIA_SEED_MAX)).astype(np.int64) + 1


def block_seed(stream_seed: int, block: int, high: int) -> int:
    """The seed of one fixed block of events for a program taking one seed per run, in
    [1, ``high``] (Delphes: 2**31 - 1)."""
    key = event_keys(stream_seed ^ 0x5EED_B10C, int(block))[0]
    return int(key % np.uint64(high)) + 1


def derive_rng(global_seed: int, sample: str, shard: int, view: str, stream: str) -> np.random.Generator:
    """A numpy Generator for one stream (detector smearing, view sampling, ...)."""
    return np.random.default_rng(derive_seed(global_seed, sample, shard, view, stream))


@dataclass
class SeedManifest:
    """Every seed one job used, written next to its outputs so a run can be audited or replayed."""

    global_seed: int
    sample: str
    shard: int
    seeds: dict[str, dict[str, int]] = field(default_factory=dict)

    def seed(self, view: str, stream: str) -> int:
        value = derive_seed(self.global_seed, self.sample, self.shard, view, stream)
        self.seeds.setdefault(view, {})[stream] = value
        return value

    def rng(self, view: str, stream: str) -> np.random.Generator:
        return np.random.default_rng(self.seed(view, stream))

    def to_dict(self) -> dict:
        return {"global_seed": self.global_seed, "sample": self.sample, "shard": self.shard,
                "seeds": self.seeds}

    def write(self, path: str | Path) -> None:
        from .io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
