"""Write jet tables to HDF5: chunked, compressed, appendable, byte-reproducible, atomic.

Reproducible bytes: datasets are created with ``track_times=False`` and attributes hold only
fixed content (no wall-clock times, host names or paths), so the same inputs give the same file.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
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


#: How the in-memory image of a file being written grows (fewer reallocations than HDF5's 64 kB).
IMAGE_INCREMENT = 16 << 20


@contextlib.contextmanager
def create_file(path: str | Path) -> Iterator[h5py.File]:
    """A new HDF5 file with settings that keep its bytes reproducible, written to ``path`` when
    the block succeeds.

    The file is built in memory (HDF5's core driver) and its image written by Python at the end.
    Written through HDF5's own disk driver, a full disk or a file-size limit leaves HDF5 2.0
    with a file it cannot close: h5py's close (or the interpreter's exit) then segfaults. Here
    HDF5 never meets the failure; the plain write raises an OSError naming the reason. Memory:
    the finished file (compressed jets), held once more while it is written.
    """
    f = h5py.File(path, "w", driver="core", backing_store=False, block_size=IMAGE_INCREMENT,
                  libver=("earliest", "v110"), track_order=False)
    try:
        yield f
        f.flush()
        image = f.id.get_file_image()
    finally:
        f.close()
    with open(path, "wb") as out:
        out.write(image)
