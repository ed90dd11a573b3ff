"""The console scripts' shared frame: sub-commands registered by stage modules, one error path.

Each stage module exposes ``register(subparsers)``, which adds its sub-commands and sets
``func`` on each parser; keeping registration in the stage keeps the scripts tables of contents.

Errors a user can cause end the same way in every script: one line on stderr,
``<script> <command>: error: <what, naming the file or key>``, and exit status 2. That covers
:class:`ResimError`, an ``OSError`` the file system raises on a path the user gave (a missing or
unreadable input, a full disk), and a bad command line. ``-v`` (before or after the sub-command)
adds debug logging and the traceback. Any other exception is a bug in resim: Python's
traceback and exit status 1, so that it can be reported.

Before a command runs, :func:`check_paths` refuses an output that is one of its inputs (each
command declares which arguments it reads and writes with :func:`declare_paths`): a user's
file is never the price of a mistyped ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError, ResimError
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
    for each in (parser, *sub_parsers(parser)):
        _plain_help(each)
    return parser


#: reST markup of docstrings that descriptions are taken from: ``x``, :mod:`x`, `x`.
_MARKUP = re.compile(r"(?::[a-z]+:)?`{1,2}([^`]+)`{1,2}")


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """--help as text: descriptions and argument helps without the docstrings' reST markup."""
    if parser.description:
        parser.description = _MARKUP.sub(r"\1", parser.description)
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS:
            action.help = _MARKUP.sub(r"\1", action.help)
        for choice in getattr(action, "_choices_actions", []):
            if choice.help:
                choice.help = _MARKUP.sub(r"\1", choice.help)


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
        check_paths(args)
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


@dataclass(frozen=True)
class PathRoles:
    """Which arguments of a command are read and which are written (argument ``dest`` names;
    a value may be one path or a list of them), so that :func:`check_paths` can refuse an output
    that is one of the inputs before anything is read or written.

    ``runs``: inputs a run wrote into a folder of its own (a checkpoint, a model directory); an
    output directory must not be that folder, where it would overwrite the run's other files.
    ``derived``: further outputs the command names from its arguments (``resim hard`` writes
    its statistics beside the LHE file).
    """

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    output_dirs: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    derived: Callable[[argparse.Namespace], list[Path]] | None = None


def declare_paths(parser: argparse.ArgumentParser, **roles) -> None:
    """Declare the command's inputs and outputs (:class:`PathRoles`' fields)."""
    parser.set_defaults(path_roles=PathRoles(**roles))


def _paths(args: argparse.Namespace, names: tuple[str, ...]) -> list[Path]:
    found = []
    for name in names:
        value = getattr(args, name, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, list):  # rs3l anomaly --dark NAME FILE...: its files
                found += [Path(v) for v in item[1:]]
            elif item is not None:
                found.append(Path(item))
    return found


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file or directory: by the file itself where both exist
    (symlinks, hard links, ``./x`` and ``x``), else by the resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): no file to compare
        return a.resolve() == b.resolve()


def check_paths(args: argparse.Namespace) -> None:
    """Refuse, naming both, an output that is one of the command's inputs, or an output
    directory that is the folder of an input's run (:class:`PathRoles`)."""
    roles: PathRoles | None = getattr(args, "path_roles", None)
    if roles is None:
        return
    inputs = _paths(args, roles.inputs)
    files = _paths(args, roles.outputs) + (roles.derived(args) if roles.derived else [])
    dirs = _paths(args, roles.output_dirs)
    for out in files + dirs:
        for source in inputs:
            if same_file(out, source):
                raise OutputError(f"output {out} is the input {source}: writing it would "
                                  f"destroy the input; choose another output")
    for out in dirs:
        for source in _paths(args, roles.runs):
            if same_file(out, source if source.is_dir() else source.parent):
                raise OutputError(f"output directory {out} is the folder of the input {source}: "
                                  f"writing there would overwrite that run's files; choose "
                                  f"another output directory")
