"""Views of hard events: fork the simulation chain and run every view of a group in step.

A *view group* is a root view (fork "hard": it showers the LHE file itself) and every view that
forks from it, directly or through other views (``parent`` in the view's config). A group runs
as one job: the root showers a batch of events, each child forks from its parent's result for
the same events, and :func:`run_views` yields the views of each batch together.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import numpy as np

from ..errors import ConfigError
from ..events import ViewBatch, make_event_id
from ..lhe import iter_events, truth_array
from ..seeds import SeedManifest
from .registry import Branch, LHEBatch, get_fork, register_fork, register_shower

__all__ = ["view_groups", "run_views", "register_fork", "register_shower", "Branch", "LHEBatch"]


def _check_view(views: dict, name: str) -> None:
    spec = views[name]
    fork = get_fork(spec.get("fork"), f"views.{name}.fork")
    parent = spec.get("parent")
    if fork.needs == "lhe":
        if parent is not None:
            raise ConfigError(f"views.{name}.parent: a '{spec['fork']}' view showers the LHE "
                              f"file itself and has no parent")
        return
    if parent is None:
        raise ConfigError(f"views.{name}.parent: a '{spec['fork']}' view needs a parent view")
    if parent not in views:
        raise ConfigError(f"views.{name}.parent: unknown view {parent!r} "
                          f"(known: {', '.join(views)})")


def view_groups(config: dict) -> dict[str, list[str]]:
    """Root view -> [root, *descendants] (parents before children, config order otherwise)."""
    views = config.get("views") or {}
    for name in views:
        _check_view(views, name)
    children: dict[str, list[str]] = {name: [] for name in views}
    for name, spec in views.items():
        if spec.get("parent") is not None:
            children[spec["parent"]].append(name)
    groups = {}
    for name, spec in views.items():
        if spec.get("parent") is None:
            order, queue = [], [name]
            while queue:
                view = queue.pop(0)
                order.append(view)
                queue.extend(children[view])
            groups[name] = order
    grouped = set(itertools.chain.from_iterable(groups.values()))
    if grouped != set(views):
        raise ConfigError(f"views: {', '.join(sorted(set(views) - grouped))}: their parents "
                          f"form a cycle")
    return groups


def _needs_partons(config: dict, group: list[str]) -> dict[str, bool]:
    """Which views must keep their parton-level events (a descendant re-hadronises them)."""
    views = config["views"]
    keep = {view: False for view in group}
    for view in reversed(group):  # children come after their parents in a group
        parent = views[view].get("parent")
        if parent is not None and (keep[view] or get_fork(views[view]["fork"]).needs == "partons"):
            keep[parent] = True
    return keep


def _batches(lhe_path: Path, shard: int, batch_size: int) -> Iterator[LHEBatch]:
    events = iter_events(lhe_path)
    while chunk := list(itertools.islice(events, batch_size)):
        ids = make_event_id(shard, np.array([e.index for e in chunk], dtype=np.int64))
        yield LHEBatch(chunk, ids, truth_array(chunk))


def _view_batch(sample: str, shard: int, view: str, spec: dict, batch: LHEBatch,
                branch: Branch, seeds: dict) -> ViewBatch:
    truth = batch.truth
    if branch.first_split is not None:
        truth = truth_with_first_split(truth, branch.first_split)
    failed = branch.failed
    info = {"fork": spec["fork"], "parent": spec.get("parent"), **branch.info, "seeds": seeds,
            "events": len(batch), "failed": int(failed.sum()),
            "failed_event_ids": batch.event_id[failed].tolist()}
    return ViewBatch(sample, shard, view, batch.event_id, branch.particles, truth, info)


def truth_with_first_split(truth: ak.Array, first_split: ak.Array) -> ak.Array:
    """The truth objects with ``first_split`` replaced (same jagged structure)."""
    return ak.with_field(truth, first_split, "first_split")


def run_views(config: dict, sample: str, shard: int, lhe_path: str | Path, root: str,
              batch_size: int = 100, manifest: SeedManifest | None = None
              ) -> Iterator[dict[str, ViewBatch]]:
    """Every view of ``root``'s group for the same events, ``batch_size`` events at a time.

    Yields ``{view: ViewBatch}`` per batch, in the group's order (root first). Seeds derive
    from (``run.seed``, sample, shard, view, stream) and are recorded in ``manifest`` (pass one
    to write it beside the outputs) and in each batch's ``info["seeds"]``. A malformed LHE
    file raises :class:`LHEError` at the first bad event; nothing is yielded for it.
    """
    if sample not in (config.get("samples") or {}):
        raise ConfigError(f"samples.{sample}: unknown sample "
                          f"(known: {', '.join(sorted(config.get('samples') or {}))})")
    groups = view_groups(config)
    if root not in groups:
        views = config.get("views") or {}
        what = "is not a root view (it has a parent)" if root in views else "is not a view"
        raise ConfigError(f"views.{root}: {what}; root views: {', '.join(groups)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    manifest = manifest or SeedManifest(int(config["run"]["seed"]), sample, int(shard))
    views = config["views"]
    keep = _needs_partons(config, groups[root])
    forks = {}
    try:
        for view in groups[root]:
            cls = get_fork(views[view]["fork"], f"views.{view}.fork")
            forks[view] = cls(config, view, views[view], manifest, keep[view])
            forks[view].open(Path(lhe_path))
        for batch in _batches(Path(lhe_path), int(shard), batch_size):
            branches: dict[str, Branch] = {}
            out = {}
            for view, fork in forks.items():
                parent = views[view].get("parent")
                start, cpu = time.perf_counter(), time.process_time()
                branches[view] = fork.fork(batch, branches.get(parent))
                # this view's own cost (its parent's work is not in it)
                branches[view].info["seconds"] = time.perf_counter() - start
                branches[view].info["cpu_seconds"] = time.process_time() - cpu
                out[view] = _view_batch(sample, int(shard), view, views[view], batch,
                                        branches[view], dict(manifest.seeds.get(view, {})))
            yield out
    finally:
        for fork in forks.values():
            fork.close()
