"""Fork point "hard": every view re-showers the same LHE events with its own shower backend."""

from __future__ import annotations

from ..errors import ConfigError
from ..seeds import SeedManifest
from ..contracts import Branch, LHEBatch
from ..showers.registry import get_shower
from .registry import register_fork


@register_fork("hard")
class ReShower:
    """A root view: its shower backend (``spec["backend"]``, default "pythia") reads the LHE."""

    needs = "lhe"

    def __init__(self, config: dict, view: str, spec: dict, manifest: SeedManifest,
                 keep_partons: bool):
        name = spec.get("backend", "pythia")
        backend = get_shower(name, f"views.{view}.backend")
        if keep_partons and not getattr(backend, "supports_partons", False):
            raise ConfigError(f"views.{view}.backend: {name!r} cannot hand its parton-level "
                              f"events to the 'shower' forks of this view")
        self.backend = backend(config, view, spec, manifest, keep_partons=keep_partons)

    def open(self, lhe_path) -> None:
        self.backend.open(lhe_path)

    def fork(self, batch: LHEBatch, parent: Branch | None) -> Branch:
        return self.backend.shower(batch)

    def close(self) -> None:
        self.backend.close()
