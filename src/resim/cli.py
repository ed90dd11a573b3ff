"""``resim`` console script: one sub-command per stage; each stage module registers its own.

Stage modules expose ``register(subparsers)``, which adds their sub-commands and sets
``func`` on each parser. Keeping registration in the stage keeps this file a table of contents.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import ResimError

#: Modules that register sub-commands, in the order of the chain.
COMMAND_MODULES = (
    "resim.hard.cli",      # resim hard: hard-scatter events -> LHE
    "resim.forks.cli",     # resim views: LHE -> views (particle arrays, HepMC3)
    "resim.dataset.cli",   # resim simulate / pair / merge / plots / inspect
    "resim.backends.cli",  # resim check-backends: external programs the config selects
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resim", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:  # a real import error inside the module: let it surface
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ResimError as err:
        print(f"resim {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
