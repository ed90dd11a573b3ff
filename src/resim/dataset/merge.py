"""``resim merge``: one file presenting many paired shards as one, via HDF5 virtual datasets.

The merged file holds no jet data: each dataset is a virtual concatenation of the shards'
datasets (source paths stored relative to the merged file, so a results tree can move as a
whole). Its attributes are the first shard's, with ``sample`` joining the shards' samples
("higgs+qcd"), ``shard`` -1, ``sources`` (the shard files, relative) and ``cutflow`` per
source. The reader checks that every source exists: HDF5 would silently read a missing source
as zeros.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from ..errors import DatasetError
from ..io import atomic_path
from .reader import PairedDataset, open_h5
from .writer import JET_TABLE, PAIR_TABLE, create_file, set_attrs


def _virtual(f: h5py.File, name: str, sources: list[tuple[str, h5py.Dataset]]) -> None:
    shape0 = sum(ds.shape[0] for _, ds in sources)
    first = sources[0][1]
    layout = h5py.VirtualLayout(shape=(shape0, *first.shape[1:]), dtype=first.dtype)
    start = 0
    for rel, ds in sources:
        n = ds.shape[0]
        if n:
            layout[start:start + n] = h5py.VirtualSource(rel, name, shape=ds.shape)
        start += n
    f.create_virtual_dataset(name, layout, fillvalue=0)


def merge_files(paths: list[str | Path], out: str | Path) -> int:
    """Write the merged view of ``paths`` to ``out`` atomically; returns the number of pairs."""
    out = Path(out)
    if not paths:
        raise DatasetError(f"{out}: nothing to merge")
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
                attrs.update({"sources": rel, "shard": -1, "sample": "+".join(samples),
                              "cutflow": {r: a.get("cutflow") for r, a in zip(rel, ds.file_attrs)}})
                set_attrs(f, attrs)
    finally:
        for h in handles:
            h.close()
    return len(ds)

