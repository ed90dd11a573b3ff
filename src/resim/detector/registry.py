"""Detector backends by name: ``config["detector"]["backend"]`` picks one.

A backend is a class registered with :func:`register_detector`, built from the ``detector``
config section, with ``simulate(batch: ViewBatch, seed: int, workdir: Path | None) -> ak.Array``
returning particle-flow candidates (``resim.contracts.CANDIDATE_FIELDS``) per event.
"""

from __future__ import annotations

from ..plugins import Registry

#: The modules register their backends when imported (a missing optional one is skipped).
DETECTORS = Registry("detector", ("resim.detector.embedded", "resim.detector.delphes"))

#: Class decorator: make a detector backend available under a name.
register_detector = DETECTORS.register


def available_detectors() -> list[str]:
    return DETECTORS.names()


def get_detector(config: dict):
    """The detector backend selected by ``config["detector"]["backend"]`` (default embedded)."""
    section = config.get("detector", {}) or {}
    return DETECTORS.get(section.get("backend", "embedded"), "detector.backend")(section)
