"""The shower stage's config checks (:mod:`resim.checks`): every Pythia setting line of the
config, read by one Pythia instance (``readString``, no ``init()``), and the dark sector's
shower, which only Pythia's Hidden Valley gives."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from ..checks import register_check
from ..hard.processes import is_dark
from .pythia import settings_lines


@register_check("dark showers")
def _dark_shower_problems(config: dict) -> Iterator[str]:
    """A dark sample's dark sector showers in Pythia's Hidden Valley: every root view of the
    config must be a Pythia one."""
    dark = [name for name, spec in config["samples"].items() if is_dark(spec)]
    if not dark:
        return
    for view, spec in config["views"].items():
        if spec.get("fork") == "hard" and spec.get("backend", "pythia") != "pythia":
            yield (f"views.{view}.backend: {spec['backend']!r} cannot shower the dark sector of "
                   f"{', '.join(dark)} (Pythia's Hidden Valley); only pythia can")


def _pythia_settings(config: dict) -> Iterator[tuple[str, list[str]]]:
    """(config key, Pythia setting lines) of every key that holds Pythia settings."""
    for sample, spec in config["samples"].items():
        if spec.get("backend", "embedded") == "embedded":
            yield f"samples.{sample}.settings", settings_lines(spec.get("settings"))
        yield f"samples.{sample}.shower_settings", settings_lines(spec.get("shower_settings"))
    yield "shower.settings", settings_lines((config.get("shower") or {}).get("settings"))
    for view, spec in config["views"].items():
        # Pythia reads the settings of a Pythia "hard" fork and of a "shower" fork (it
        # re-hadronises); other forks' settings belong to their own plug-in (or to Herwig).
        fork, backend = spec.get("fork"), spec.get("backend", "pythia")
        if fork == "shower" or (fork == "hard" and backend == "pythia"):
            yield f"views.{view}.settings", settings_lines(spec.get("settings"))


@register_check("pythia settings")
def _pythia_problems(config: dict) -> Iterator[str]:
    for key, lines in _pythia_settings(config):
        for line in lines:
            if not _pythia().readString(line, False):
                yield (f"{key}: Pythia refused the setting {line!r} (an unknown setting or "
                       "particle, or a value out of range)")


@functools.cache
def _pythia():
    """One Pythia per process reads every setting line (building one costs 0.1-0.5 s). It is
    never initialised; whether a line is accepted does not depend on the lines read before,
    except for a particle that a line creates (``id:new``), which stays known."""
    import pythia8mc

    return pythia8mc.Pythia("", False)
