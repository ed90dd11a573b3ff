"""The registry of fork points and the protocol they follow.

A *view* in ``config["views"]`` names a fork point (``fork``), and for a ``hard`` fork a shower
backend (``backend``, :mod:`resim.showers.registry`). Adding a view at an existing fork point is
config only; adding a fork point is one registered class. ``LHEBatch`` and ``Branch`` are in
:mod:`resim.contracts`.

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
"""

from __future__ import annotations

from ..plugins import Registry

#: Fork points; the modules register them when imported.
FORKS = Registry("fork point", ("resim.forks.reshower", "resim.forks.rehadronise",
                                "resim.forks.redetect", "resim.forks.repileup"))
register_fork = FORKS.register


def get_fork(name: str, key: str = "fork") -> type:
    """The fork point class registered as ``name``; ConfigError naming ``key`` otherwise."""
    return FORKS.get(name, key)
