"""The console scripts' shared frame: sub-commands registered by stage modules, one error path.

Each stage module exposes ``register(subparsers)``, which adds its sub-commands and sets
``func`` on each parser; keeping registration in the stage keeps the scripts tables of contents.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import ResimError
from .plugins import import_optional


def build_parser(prog: str, description: str, modules: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in import_optional(modules):
        module.register(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the chosen sub-command; a ResimError becomes one line and exit 2."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ResimError as err:
        print(f"{parser.prog} {args.command}: error: {err}", file=sys.stderr)
        return 2


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments naming one job of the chain: its config and its (sample, shard)."""
    parser.add_argument("--config", required=True, type=Path, help="run configuration (config.yaml)")
    parser.add_argument("--sample", required=True, help="a key of the config's samples")
    parser.add_argument("--shard", required=True, type=int, help="shard number, from 0")
