"""``resim pair``: view-group files of one (sample, shard) -> one paired HDF5 file (schema.py).

A pair is one jet-like truth object of one event, keyed by (event_id, truth_index). It enters
when its nominal jet is selected; with ``jets.require_all_views`` (default) it stays only if its
jet is selected in every other view too, otherwise a matched jet suffices. Rows are copied in
bounded chunks, so memory does not grow with the shard. Label and parton come from the nominal
view.

The pairing cut-flow charges each lost candidate to the first view (in ``dataset.view_order``)
that drops it, so that it closes; that split depends on the order (the first view takes the
most). Its ``rejected`` entry does not: per view, the candidates that view drops whatever the
others do, by the reason it drops them (the view's status), and ``skipped`` for candidates of
events the view never simulated (the cascade: an earlier view had already lost them).
"""

from __future__ import annotations


import json
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..forks.chain import view_order
from ..io import atomic_path
from ..jets import STATUS, STATUS_CODE
from .cutflow import check_closes
from .provenance import (detector_record, require_distinct, require_job, require_job_config,
                         require_kind, versions)
from .reader import decode_attrs, open_h5, require_attrs, require_parts
from ..contracts import LABELS
from .schema import SCHEMA_VERSION
from .simulate import VIEW_TABLE, jets_config
from .writer import JET_TABLE, PAIR_TABLE, H5Appender, create_file, set_attrs

COPY_ROWS = 2048


KEY_STRIDE = 2048


def _keys(event_id: np.ndarray, truth_index: np.ndarray) -> np.ndarray:
    if np.any(event_id >= 1 << 52):
        raise DatasetError("event_id too large to key pairs")
    return event_id.astype(np.int64) * KEY_STRIDE + truth_index.astype(np.int64)


def _take(group, idx: np.ndarray, table: dict) -> dict[str, np.ndarray]:
    """Rows ``idx`` (increasing) of ``table``'s datasets: one contiguous read, then a gather."""
    if len(idx) == 0:
        return {k: group[k][:0] for k in table}
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    return {k: group[k][lo:hi][idx - lo] for k in table}


def _rejections(candidates: np.ndarray, keys: np.ndarray, status: np.ndarray,
                require_all: bool, skipped: np.ndarray) -> dict[str, int]:
    """How many ``candidates`` one view drops, by reason, irrespective of the other views.

    ``keys`` (sorted) and ``status`` are the view's rows; a candidate without a row had no jet,
    unless its event is among the view's ``skipped`` event ids.
    """
    pos = np.searchsorted(keys, candidates)
    found = pos < len(keys)
    found[found] = keys[pos[found]] == candidates[found]
    code = np.full(len(candidates), STATUS_CODE["no_jet"], dtype=np.int8)
    code[found] = status[pos[found]]
    if not require_all:  # a matched jet suffices
        code = np.where(code == STATUS_CODE["no_jet"], code, STATUS_CODE["selected"])
    not_run = ~found & np.isin(candidates // KEY_STRIDE, skipped)
    counts = {reason: int((code[~not_run] == c).sum()) for c, reason in enumerate(STATUS) if c}
    return {**counts, "skipped": int(not_run.sum())}


def _ordered_views(config: dict, present: list[str]) -> list[str]:
    """The views present, in the configured view order (nominal first)."""
    if "nominal" not in present:
        raise DatasetError("no view file holds the nominal view")
    order = [v for v in view_order(config) if v in present]
    return order + sorted(set(present) - set(order))


def pair_files(config: dict, sample: str, shard: int, view_files: list[str | Path],
               out: str | Path) -> dict:
    """Pair the jets of every view and publish ``out`` atomically; returns the pairing cut-flow."""
    require_all = jets_config(config)["require_all_views"]
    handles, where, group_attrs = [], {}, []
    try:
        require_distinct(view_files)
        for path in view_files:
            f = open_h5(path)
            handles.append(f)
            attrs = decode_attrs(f.attrs)
            require_kind(path, attrs, ("view-group",), "resim pair")
            require_job(path, attrs, sample, shard)
            require_job_config(path, attrs, config, sample)
            require_attrs(path, attrs, ("views", "seeds", "cutflow"))
            require_parts(path, f, attrs["views"], VIEW_TABLE)
            for view in attrs["views"]:
                if view in where:
                    raise DatasetError(f"{path}: view {view!r} already in "
                                       f"{view_files[where[view][1]]}")
                where[view] = (f["views"][view], len(handles) - 1)
            group_attrs.append(attrs)
        views = _ordered_views(config, list(where))
        keys, status, ok, skipped = {}, {}, {}, {}
        for view in views:
            g = where[view][0]
            keys[view] = _keys(g["event_id"][:], g["truth_index"][:])
            if np.any(np.diff(keys[view]) <= 0):
                raise DatasetError(f"{view_files[where[view][1]]}: view {view} rows are not "
                                   f"in (event_id, truth_index) order")
            status[view] = g["status"][:]
            skipped[view] = (g["skipped_event_id"][:] if "skipped_event_id" in g
                             else np.zeros(0, np.int64))
            ok[view] = (keys[view][status[view] == 0] if (require_all or view == "nominal")
                        else keys[view])
        candidates = ok["nominal"]
        alive = candidates
        cutflow = {"candidates": int(len(candidates)), "lost": {}, "pairs": 0, "rejected": {
            v: _rejections(candidates, keys[v], status[v], require_all, skipped[v])
            for v in views[1:]}}
        for view in views[1:]:
            kept = np.isin(alive, ok[view])
            cutflow["lost"][view] = int((~kept).sum())
            alive = alive[kept]
        cutflow["pairs"] = int(len(alive))
        check_closes(cutflow, f"{out} pairing")

        seeds = {}
        for attrs in group_attrs:
            for view, streams in attrs["seeds"]["seeds"].items():
                seeds[view] = streams
        view_cutflows = {v: group_attrs[where[v][1]]["cutflow"][v] for v in views}
        with atomic_path(out) as tmp, create_file(tmp) as f:
            pairs = H5Appender(f.create_group("pairs"), PAIR_TABLE)
            tables = {v: H5Appender(f.create_group(f"views/{v}"), JET_TABLE) for v in views}
            rows = {v: np.searchsorted(keys[v], alive) for v in views}
            for start in range(0, len(alive), COPY_ROWS):
                sl = slice(start, start + COPY_ROWS)
                pairs.append(**_take(where["nominal"][0], rows["nominal"][sl], PAIR_TABLE))
                for v in views:
                    tables[v].append(**_take(where[v][0], rows[v][sl], JET_TABLE))
            cut = f.create_group("cutflow")
            set_attrs(cut, {**{v: view_cutflows[v] for v in views}, "pairing": cutflow})
            set_attrs(f, {
                "schema_version": SCHEMA_VERSION, "sample": sample, "shard": int(shard),
                "views": views,
                "view_settings": {v: config["views"].get(v, {}) for v in views},
                "seeds": {"global_seed": int(config["run"]["seed"]), "sample": sample,
                          "shard": int(shard), "seeds": seeds},
                # the config that made the jets (require_job_config: the same in every section
                # that shapes them), so that merge and training compare like with like
                "config_hash": group_attrs[0]["config_hash"], "versions": versions(config),
                "cutflow": {"views": view_cutflows, "pairing": cutflow},
                "label_names": list(LABELS), "jets": jets_config(config),
                "detector": detector_record(config), "hard": group_attrs[0].get("hard") or {}})
    finally:
        for f in handles:
            f.close()
    return cutflow


def describe(path: str | Path) -> str:
    """A human summary of a paired file (``resim inspect``)."""
    from .reader import PairedDataset

    ds = PairedDataset(path)
    lines = [f"{path}: {len(ds)} pairs, views {', '.join(ds.views)}",
             f"  schema {ds.attrs.get('schema_version')}, sample {ds.attrs.get('sample')}, "
             f"shard {ds.attrs.get('shard')}, config {ds.attrs.get('config_hash')}"]
    counts = np.bincount(ds.labels, minlength=len(ds.label_names))
    lines.append("  labels: " + ", ".join(f"{n}={c}" for n, c in zip(ds.label_names, counts) if c))
    cut = ds.attrs.get("cutflow") or {}
    if ds.attrs.get("sources"):  # merged: one cut-flow per source shard
        lines.append(f"  merged from {len(ds.attrs['sources'])} files")
        for source in ds.attrs["sources"]:
            pairing = json.dumps((cut.get(source) or {}).get("pairing", "absent"), sort_keys=True)
            lines.append(f"  {source} pairing: {pairing}")
    else:  # a file without its cut-flow (edited, or not resim's) is described, not a KeyError
        for view, flow in (cut.get("views") or {}).items():
            lines.append(f"  cutflow {view}: {json.dumps(flow, sort_keys=True)}")
        lines.append(f"  cutflow pairing: {json.dumps(cut.get('pairing', 'absent'), sort_keys=True)}")
    lines.append("  versions: " + json.dumps(ds.attrs.get("versions"), sort_keys=True))
    # which programs made the jets: the hard-scatter backend and version, the detector
    for key in ("hard", "detector"):
        lines.append(f"  {key}: " + json.dumps(ds.attrs.get(key, "absent"), sort_keys=True))
    return "\n".join(lines)
