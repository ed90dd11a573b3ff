"""Fork point "shower": keep the parent's parton-level events, hadronise them again.

Every view of the fork shares the parent's parton-level record bit for bit (colour
reconnection included, which Pythia does at parton level); only the hadronisation (string
fragmentation and decays) differs, with the view's own seed per event and, optionally, its own
hadronisation settings on top of its parent's.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..seeds import SeedManifest, event_seeds
from ..showers.pythia import Hadroniser, settings_lines, view_settings
from ..showers.records import final_state
from ..showers.tau_decays import tau_channels
from ..contracts import Branch, LHEBatch
from .registry import register_fork


def inherited_spec(config: dict, view: str) -> dict:
    """The view's spec whose ``settings`` are its ancestors' settings, then its own (Pythia
    reads them in order, so the nearest view wins)."""
    views = config["views"]
    chain, seen = [], set()
    while view is not None:
        if view in seen:
            raise ConfigError(f"views.{view}.parent: the parents form a cycle")
        seen.add(view)
        chain.append(views[view])
        view = views[view].get("parent")
    lines: list[str] = []
    for spec in reversed(chain):
        lines.extend(settings_lines(spec.get("settings")))
    return {**chain[0], "settings": lines}


@register_fork("shower")
class ReHadronise:
    needs = "partons"

    def __init__(self, config: dict, view: str, spec: dict, manifest: SeedManifest,
                 keep_partons: bool):
        self.view = view
        self.settings = view_settings(config, inherited_spec(config, view), manifest.sample)
        self.seed = manifest.seed(view, "hadronise")
        self.hadroniser = Hadroniser(self.settings, f"views.{view}")

    def open(self, lhe_path) -> None:
        """Nothing to open: the events come from the parent."""

    def fork(self, batch: LHEBatch, parent: Branch | None) -> Branch:
        if parent is None or parent.partons is None:
            raise ConfigError(f"views.{self.view}.parent: the parent kept no parton-level events")
        records, hadron_failed = self.hadroniser.hadronise(
            parent.partons, event_seeds(self.seed, [e.index for e in batch.events]))
        particles, failed = final_state(records, self.hadroniser.charge)
        taus = [t for t in parent.partons.taus if t]
        # read this view's tau decays back only where the parent had taus to keep
        same = sum(ours == theirs for ours, theirs in zip(tau_channels(records),
                                                          parent.partons.taus)
                   if theirs) if taus else 0
        info = {"backend": "pythia", "settings": self.settings, "hadronise_seed": self.seed,
                "hadronise_failed": int(hadron_failed.sum()),
                # events with taus, and those whose taus all decayed as in the parent
                "tau_events": len(taus), "tau_events_same_channels": int(same)}
        return Branch(particles, failed | parent.failed, parent.first_split, parent.partons, info)

    def close(self) -> None:
        """Nothing to close."""
