"""Registries of fork points and shower backends, and the protocols they follow.

A *view* in ``config["views"]`` names a fork point (``fork``), and for a ``hard`` fork a shower
backend (``backend``). Adding a view at an existing fork point is config only; adding a fork
point or a backend is one registered class.

Fork point protocol (``@register_fork(name)``)::

    class MyFork:
        needs = "partons"        # what it takes from its parent view: "lhe" (a root: no
                                 # parent), "partons" (the parent's saved parton-level
                                 # events) or "particles" (the parent's final state)
        def __init__(self, config, view, spec, manifest, keep_partons): ...
        def open(self, lhe_path): ...             # before the first batch
        def fork(self, batch, parent) -> Branch   # batch: LHEBatch; parent: Branch | None
        def close(self): ...

``fork`` returns the view's :class:`Branch` for the batch's events, in order, one entry per
event (a failed event: ``failed[i]`` True and no particles). ``keep_partons`` is True when a
descendant view needs parton-level events: the branch must then carry them (``partons``, a
list with ``take(positions)``, e.g. ``resim.showers.pythia.PartonEvents``).

A batch may hold any subset of the file's events, in file order (the cascade skips events that
have nothing left to pair): a fork's result for an event must not depend on which other events
it ran with. Hence every random draw is per event: seed event ``e.index`` of a batch from
``resim.seeds.event_seeds(manifest.seed(view, stream), index)`` (or draw counter-based numbers
from ``resim.seeds.event_keys``).

Shower backend protocol (``@register_shower(name)``; "pythia" is built in, "herwig" lives in
``resim/showers/herwig.py``)::

    class MyShower:
        supports_partons = False     # can it stop before hadronisation and hand the
                                     # parton-level events to "shower" forks?
        def __init__(self, config, view, spec, manifest, keep_partons=False): ...
        def open(self, lhe_path): ...            # read the LHE file from its first event
        def shower(self, batch) -> Branch        # the next len(batch) events of the file
        def close(self): ...

``batch`` is the :class:`LHEBatch` (its ``events`` already read and checked by
:mod:`resim.lhe`; a subset of the file in file order), so a backend can skip the events in
between and check that it stays in step with the file. Stream seeds come from
``manifest.seed(view, stream)`` (streams in ``resim.seeds.STREAMS``), per-event seeds from
them as above; a program that takes one seed per run gets one per fixed block of events
(``resim.seeds.block_seed``). The branch's
``info`` dict goes into ``ViewBatch.info`` (settings, versions, failure counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from ..plugins import Registry

#: Fork points and shower backends; the modules register them when imported.
FORKS = Registry("fork point", ("resim.forks.reshower", "resim.forks.rehadronise",
                                "resim.forks.redetect"))
SHOWERS = Registry("shower backend", ("resim.showers.pythia", "resim.showers.herwig"))
register_fork = FORKS.register
register_shower = SHOWERS.register


@dataclass
class LHEBatch:
    """A batch of hard events as read from the LHE file: every view of a group gets these."""

    events: list  # resim.lhe.LHEEvent, in file order
    event_id: np.ndarray  # (n,) int64
    truth: ak.Array  # n x var x TRUTH_FIELDS (first_split 0)

    def __len__(self) -> int:
        return len(self.events)

    def take(self, positions: np.ndarray) -> LHEBatch:
        """The events at ``positions`` (increasing) of this batch."""
        positions = np.asarray(positions, dtype=np.int64)
        return LHEBatch([self.events[i] for i in positions], self.event_id[positions],
                        self.truth[positions])


@dataclass
class Branch:
    """One view's result for a batch of events.

    ``particles``: n x var x PARTICLE_FIELDS; ``failed``: (n,) bool; ``first_split``: n x var
    int32 aligned with the batch's truth objects (None: unknown, all 0); ``partons``: the
    backend's saved parton-level events (None unless a descendant needs them).
    """

    particles: ak.Array
    failed: np.ndarray
    first_split: ak.Array | None = None
    partons: list | None = None
    info: dict = field(default_factory=dict)

    def take(self, positions: np.ndarray) -> Branch:
        """The branch of the events at ``positions`` (increasing) of its batch."""
        positions = np.asarray(positions, dtype=np.int64)
        return Branch(self.particles[positions], self.failed[positions],
                      None if self.first_split is None else self.first_split[positions],
                      None if self.partons is None else self.partons.take(positions),
                      dict(self.info))


def get_fork(name: str, key: str = "fork") -> type:
    """The fork point class registered as ``name``; ConfigError naming ``key`` otherwise."""
    return FORKS.get(name, key)


def get_shower(name: str, key: str = "backend") -> type:
    """The shower backend class registered as ``name``; ConfigError naming ``key`` otherwise."""
    return SHOWERS.get(name, key)
