"""``resim export``: paired HDF5 -> JetClass ROOT (weaver-core, ParT) or the RS3L layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import load_config

FORMATS = ("jetclass", "rs3l")


def _export(args: argparse.Namespace) -> int:
    from .jetclass import export_jetclass
    from .rs3l import export_rs3l

    config = load_config(args.config) if args.config else None
    write = export_jetclass if args.format == "jetclass" else export_rs3l
    written = write(args.files, args.out, name=args.name, max_jets=args.max_jets, config=config)
    files = [p for paths in written.values() for p in paths] if isinstance(written, dict) \
        else written
    print(f"{args.out}: {len(files)} {args.format} files")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="paired files -> JetClass ROOT or the RS3L layout",
                       description="Write paired (or merged) files in a layout the field's "
                       "training code reads: 'jetclass' (one TTree file set per view, same rows "
                       "in every view, weaver data config and dataset card beside them) or "
                       "'rs3l' (the RS3L authors' training HDF5, nominal and augmented rows "
                       "interleaved). Inputs are never overwritten.")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="jetclass: ROOT per view for weaver-core / ParT; rs3l: the RS3L "
                   "training HDF5")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--name", help="file name stem (default: the first input's stem)")
    p.add_argument("--max-jets", type=_positive, default=100_000,
                   help="jets per file (default 100000, as JetClass)")
    p.add_argument("--config", type=Path, help="the run's config.yaml, copied into the card")
    p.add_argument("files", nargs="+", help="paired or merged files (results/dataset/*.h5)")
    p.set_defaults(func=_export)
