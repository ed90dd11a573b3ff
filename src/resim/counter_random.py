"""Counter-based random numbers: each draw is a pure function of (event key, item, draw).

A vectorised detector handles a whole batch at once, yet each event must get the same
response whatever batch it sits in. A sequential generator cannot give that (the n-th number
depends on everything drawn before it); a counter-based one can: the number for particle 17 of
an event, draw "tracking efficiency", is ``mix(key(event), 17, draw)``, computed for every
particle of the batch in one numpy expression (the idea of Random123's Philox; the mixing
here is splitmix64's finaliser, applied twice).

``keys`` come from :func:`resim.seeds.event_keys` (one per event of a stream), ``items`` say
what within the event (a particle's index in the event, a tower's number) and ``draw`` names
the purpose, so two purposes never share a number.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from .seeds import mix64

_ITEM = np.uint64(0xD1B54A32D192ED03)
_DRAW = np.uint64(0x8CB92BA72F3D8DD7)


def words(keys: np.ndarray, items: np.ndarray, draw: int) -> np.ndarray:
    """One uint64 per (key, item) pair for purpose ``draw``."""
    keys = np.asarray(keys, dtype=np.uint64)
    items = np.asarray(items, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        return mix64(mix64(keys ^ (items * _ITEM + np.uint64(draw) * _DRAW)) + keys)


def uniform(keys: np.ndarray, items: np.ndarray, draw: int) -> np.ndarray:
    """Uniform numbers in the open interval (0, 1), 53 random bits each."""
    return ((words(keys, items, draw) >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def normal(keys: np.ndarray, items: np.ndarray, draw: int) -> np.ndarray:
    """Standard normal numbers (inverse CDF of :func:`uniform`)."""
    return ndtri(uniform(keys, items, draw))
