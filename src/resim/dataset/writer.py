"""Write jet tables to HDF5: chunked, compressed, appendable, byte-reproducible, atomic.

Reproducible bytes: datasets are created with ``track_times=False`` and attributes hold only
fixed content (no wall-clock times, host names or paths), so the same inputs give the same file.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from ..contracts import CONSTITUENT_FIELDS, JET_FIELDS, MAX_CONSTITUENTS, PARTON_FIELDS

#: Rows per HDF5 chunk: ~200 kB of constituents, a good unit for sequential and random reads.
CHUNK_ROWS = 64

#: Per-row datasets of a jet table: (trailing shape, dtype).
JET_TABLE = {
    "constituents": ((MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS)), np.float32),
    "n_constituents": ((), np.int16),
    # truth per stored constituent: 1 from pile-up (IsPU), 0 from the hard event; no feature
    "pileup": ((MAX_CONSTITUENTS,), np.int8),
    "jet": ((len(JET_FIELDS),), np.float32),
}
PAIR_TABLE = {
    "event_id": ((), np.int64),
    "label": ((), np.int8),
    "parton": ((len(PARTON_FIELDS),), np.float32),
}


def set_attrs(obj: h5py.HLObject, attrs: dict) -> None:
    """Store attributes; dicts and lists as JSON with sorted keys (stable bytes)."""
    for key, value in attrs.items():
        if isinstance(value, (dict, list, tuple)):
            value = json.dumps(value, sort_keys=True)
        obj.attrs[key] = value


class H5Appender:
    """Resizable, chunked, gzip-compressed datasets in one group, grown batch by batch."""

    def __init__(self, group: h5py.Group, table: dict[str, tuple[tuple, type]]):
        self.group = group
        self.table = table
        self.rows = 0
        for name, (shape, dtype) in table.items():
            group.create_dataset(
                name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                chunks=(CHUNK_ROWS, *shape), compression="gzip", compression_opts=4,
                shuffle=True, track_times=False)

    def append(self, **arrays: np.ndarray) -> None:
        """Append the same number of rows to every dataset of the table."""
        if set(arrays) != set(self.table):
            raise ValueError(f"append needs exactly {sorted(self.table)}, got {sorted(arrays)}")
        n = {len(a) for a in arrays.values()}
        if len(n) != 1:
            raise ValueError(f"row counts differ: { {k: len(a) for k, a in arrays.items()} }")
        n = n.pop()
        for name, array in arrays.items():
            ds = self.group[name]
            ds.resize(self.rows + n, axis=0)
            ds[self.rows:] = array
        self.rows += n


def create_file(path: str | Path) -> h5py.File:
    """A new HDF5 file with settings that keep its bytes reproducible."""
    return h5py.File(path, "w", libver=("earliest", "v110"), track_order=False)
