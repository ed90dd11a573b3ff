"""Registry of hard-scatter backends: a sample's ``backend`` key names one of them.

A backend is a callable ``backend(config, sample, shard, out_path, manifest) -> dict`` that
writes the shard's LHE file at ``out_path`` atomically and returns its statistics (at least
``events``, ``filter_efficiency``, ``cross_section_pb``, ``versions``). ``manifest`` is the job's
:class:`resim.seeds.SeedManifest`: draw every seed from it so that the job's manifest lists it.
"""

from __future__ import annotations

from collections.abc import Callable

from ..plugins import Registry

HardBackend = Callable[..., dict]

#: The modules register their backends when imported (a missing optional module is skipped).
BACKENDS = Registry("hard-scatter backend", ("resim.hard.pythia", "resim.hard.madgraph"))

#: Decorator: register a hard-scatter backend (function or class with ``__call__``).
register_hard_backend = BACKENDS.register


def get_hard_backend(name: str, key: str = "backend") -> HardBackend:
    """The backend registered as ``name``; :class:`ConfigError` naming ``key`` if none is."""
    return BACKENDS.get(name, key)
