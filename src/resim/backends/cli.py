"""``resim check-backends``: stop before any job starts if a selected external program is missing."""

from __future__ import annotations

import argparse
import sys

from ..config import load_config
from . import check, selected


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
    found = sorted({program.title for program, _ in selected(config)})
    print("external backends: " + (", ".join(found) + " found" if found else "none selected"))
    return 0
