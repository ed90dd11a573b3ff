"""``rs3l`` console script: pre-train, fine-tune, evaluate, report.

Each stage module exposes ``register(subparsers)`` and sets ``func`` on its parsers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from resim.errors import ResimError

COMMAND_MODULES = (
    "train.pretrain",        # rs3l pretrain
    "train.finetune",        # rs3l finetune
    "train.evaluate.cli",    # rs3l evaluate / tables / plots
    "train.report",          # rs3l summary
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rs3l", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
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
        print(f"rs3l {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
