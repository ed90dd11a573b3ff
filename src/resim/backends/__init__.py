"""External programs resim can run instead of its embedded defaults, and how to find them.

Three stages have a real backend that is a separate program: the hard scatter (MadGraph5_aMC@NLO,
``samples.<name>.backend: madgraph``), the shower of a view (Herwig 7,
``views.<name>.backend: herwig``) and the detector (Delphes, ``detector.backend: delphes``).
Each is found through an environment variable first, then ``PATH``; :func:`check` lists every
selected-but-missing program with how to get it, so that a workflow stops before any job starts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendMissingError

#: Where conda environments, LCG views and a hand-made build put each program.
LCG_VIEW = "source /cvmfs/sft.cern.ch/lcg/views/<LCG release>/<platform>/setup.sh"


@dataclass(frozen=True)
class ExternalProgram:
    """One external program: what it is called and where resim looks for it."""

    name: str          # backend name in the config
    title: str         # the program's own name, for messages
    executable: str    # file looked up on PATH
    env_var: str       # overrides PATH: the executable itself, or a directory holding it
    conda_env: str     # conda environment file in envs/
    lcg_package: str   # package name in an LCG view
    env_example: str   # what $env_var typically holds

    def locate(self, environ: dict[str, str] | None = None) -> Path | None:
        """The executable, or None. ``$env_var`` wins over ``PATH``; a directory is searched."""
        environ = os.environ if environ is None else environ
        override = environ.get(self.env_var)
        if override:
            path = Path(override).expanduser()
            candidates = [path / self.executable, path / "bin" / self.executable] if path.is_dir() else [path]
            return next((p for p in candidates if p.is_file() and os.access(p, os.X_OK)), None)
        found = shutil.which(self.executable, path=environ.get("PATH", os.defpath))
        return Path(found) if found else None

    def how_to_get(self) -> str:
        env_name = Path(self.conda_env).stem
        return (f"get it with `conda env create -f {self.conda_env} && conda activate resim-{env_name}`, "
                f"or from an LCG view ({self.lcg_package}: `{LCG_VIEW}`), "
                f"or build it from source with `scripts/build-programs {self.name}` "
                f"(then `source external/env.sh`), "
                f"or point resim at an existing installation with "
                f"`export {self.env_var}={self.env_example}` "
                f"(or `export PATH=/path/to/bin:$PATH`)")

    def missing_message(self, config_keys: str) -> str:
        return (f"{config_keys}: selects {self.title}, but its executable `{self.executable}` was "
                f"not found (looked at ${self.env_var} and PATH); {self.how_to_get()}")

    def require(self, config_key: str) -> Path:
        """The executable's path, or :class:`BackendMissingError` with the full message."""
        path = self.locate()
        if path is None:
            raise BackendMissingError(self.missing_message(config_key))
        return path


MADGRAPH = ExternalProgram("madgraph", "MadGraph5_aMC@NLO", "mg5_aMC", "RESIM_MG5_AMC",
                           "envs/madgraph.yaml", "madgraph5amc", "/path/to/MG5_aMC/bin/mg5_aMC")
HERWIG = ExternalProgram("herwig", "Herwig 7", "Herwig", "RESIM_HERWIG",
                         "envs/herwig.yaml", "herwig3", "/path/to/herwig/bin/Herwig")
DELPHES = ExternalProgram("delphes", "Delphes", "DelphesHepMC3", "RESIM_DELPHES_DIR",
                          "envs/delphes.yaml", "delphes", "/path/to/delphes")

PROGRAMS = {p.name: p for p in (MADGRAPH, HERWIG, DELPHES)}


def selected(config: dict) -> Iterator[tuple[ExternalProgram, str]]:
    """Every external program the config selects, with the config key that selects it."""
    for sample, spec in (config.get("samples") or {}).items():
        if spec.get("backend") == MADGRAPH.name:
            yield MADGRAPH, f"samples.{sample}.backend"
    for view, spec in (config.get("views") or {}).items():
        if spec.get("backend") == HERWIG.name:
            yield HERWIG, f"views.{view}.backend"
    if (config.get("detector") or {}).get("backend") == DELPHES.name:
        yield DELPHES, "detector.backend"


def unknown_backends(config: dict) -> list[str]:
    """One message per backend name that no module registers, naming its config key."""
    from ..detector.registry import DETECTORS
    from ..errors import ConfigError
    from ..showers.registry import SHOWERS
    from ..hard.registry import BACKENDS

    chosen = [(BACKENDS, f"samples.{sample}.backend", spec.get("backend", "embedded"))
              for sample, spec in (config.get("samples") or {}).items()]
    chosen += [(SHOWERS, f"views.{view}.backend", spec.get("backend", "pythia"))
               for view, spec in (config.get("views") or {}).items()]
    chosen.append((DETECTORS, "detector.backend",
                   (config.get("detector") or {}).get("backend", "embedded")))
    messages = []
    for registry, key, name in chosen:
        try:
            registry.get(name, key)
        except ConfigError as err:
            messages.append(str(err))
    return messages


def check(config: dict) -> list[str]:
    """One message per backend name that is unknown, and per selected external program that is
    not installed (empty: all present)."""
    keys: dict[ExternalProgram, list[str]] = {}
    for program, key in selected(config):
        keys.setdefault(program, []).append(key)
    return unknown_backends(config) + [program.missing_message(", ".join(program_keys))
                                       for program, program_keys in keys.items()
                                       if program.locate() is None]
