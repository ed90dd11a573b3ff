"""``resim pileup-pool``: one shard of the minimum-bias pool that pile-up is drawn from."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cliutil import declare_paths
from ..config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pileup-pool", help="minimum-bias events (Pythia SoftQCD:inelastic) -> pile-up pool",
        description="Generate pileup.pool_events minimum-bias events with the run's tune as one "
                    "pool shard (HDF5 particle arrays with vertices), seeded from (run.seed, "
                    "pileup, shard).")
    parser.add_argument("--config", required=True, type=Path, help="run configuration (config.yaml)")
    parser.add_argument("--shard", required=True, type=int,
                        help="pool shard number, 0 .. pileup.pool_shards - 1")
    parser.add_argument("--out", required=True, type=Path, help="e.g. results/pileup/pool/0.h5")
    parser.set_defaults(func=run)
    declare_paths(parser, inputs=("config",), outputs=("out",))


def run(args: argparse.Namespace) -> int:
    from .pool import generate_pool

    particles = generate_pool(load_config(args.config), args.shard, args.out)
    print(f"{args.out}: {particles} particles")
    return 0
