"""External programs resim can run instead of its embedded defaults, and how to find them.

Three stages have a real backend that is a separate program: the hard scatter (MadGraph5_aMC@NLO,
``samples.<name>.backend: madgraph``), the shower of a view (Herwig 7,
``views.<name>.backend: herwig``) and the detector (Delphes, ``detector.backend: delphes``).
Each is found through an environment variable first, then ``PATH``; :func:`check` lists every
selected-but-missing program with how to get it, so that a workflow stops before any job starts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..checks import register_check
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
    #: the program's smallest run of its own (arguments; "{script}": a file holding "exit"),
    #: and what its output shows when it started (some exit 1 after printing their usage)
    self_check: tuple[str, ...] = ()
    started: str = ""

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

    def self_check_failure(self, executable: Path, timeout: float = 300) -> str | None:
        """Run the program's smallest self-check in its own environment (:func:`program_env`);
        None when it starts, else what went wrong, in its own last words. Being on PATH is
        not being able to run: a MadGraph whose Python lacks `six`, a Delphes without its
        ROOT libraries fail here, before any job."""
        with tempfile.TemporaryDirectory(prefix="resim-check-") as work:
            script = Path(work) / "exit.mg5"
            script.write_text("exit\n")
            args = [a.replace("{script}", str(script)) for a in self.self_check]
            shown = " ".join([str(executable), *self.self_check]).replace("{script}", "exit.mg5")
            try:
                result = subprocess.run([*program_command(executable), *args], cwd=work,
                                        env=program_env(), capture_output=True, text=True,
                                        timeout=timeout, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as err:
                return f"`{shown}` did not run: {err}"
        said = (result.stdout + result.stderr).strip()
        if result.returncode == 0 or (self.started and re.search(self.started, said)):
            return None
        return f"`{shown}` exited {result.returncode}: {first_words(said)}"

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
                           "envs/madgraph.yaml", "madgraph5amc", "/path/to/MG5_aMC/bin/mg5_aMC",
                           ("-f", "{script}"))
HERWIG = ExternalProgram("herwig", "Herwig 7", "Herwig", "RESIM_HERWIG",
                         "envs/herwig.yaml", "herwig3", "/path/to/herwig/bin/Herwig",
                         ("--version",))
DELPHES = ExternalProgram("delphes", "Delphes", "DelphesHepMC3", "RESIM_DELPHES_DIR",
                          "envs/delphes.yaml", "delphes", "/path/to/delphes",
                          (), r"(?i)usage:")  # without arguments it prints its usage, exit 1

#: The interpreter a Python program among them (MadGraph) runs with, when not the first
#: ``python3`` of its PATH (:func:`program_env`).
PYTHON_VAR = "RESIM_MG5_PYTHON"


def program_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment an external program runs in: resim's, except that PATH leaves out the
    directory of the Python running resim.

    The workflow puts that directory (the project's virtual environment) first on every job's
    PATH so that jobs find ``resim``; a program starting with ``#!/usr/bin/env python3``
    (MadGraph) would then run on resim's Python, which lacks the modules it needs (``six``).
    It gets the Python it was installed with, as in the user's own shell.
    """
    environ = dict(os.environ if environ is None else environ)
    ours = {os.path.realpath(p) for p in (Path(sys.executable).parent,
                                          Path(sys.prefix) / "bin")}
    kept = [p for p in environ.get("PATH", os.defpath).split(os.pathsep)
            if p and os.path.realpath(p) not in ours]
    environ["PATH"] = os.pathsep.join(kept)
    return environ


def program_command(executable: Path | str, environ: dict[str, str] | None = None) -> list[str]:
    """How to start ``executable``: itself, or ``$RESIM_MG5_PYTHON executable`` when that
    variable names the interpreter a Python program is to run with."""
    python = (os.environ if environ is None else environ).get(PYTHON_VAR)
    return [python, str(executable)] if python else [str(executable)]


def first_words(text: str, limit: int = 300) -> str:
    """A program's message on one line, from its first words: cut at the end when long (the
    start says what failed; the end is often a path or a stack)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"

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


@register_check("backend names")
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


def check(config: dict, run: bool = True) -> list[str]:
    """One message per backend name that is unknown, and per selected external program that is
    not installed or, with ``run``, fails its own smallest self-check (empty: all good)."""
    keys: dict[ExternalProgram, list[str]] = {}
    for program, key in selected(config):
        keys.setdefault(program, []).append(key)
    messages = unknown_backends(config)
    for program, program_keys in keys.items():
        where = ", ".join(program_keys)
        executable = program.locate()
        if executable is None:
            messages.append(program.missing_message(where))
            continue
        failure = program.self_check_failure(executable) if run else None
        if failure:
            messages.append(f"{where}: selects {program.title}, found at {executable}, but it "
                            f"does not run: {failure}")
    return messages
