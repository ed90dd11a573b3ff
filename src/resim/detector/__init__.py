"""Detector simulation: particles of a view -> particle-flow candidates (CANDIDATE_FIELDS)."""

from .registry import available_detectors, get_detector, register_detector

__all__ = ["available_detectors", "get_detector", "register_detector"]
