"""``resim views``: shower the views of a shard (engine debugging, HepMC3 export).

Writes the final-state particles of every view (or of ``--view`` and its ancestors) (``--out``, HDF5: one group per
view holding the awkward buffers of ``particles`` and ``truth`` and the ``event_id``s) and/or
one HepMC3 file per view (``--hepmc OUTDIR``), plus the job's seed manifest beside them.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from ..cliutil import add_job_arguments, declare_paths
from ..config import load_config
from ..errors import ConfigError
from ..dataset.writer import create_file
from ..io import atomic_path
from ..seeds import SeedManifest

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "views", help="LHE -> the views of a shard (particle arrays and/or HepMC3)",
        description="Shower every view of a shard (or --view and its ancestors): particle "
                    "arrays (--out, HDF5) and/or one HepMC3 file per view (--hepmc), with the "
                    "seed manifest beside them. Every event of the file runs in every view.")
    add_job_arguments(parser)
    parser.add_argument("--lhe", required=True, type=Path, help="hard-scatter LHE file of the shard")
    parser.add_argument("--view", action="append", dest="views", metavar="VIEW",
                        help="only this view and its ancestors (repeatable; default: every view)")
    parser.add_argument("--out", type=Path, help="HDF5 file of particle arrays")
    parser.add_argument("--hepmc", type=Path, metavar="OUTDIR", help="one <view>.hepmc3 per view")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="events simulated together (default run.batch_size; results do not "
                             "depend on it)")
    parser.set_defaults(func=run)
    declare_paths(parser, inputs=("config", "lhe"), outputs=("out",), output_dirs=("hepmc",),
                  derived=_manifest)


def _manifest(args: argparse.Namespace) -> list[Path]:
    return [args.out.with_name(args.out.name + ".seeds.json")] if args.out else []


def _write_array(group: h5py.Group, name: str, array: ak.Array) -> None:
    form, length, buffers = ak.to_buffers(ak.to_packed(array))
    sub = group.create_group(name)
    sub.attrs["form"], sub.attrs["length"] = form.to_json(), length
    for key, buffer in buffers.items():
        sub.create_dataset(key, data=np.asarray(buffer), compression="gzip")


def read_array(group: h5py.Group) -> ak.Array:
    """An awkward array written by ``resim views --out`` (one of ``particles``, ``truth``)."""
    buffers = {key: group[key][()] for key in group}
    return ak.from_buffers(group.attrs["form"], int(group.attrs["length"]), buffers)


def write_views(path: Path, batches: dict[str, list], manifest: SeedManifest) -> None:
    """All batches of every view into one HDF5 file, atomically."""
    with atomic_path(path) as tmp, create_file(tmp) as out:
        out.attrs["seeds"] = json.dumps(manifest.to_dict())
        for view, parts in batches.items():
            group = out.create_group(view)
            group.create_dataset("event_id", data=np.concatenate([b.event_id for b in parts]))
            _write_array(group, "particles", ak.concatenate([b.particles for b in parts]))
            _write_array(group, "truth", ak.concatenate([b.truth for b in parts]))
            group.attrs["info"] = json.dumps([b.info for b in parts], default=str)


def run(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from ..hepmc import HepMC3Writer
    from .chain import ViewChain, run_views

    if args.out is None and args.hepmc is None:
        raise ConfigError("give --out FILE and/or --hepmc OUTDIR")  # the script names itself
    config = load_config(args.config)
    manifest = SeedManifest(int(config["run"]["seed"]), args.sample, args.shard)
    batches: dict[str, list] = {}
    with ExitStack() as stack:
        writers = {}
        if args.hepmc is not None:
            order = ViewChain(config, args.sample, args.shard, args.lhe, views=args.views).order
            writers = {v: stack.enter_context(HepMC3Writer(args.hepmc / f"{v}.hepmc3"))
                       for v in order}
        done = 0
        for views in run_views(config, args.sample, args.shard, args.lhe, args.views,
                               batch_size=args.batch_size, manifest=manifest):
            done += len(next(iter(views.values())))
            log.info("%s/%s: %d events showered in %s", args.sample, args.shard, done,
                     ", ".join(views))
            for view, batch in views.items():
                if view in writers:
                    writers[view].write(batch)
                if args.out is not None:
                    batches.setdefault(view, []).append(batch)
    if args.out is not None:
        write_views(args.out, batches, manifest)
        manifest.write(args.out.with_name(args.out.name + ".seeds.json"))
    if args.hepmc is not None:
        manifest.write(args.hepmc / "seeds.json")
    return 0
