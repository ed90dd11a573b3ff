"""Detector backends by name: ``config["detector"]["backend"]`` picks one.

A backend is a class registered with :func:`register_detector`, built from the ``detector``
config section, with ``simulate(batch: ViewBatch, seed: int, workdir: Path | None) -> ak.Array``
returning particle-flow candidates (``resim.events.CANDIDATE_FIELDS``) per event.
"""

from __future__ import annotations

import importlib
import importlib.util

from ..errors import ConfigError

_DETECTORS: dict[str, type] = {}

#: Modules that register backends; imported on first lookup (a missing optional one is skipped).
BACKEND_MODULES = ("resim.detector.embedded", "resim.detector.delphes")


def register_detector(name: str):
    """Class decorator: make a detector backend available under ``name``."""
    def decorate(cls: type) -> type:
        if _DETECTORS.get(name, cls) is not cls:
            raise ValueError(f"detector {name!r} registered twice")
        _DETECTORS[name] = cls
        return cls
    return decorate


def _load_backends() -> None:
    for module in BACKEND_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def available_detectors() -> list[str]:
    _load_backends()
    return sorted(_DETECTORS)


def get_detector(config: dict):
    """The detector backend selected by ``config["detector"]["backend"]`` (default embedded)."""
    section = config.get("detector", {}) or {}
    name = section.get("backend", "embedded")
    if name not in _DETECTORS:
        _load_backends()
    if name not in _DETECTORS:
        raise ConfigError(f"detector.backend: unknown detector {name!r}; "
                          f"known: {', '.join(available_detectors())}")
    return _DETECTORS[name](section)
