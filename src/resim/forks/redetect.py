"""Fork point "hadron": keep the parent's particles; only the detector runs again.

The view carries its parent's final state unchanged; the detector stage draws the view's own
seed (``derive_seed(..., view, "detector")``), so the views differ by detector response only.
"""

from __future__ import annotations

from ..seeds import SeedManifest
from ..contracts import Branch, LHEBatch
from .registry import register_fork


@register_fork("hadron")
class ReDetect:
    needs = "particles"
    backend = "none (detector only)"  # what the view's generator step was, for its info

    def __init__(self, config: dict, view: str, spec: dict, manifest: SeedManifest,
                 keep_partons: bool):
        self.view = view

    def open(self, lhe_path) -> None:
        """Nothing to open: the particles come from the parent."""

    def fork(self, batch: LHEBatch, parent: Branch | None) -> Branch:
        return Branch(parent.particles, parent.failed.copy(), parent.first_split,
                      parent.partons, {"backend": self.backend})

    def close(self) -> None:
        """Nothing to close."""
