"""``resim check-backends``: stop before any job starts if a selected external program is missing."""

from __future__ import annotations

import argparse
import importlib
import sys

from ..config import load_config
from ..errors import ResimError
from . import HERWIG, check, selected

#: A program's own smallest check ("module:function" of its executable, returning what it found,
#: raising ResimError when it fails): Herwig's loads its repository and evaluates its PDF.
OWN_CHECKS = {HERWIG.name: "resim.showers.herwig:herwig_provenance"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-backends",
        help="check that every external program the config selects is installed",
        description="Exit 2 naming each selected external program (MadGraph, Herwig 7, Delphes) "
                    "that is not installed, and how to get it; exit 0 when all are found.")
    parser.add_argument("--config", required=True, help="configuration file (config.yaml)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    missing = check(config)
    for message in missing:
        # the console scripts' error form, one line per program
        print(f"resim check-backends: error: {message}", file=sys.stderr)
    if missing:
        return 2
    programs = {program.title: program for program, _ in selected(config)}
    print("external backends: " + (", ".join(sorted(programs)) + " found" if programs else "none selected"))
    # Found is not working: a program with a check of its own runs it.
    for title, program in sorted(programs.items()):
        if program.name not in OWN_CHECKS:
            continue
        executable = program.locate()
        module, function = OWN_CHECKS[program.name].split(":")
        try:
            facts = getattr(importlib.import_module(module), function)(executable)
        except ResimError as err:
            print(f"resim check-backends: {title} ({executable}) fails its self-check: {err}",
                  file=sys.stderr)
            return 2
        print(f"{title} ({executable}) self-check passed: "
              + ", ".join(f"{key} {value}" for key, value in facts.items()))
    return 0
