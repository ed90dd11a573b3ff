"""Registry of hard-scatter backends: a sample's ``backend`` key names one of them.

A backend is a callable ``backend(config, sample, shard, out_path, manifest) -> dict`` that
writes the shard's LHE file at ``out_path`` atomically and returns its statistics (at least
``events``, ``filter_efficiency``, ``cross_section_pb``, ``versions``). ``manifest`` is the job's
:class:`resim.seeds.SeedManifest`: draw every seed from it so that the job's manifest lists it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

HardBackend = Callable[..., dict]

_BACKENDS: dict[str, HardBackend] = {}

#: Modules that register backends when imported (a missing optional module is skipped).
BACKEND_MODULES = ("resim.hard.pythia", "resim.hard.madgraph")


def register_hard_backend(name: str) -> Callable[[Any], Any]:
    """Decorator: register a hard-scatter backend (function or class with ``__call__``)."""

    def decorate(obj: Any) -> Any:
        _BACKENDS[name] = obj
        return obj

    return decorate


def _load_modules() -> None:
    import importlib

    for module in BACKEND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def get_hard_backend(name: str, key: str = "backend") -> HardBackend:
    """The backend registered as ``name``; :class:`ConfigError` naming ``key`` if none is."""
    if name not in _BACKENDS:
        _load_modules()
    if name not in _BACKENDS:
        raise ConfigError(f"{key}: unknown hard-scatter backend {name!r} "
                          f"(known: {', '.join(sorted(_BACKENDS))})")
    return _BACKENDS[name]
