"""``rs3l evaluate``: the command line of the evaluation pipeline (:mod:`.pipeline`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from resim.cliutil import declare_paths
from resim.config import load_config
from resim.errors import ConfigError

from ..finetune.run import add_task_arguments
from .pipeline import evaluate


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    # "--test DATA... MODELDIR..." (rule evaluate): argparse hands everything after the last
    # file option to it; datasets are files and model outputs are directories, so they separate.
    missing = [p for p in [*args.test, *args.val, *args.models] if not Path(p).exists()]
    if missing:
        raise ConfigError(f"{missing[0]}: no such file or directory")
    test = [Path(p) for p in args.test if not Path(p).is_dir()]
    val = [Path(p) for p in args.val if not Path(p).is_dir()]
    models = [Path(p) for p in [*args.test, *args.val, *args.models] if Path(p).is_dir()]
    if not models:
        raise ConfigError("no model directory given (fine-tuning outputs <mode>-<rep>/)")
    evaluate(config, args.task, args.out, test, models, args.backbone, val)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="score test jets with fine-tuned models; write the "
                              "seed's tables and plots",
                              description="Score the held-out jets with every fine-tuned model of "
                              "a task (and the backbones) and write the seed's tables "
                              "(rejection, Wasserstein, kNN), metrics.json, scores.npz and plots "
                              "into OUT.")
    add_task_arguments(p)
    p.add_argument("--out", required=True, help="output directory (results/evaluate/<task>)")
    p.add_argument("--test", nargs="+", required=True, help="paired HDF5 files of held-out "
                   "jets, or JetClass .root files")
    p.add_argument("--val", nargs="+", required=True, help="paired HDF5 files of the validation "
                   "split (N2's orientation and scale)")
    p.add_argument("--backbone", action="append", default=[], metavar="CHECKPOINT",
                   help="a pre-training checkpoint (results/train/<name>/checkpoint.pt; repeat for "
                   "each backbone): its representation plots, kNN accuracy and training curves")
    p.add_argument("models", nargs="*", help="fine-tuning output directories")
    p.set_defaults(func=_run)
    declare_paths(p, inputs=("config", "test", "val", "backbone", "models"), output_dirs=("out",),
                  runs=("backbone", "models"))
