"""``resim simulate / pair / merge / plots / inspect``: the dataset stage's commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cliutil import add_job_arguments, declare_paths
from ..config import load_config
from ..errors import DatasetError
from .cutflow import cutflow_table


def _simulate(args: argparse.Namespace) -> int:
    from .simulate import simulate_shard

    cutflows = simulate_shard(load_config(args.config), args.sample, args.shard, args.lhe,
                              args.out, Path(args.out).parent, pool=args.pileup)
    print(cutflow_table({"views": cutflows}), end="")
    return 0


def _pair(args: argparse.Namespace) -> int:
    from .pair import pair_files

    flow = pair_files(load_config(args.config), args.sample, args.shard, args.viewfiles, args.out)
    print(f"{args.out}: {cutflow_table({'pairing': flow})}", end="")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from .merge import merge_files

    print(f"{args.out}: {merge_files(args.files, args.out)} pairs")
    return 0


def _plots(args: argparse.Namespace) -> int:
    from ..io import published_together
    from .plots import plot_file, plot_paths

    outputs: dict[Path, str] = {}
    for path in args.files:
        for out in plot_paths(path, args.outdir):
            if out in outputs:  # results/dataset/qcd/0.h5 and higgs/0.h5 both plot as 0_*.png
                raise DatasetError(f"{path}: its plots would overwrite those of {outputs[out]} "
                                   f"({out.name} in {args.outdir}); plot them into separate "
                                   f"directories")
            outputs[out] = path
    with published_together(*outputs):  # all files' plots, or none
        for path in args.files:
            for out in plot_file(path, args.outdir):
                print(out)
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from .pair import describe

    print(describe(args.file))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="every view of one shard -> detector -> matched jets (HDF5)",
                       description="Shower the shard's LHE events in every view, run the "
                       "detector, cluster jets, match them to the truth objects and apply the "
                       "selection; writes one view file (HDF5, read by resim pair) and prints "
                       "each view's cut-flow.")
    add_job_arguments(p)
    p.add_argument("--lhe", required=True, help="hard-scatter LHE file of the shard")
    p.add_argument("--out", required=True, help="results/views/S/N.h5")
    p.add_argument("--pileup", nargs="*", default=[], metavar="POOL",
                   help="pile-up pool files (resim pileup-pool), needed when pileup.mu > 0")
    p.set_defaults(func=_simulate)
    declare_paths(p, inputs=("config", "lhe", "pileup"), outputs=("out",))

    p = sub.add_parser("pair", help="view files of a shard -> paired HDF5",
                       description="Pair the jets of one truth object across every view of the "
                       "shard (schema: resim/dataset/schema.py); the view files must hold this "
                       "sample and shard, each view once.")
    add_job_arguments(p)
    p.add_argument("--out", required=True, help="results/dataset/S/N.h5")
    p.add_argument("viewfiles", nargs="+", help="results/views/S/N.h5 (or several files whose "
                   "views together make up the shard)")
    p.set_defaults(func=_pair)
    declare_paths(p, inputs=("config", "viewfiles"), outputs=("out",))

    p = sub.add_parser("merge", help="paired shards -> one merged file (HDF5 virtual datasets)",
                       description="Present paired shards as one file without copying their "
                       "jets (HDF5 virtual datasets, sources relative to OUT); each shard once, "
                       "all made with one configuration.")
    p.add_argument("--out", required=True, help="results/dataset/SPLIT.h5")
    p.add_argument("files", nargs="+", help="paired files (results/dataset/S/N.h5)")
    p.set_defaults(func=_merge)
    declare_paths(p, inputs=("files",), outputs=("out",))

    p = sub.add_parser("plots", help="validation plots of paired files",
                       description="Histograms per view of jet mass, pT, multiplicity, N2 and the "
                       "15 input features of each paired or merged file; prints the PNG paths.")
    p.add_argument("--outdir", required=True, help="directory for the PNG files")
    p.add_argument("files", nargs="+", help="paired or merged files")
    p.set_defaults(func=_plots)
    declare_paths(p, inputs=("files",), output_dirs=("outdir",))

    p = sub.add_parser("inspect", help="summary of a paired file: views, labels, cut-flow",
                       description="Print what a paired or merged file holds: pairs, views, "
                       "labels, cut-flows, config hash and package versions.")
    p.add_argument("file", help="paired or merged file")
    p.set_defaults(func=_inspect)
