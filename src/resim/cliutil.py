"""The console scripts' shared frame: sub-commands registered by stage modules, one error path.

Each stage module exposes ``register(subparsers)``, which adds its sub-commands and sets
``func`` on each parser; keeping registration in the stage keeps the scripts tables of contents.

Errors a user can cause end the same way in every script: one line on stderr,
``<script> <command>: error: <what, naming the file or key>``, and exit status 2. That covers
:class:`ResimError`, an ``OSError`` the file system raises on a path the user gave (a missing or
unreadable input, a full disk), and a bad command line. ``-v`` (before or after the sub-command)
adds debug logging and the traceback. Any other exception is a bug in resim: Python's
traceback and exit status 1, so that it can be reported.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import ResimError
from .plugins import import_optional

VERBOSE_HELP = "debug logging, and the traceback of an error"


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``--help`` shows the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def sub_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every sub-command parser below ``parser``, nested ones included (aliases once)."""
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if id(child) not in seen:
                    seen.add(id(child))
                    yield child
                    yield from sub_parsers(child)


def build_parser(prog: str, description: str, modules: Sequence[str]) -> argparse.ArgumentParser:
    parser = Parser(prog=prog, description=description)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")
    for module in import_optional(modules):
        module.register(sub)
    for child in sub_parsers(parser):
        # SUPPRESS: an absent -v after the sub-command must not reset one given before it
        child.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                           help=VERBOSE_HELP)
    return parser


def one_line(message: str) -> str:
    """A multi-line message (a config's list of invalid keys) as one line."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return " ".join(lines[:1] + ["; ".join(lines[1:])]).strip() if lines else ""


def _os_error(err: OSError) -> str:
    what = err.strerror or str(err)
    return f"{err.filename}: {what}" if err.filename else what


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the chosen sub-command; a user error becomes one line and exit 2."""
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ResimError, OSError) as err:
        if verbose:
            traceback.print_exc()
        message = _os_error(err) if isinstance(err, OSError) else str(err)
        print(f"{parser.prog} {args.command}: error: {one_line(message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments naming one job of the chain: its config and its (sample, shard)."""
    parser.add_argument("--config", required=True, type=Path, help="run configuration (config.yaml)")
    parser.add_argument("--sample", required=True, help="a key of the config's samples")
    parser.add_argument("--shard", required=True, type=int, help="shard number, from 0")
