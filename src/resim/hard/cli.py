"""``resim hard``: generate the hard-scatter events of one (sample, shard) as an LHE file."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cliutil import add_job_arguments, declare_paths
from ..config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hard", help="hard-scatter events of one (sample, shard) -> LHE",
        description="Generate the hard events of one shard (backend from samples.<S>.backend); "
                    "writes OUT and its statistics/seed manifest OUT without .lhe.gz + .json.")
    add_job_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="e.g. results/hard/qcd/0.lhe.gz")
    parser.set_defaults(func=run)
    declare_paths(parser, inputs=("config",), outputs=("out",), derived=_statistics)


def _statistics(args: argparse.Namespace) -> list[Path]:
    from . import stats_path

    return [stats_path(args.out)]


def run(args: argparse.Namespace) -> int:
    from . import generate

    generate(load_config(args.config), args.sample, args.shard, args.out)
    return 0
