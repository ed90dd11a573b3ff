"""The registry of shower backends (the generator of a ``hard`` view) and their protocol.

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

from ..plugins import Registry

#: Shower backends; the modules register them when imported.
SHOWERS = Registry("shower backend", ("resim.showers.pythia", "resim.showers.herwig"))
register_shower = SHOWERS.register


def get_shower(name: str, key: str = "backend") -> type:
    """The shower backend class registered as ``name``; ConfigError naming ``key`` otherwise."""
    return SHOWERS.get(name, key)
