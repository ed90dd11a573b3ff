"""Every random stream of a job derives from (global seed, sample, shard, view, stream).

``numpy.random.SeedSequence`` mixes the global seed with a spawn key built from the names, so
streams are independent and the mapping never changes between runs or machines (names are
hashed with SHA-256, not Python's salted ``hash``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Pythia accepts Random:seed in 1 ... 900_000_000 (0 means "from the clock", negative is default).
PYTHIA_SEED_MAX = 900_000_000

STREAMS = ("hard", "shower", "hadronise", "detector", "external", "train")


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
