"""Read paired-jet HDF5 files (per shard or merged) for training, evaluation and plots.

:class:`PairedDataset` presents any number of files as one table of pairs. Small per-pair
arrays (event_id, label, parton) are loaded at once; constituents are read on demand, one
contiguous or sorted selection at a time, so memory stays bounded by what the caller asks for.
File handles are opened lazily per process (safe with forked DataLoader workers).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..errors import DatasetError
from .provenance import require_kind, require_same_config
from ..contracts import CONSTITUENT_FIELDS, JET_FIELDS, PARTON_FIELDS
from .schema import SCHEMA_VERSION
from .writer import JET_TABLE, PAIR_TABLE

#: Root attributes stored as JSON strings.
JSON_ATTRS = ("views", "view_settings", "seeds", "versions", "cutflow", "label_names", "sources",
              "config_sections", "hard", "detector", "jets")


def open_h5(path: str | Path, mode: str = "r") -> h5py.File:
    """Open an HDF5 file, turning h5py's low-level failures into a DatasetError naming it."""
    try:
        return h5py.File(path, mode)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such dataset file") from None
    except OSError as err:
        raise DatasetError(f"{path}: not a readable HDF5 file (truncated or corrupt?): "
                           f"{err}") from None


def decode_attrs(attrs: h5py.AttributeManager) -> dict:
    """Root attributes as plain Python values, JSON ones decoded."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, bytes):
            value = value.decode()
        if key in JSON_ATTRS and isinstance(value, str):
            value = json.loads(value)
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def selected_rows(dataset, view: str, rows: slice | np.ndarray) -> np.ndarray:
    """``rows`` of a ``read`` call as an index array, checked against the dataset's size and
    views (shared by every reader with the paired-dataset surface)."""
    if view not in dataset.views:
        raise DatasetError(f"view {view!r} not in {dataset.paths[0]} (views: {dataset.views})")
    rows = np.arange(len(dataset))[rows] if isinstance(rows, slice) \
        else np.asarray(rows, dtype=np.int64).reshape(-1)
    if rows.size and (rows.min() < 0 or rows.max() >= len(dataset)):
        raise IndexError(f"rows outside 0..{len(dataset) - 1}")
    return rows


def require_attrs(path: str | Path, attrs: dict, keys: tuple[str, ...]) -> None:
    """The root attributes a reader needs, each named when missing."""
    missing = [key for key in keys if key not in attrs]
    if missing:
        raise DatasetError(f"{path}: lacks the attribute(s) {', '.join(missing)} (truncated, or "
                           f"edited after resim wrote it?)")


def require_parts(path: str | Path, f: h5py.File, views: list[str], table: dict) -> None:
    """Every view of ``views`` has its group in ``f`` holding each dataset of ``table``: a file
    missing a part is one line naming it, never h5py's KeyError deep in a reader."""
    for view in views:
        group = f.get(f"views/{view}")
        if not isinstance(group, h5py.Group):
            raise DatasetError(f"{path}: lists view {view!r} but has no group /views/{view} "
                               f"(truncated, or edited after resim wrote it?)")
        missing = [key for key in table if not isinstance(group.get(key), h5py.Dataset)]
        if missing:
            raise DatasetError(f"{path}: view {view!r} lacks its dataset(s) "
                               f"{', '.join(missing)} (/views/{view})")


@dataclass
class Jets:
    """The jets of one view for a selection of pairs (schema layout)."""

    constituents: np.ndarray  # (m, MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS)) float32
    n_constituents: np.ndarray  # (m,) int16
    jet: np.ndarray  # (m, len(JET_FIELDS)) float32

    def __len__(self) -> int:
        return len(self.n_constituents)


def _check_layout(path: Path, f: h5py.File) -> dict:
    attrs = decode_attrs(f.attrs)
    require_kind(path, attrs, ("paired", "merged"), "the paired-dataset reader")
    if attrs.get("schema_version") != SCHEMA_VERSION:
        raise DatasetError(f"{path}: schema_version {attrs.get('schema_version')!r}, "
                           f"this reader needs {SCHEMA_VERSION}")
    missing = [s for s in attrs.get("sources") or [] if not (path.parent / s).exists()]
    if missing:  # HDF5 would read a missing virtual source as zeros
        raise DatasetError(f"{path}: merged file lacks its source shards {missing}")
    require_attrs(path, attrs, ("views", "label_names"))
    require_parts(path, f, attrs["views"], JET_TABLE)
    if not isinstance(f.get("pairs"), h5py.Group) or \
            any(not isinstance(f["pairs"].get(k), h5py.Dataset) for k in PAIR_TABLE):
        raise DatasetError(f"{path}: lacks /pairs or one of its datasets "
                           f"{', '.join(PAIR_TABLE)}")
    n = None
    try:
        for view in attrs["views"]:
            group = f["views"][view]
            shapes = {k: group[k].shape for k in ("constituents", "n_constituents", "jet")}
            if shapes["constituents"][2:] != (len(CONSTITUENT_FIELDS),) or \
                    shapes["jet"][1:] != (len(JET_FIELDS),):
                raise DatasetError(f"{path}: view {view!r} has shapes {shapes}, not the schema's")
            n = shapes["jet"][0] if n is None else n
            if any(s[0] != n for s in shapes.values()):
                raise DatasetError(f"{path}: view {view!r} row counts differ: {shapes}")
        for key in ("event_id", "label", "parton"):
            if f["pairs"][key].shape[0] != n:
                raise DatasetError(f"{path}: /pairs/{key} has {f['pairs'][key].shape[0]} rows, "
                                   f"views have {n}")
    except KeyError as err:
        raise DatasetError(f"{path}: missing {err} (not a paired-jet dataset)") from None
    attrs["n_pairs"] = int(n or 0)
    return attrs


class PairedDataset:
    """One table of jet pairs over one or more paired HDF5 files (per shard or merged)."""

    def __init__(self, paths: str | Path | list[str | Path]):
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise DatasetError("PairedDataset needs at least one file")
        self._handles: dict[int, list[h5py.File]] = {}
        event_id, label, parton, sizes, file_attrs = [], [], [], [], []
        for path in self.paths:
            with open_h5(path) as f:
                attrs = _check_layout(path, f)
                try:
                    event_id.append(f["pairs/event_id"][:])
                    label.append(f["pairs/label"][:])
                    parton.append(f["pairs/parton"][:])
                except (OSError, RuntimeError) as err:
                    raise DatasetError(f"{path}: cannot read /pairs (truncated?): {err}") from None
            if file_attrs and attrs["views"] != file_attrs[0]["views"]:
                raise DatasetError(f"{path}: views {attrs['views']} differ from "
                                   f"{self.paths[0]}'s {file_attrs[0]['views']}")
            sizes.append(attrs["n_pairs"])
            file_attrs.append(attrs)
        # jets of two configs are two datasets: mixing them would train on neither
        require_same_config(self.paths, file_attrs)
        self.views: list[str] = list(file_attrs[0]["views"])
        self.label_names: list[str] = list(file_attrs[0]["label_names"])
        self.event_id = np.concatenate(event_id)
        self.labels = np.concatenate(label).astype(np.int8)
        self.parton = np.concatenate(parton)
        self.parton_fields = PARTON_FIELDS
        self.attrs = dict(file_attrs[0])
        self.attrs["files"] = [str(p) for p in self.paths]
        self.file_attrs = file_attrs
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def shard_files(self) -> dict[tuple, Path]:
        """The shard files behind this dataset (a merged file's sources, else the files
        themselves), keyed by what they hold: (sample, shard, config hash). A shard reached
        through a merged file, a symlink, another name or a copy is recognised as one."""
        found = {}
        for path, attrs in zip(self.paths, self.file_attrs):
            sources = [path.parent / s for s in attrs.get("sources") or []]
            for shard in sources or [path]:
                if sources:
                    with open_h5(shard) as f:
                        held = decode_attrs(f.attrs)
                else:
                    held = attrs
                found[(held.get("sample"), held.get("shard"), held.get("config_hash"))] = shard
        return found

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state

    def _files(self) -> list[h5py.File]:
        pid = os.getpid()
        if pid not in self._handles:
            self._handles = {pid: [open_h5(p) for p in self.paths]}
        return self._handles[pid]

    def close(self) -> None:
        for files in self._handles.values():
            for f in files:
                f.close()
        self._handles = {}

    def require_apart(self, other: PairedDataset, role: str, flag: str | None = None,
                      overlap_ok: bool = False) -> None:
        """``other`` (validation or test jets) must come from this dataset's (the training
        jets') config and share no shard with it: jets trained on would flatter the
        validation. ``flag``: the option with which a user accepts an overlap (``overlap_ok``)."""
        require_same_config([self.paths[0], other.paths[0]], [self.attrs, other.attrs])
        if overlap_ok:
            return
        mine = self.shard_files()
        for key, shard in other.shard_files().items():
            if key in mine:
                accept = f" (pass {flag} if that is what you want)" if flag else ""
                raise DatasetError(f"{shard}: the {role} jets include sample {key[0]!r} shard "
                                   f"{key[1]}, which the training files hold too "
                                   f"({mine[key]}){accept}")

    def read(self, view: str, rows: slice | np.ndarray) -> Jets:
        """The jets of ``view`` for ``rows``: a slice or an index array (any order, repeats
        allowed; sorted unique indices read fastest)."""
        rows = selected_rows(self, view, rows)
        wanted, inverse = np.unique(rows, return_inverse=True)
        which = np.searchsorted(self._offsets, wanted, side="right") - 1
        files = self._files()
        first = files[0]["views"][view]
        out = {key: np.empty((len(wanted), *first[key].shape[1:]), first[key].dtype)
               for key in ("constituents", "n_constituents", "jet")}
        for k, f in enumerate(files):
            mine = which == k
            local = wanted[mine] - self._offsets[k]
            if local.size == 0:
                continue
            lo, hi = int(local[0]), int(local[-1]) + 1
            # a dense selection is one contiguous read and a gather; a sparse one, h5py's
            # point selection
            dense = hi - lo <= 4 * local.size
            group = f["views"][view]
            try:
                for key, array in out.items():
                    array[mine] = group[key][lo:hi][local - lo] if dense else group[key][local]
            except (OSError, RuntimeError) as err:
                raise DatasetError(f"{self.paths[k]}: cannot read /views/{view} "
                                   f"(truncated?): {err}") from None
        return Jets(*(out[key][inverse] for key in ("constituents", "n_constituents", "jet")))
