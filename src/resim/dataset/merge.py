"""``resim merge``: one file presenting many paired shards as one, via HDF5 virtual datasets.

The merged file holds no jet data: each dataset is a virtual concatenation of the shards'
datasets (source paths stored relative to the merged file, so a results tree can move as a
whole). Its attributes are the first shard's, with ``kind`` "merged", ``sample`` joining the
shards' samples ("higgs+qcd"), ``shard`` -1, ``sources`` (the shard files, relative) and
``cutflow`` per source. The reader checks that every source exists: HDF5 would silently read a
missing source as zeros. The shards must be paired files, each given once, made with one
configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
from h5py import h5d, h5p, h5s, h5t

from ..errors import DatasetError
from ..io import atomic_path
from .provenance import require_distinct, require_kind, require_one_each, require_same_config
from .reader import PairedDataset, decode_attrs, open_h5
from .writer import JET_TABLE, PAIR_TABLE, create_file, set_attrs


def _virtual(f: h5py.File, name: str, sources: list[tuple[str, h5py.Dataset]]) -> None:
    """Concatenate ``sources`` (relative file, dataset) along axis 0 as virtual dataset ``name``.

    Built with the low-level API because h5py's ``create_virtual_dataset`` offers no way to
    turn off object time tracking: HDF5 would stamp the creation time into the file and two
    identical merges would differ in bytes.
    """
    first = sources[0][1]
    tail = first.shape[1:]
    vspace = h5s.create_simple((sum(ds.shape[0] for _, ds in sources), *tail))
    dcpl = h5p.create(h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    dcpl.set_fill_value(np.zeros(1, dtype=first.dtype))
    dcpl.set_layout(h5d.VIRTUAL)
    start = 0
    for rel, ds in sources:
        n = ds.shape[0]
        if n:
            vspace.select_hyperslab((start, *(0 for _ in tail)), (n, *tail))
            dcpl.set_virtual(vspace, os.fsencode(rel), name.encode(), h5s.create_simple(ds.shape))
        start += n
    vspace.select_all()
    parent, _, leaf = name.rpartition("/")
    group = f.require_group(parent) if parent else f
    h5d.create(group.id, leaf.encode(), h5t.py_create(first.dtype, logical=1), vspace, dcpl=dcpl)


def merge_files(paths: list[str | Path], out: str | Path) -> int:
    """Write the merged view of ``paths`` to ``out`` atomically; returns the number of pairs."""
    out = Path(out)
    if not paths:
        raise DatasetError(f"{out}: nothing to merge")
    require_distinct(paths)
    shard_attrs = []
    for path in paths:
        with open_h5(path) as f:
            shard_attrs.append(decode_attrs(f.attrs))
        require_kind(path, shard_attrs[-1], ("paired",), "resim merge")
    require_one_each(paths, shard_attrs)
    require_same_config(paths, shard_attrs)
    ds = PairedDataset(paths)  # validates every shard and that their views agree
    rel = [os.path.relpath(Path(p).resolve(), out.resolve().parent) for p in paths]
    handles = [open_h5(p) for p in paths]
    try:
        names = [f"pairs/{k}" for k in PAIR_TABLE] + [
            f"views/{v}/{k}" for v in ds.views for k in JET_TABLE]
        with atomic_path(out) as tmp:
            with create_file(tmp) as f:
                for name in names:
                    _virtual(f, name, [(r, h[name]) for r, h in zip(rel, handles)])
                attrs = {k: v for k, v in ds.file_attrs[0].items() if k != "n_pairs"}
                samples = sorted({str(a.get("sample")) for a in ds.file_attrs})
                attrs.update({"kind": "merged", "sources": rel, "shard": -1,
                              "sample": "+".join(samples),
                              "cutflow": {r: a.get("cutflow") for r, a in zip(rel, ds.file_attrs)}})
                set_attrs(f, attrs)
    finally:
        for h in handles:
            h.close()
    return len(ds)

