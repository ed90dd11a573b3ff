"""The engine: fork the simulation chain and run the views of a shard in order.

Every view of a shard runs in one process, in the *view order* (``dataset.view_order``; by
default the config's order with every parent before its children). A ``hard`` view showers the
LHE file itself; a ``shower`` or ``hadron`` view forks from its parent's result for the same
events. Every stochastic step draws from a random stream of its own per event (``resim.seeds``),
so a view may simulate any subset of the shard's events and each event still comes out the same:
that is what lets the dataset stage skip, view by view, the events nothing is left to pair in
(the cascade, ``resim.dataset.simulate``).

:class:`ViewChain` is the engine's interface: open one fork per view, hand out the shard's
events in batches, run one view on any subset of a batch. :func:`run_views` runs every view on
every event (``resim views``, HepMC3 export, tests).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import awkward as ak
import numpy as np

from ..errors import ConfigError
from ..contracts import Branch, LHEBatch, ViewBatch, make_event_id
from ..lhe import generator_input, iter_events, truth_array
from ..provenance import check_hard_input
from ..seeds import SeedManifest
from .registry import get_fork

log = logging.getLogger(__name__)

ORDER_KEY = "dataset.view_order"


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


def _parents_first(views: dict) -> list[str]:
    """The config's view order, each view moved after its parent (a stable topological sort)."""
    order: list[str] = []
    pending = list(views)
    while pending:
        ready = [v for v in pending if views[v].get("parent") in (None, *order)]
        if not ready:
            raise ConfigError(f"views: {', '.join(pending)}: their parents form a cycle")
        order.append(ready[0])
        pending.remove(ready[0])
    return order


def view_order(config: dict) -> list[str]:
    """The order the views of a shard run in, checked: every view once, ``nominal`` first (it
    defines the candidates every other view must keep), each fork after its parent.

    ``dataset.view_order`` names it; null means the config's order, parents first.
    """
    views = config.get("views") or {}
    for name in views:
        _check_view(views, name)
    if "nominal" not in views or views["nominal"].get("parent") is not None:
        raise ConfigError("views.nominal: the nominal view must be a root (the pairing anchor), "
                          "not a fork of another view")
    default = _parents_first(views)
    order = (config.get("dataset") or {}).get("view_order")
    if order is None:
        return ["nominal"] + [v for v in default if v != "nominal"]
    order = list(order)
    unknown = [v for v in order if v not in views]
    if unknown:
        raise ConfigError(f"{ORDER_KEY}: unknown view {unknown[0]!r} (views: {', '.join(views)})")
    twice = sorted({v for v in order if order.count(v) > 1})
    if twice:
        raise ConfigError(f"{ORDER_KEY}: view {twice[0]!r} is named more than once")
    missing = [v for v in views if v not in order]
    if missing:
        raise ConfigError(f"{ORDER_KEY}: leaves out view(s) {', '.join(missing)}")
    if order[0] != "nominal":
        raise ConfigError(f"{ORDER_KEY}: must start with nominal (the pairing anchor), "
                          f"not {order[0]!r}")
    for position, view in enumerate(order):
        parent = views[view].get("parent")
        if parent is not None and order.index(parent) > position:
            raise ConfigError(f"{ORDER_KEY}: {view!r} comes before its parent {parent!r}")
    return order


def _needs_partons(views: dict, order: list[str]) -> dict[str, bool]:
    """Which views must keep their parton-level events (a descendant re-hadronises them)."""
    keep = {view: False for view in order}
    for view in reversed(order):  # children come after their parents
        parent = views[view].get("parent")
        if parent is not None and (keep[view] or get_fork(views[view]["fork"]).needs == "partons"):
            keep[parent] = True
    return keep


def truth_with_first_split(truth: ak.Array, first_split: ak.Array) -> ak.Array:
    """The truth objects with ``first_split`` replaced (same jagged structure)."""
    return ak.with_field(truth, first_split, "first_split")


class ViewChain:
    """One fork per view of a shard, opened on its LHE file (a context manager).

    ``batches`` hands out the shard's events; ``run`` runs one view on a batch or any subset
    of it (events in file order), given its parent's branch for the same events.
    """

    def __init__(self, config: dict, sample: str, shard: int, lhe_path: str | Path,
                 manifest: SeedManifest | None = None, views: Iterable[str] | None = None):
        # before any generator opens the file: the shard is the sample's, the file an LHE file
        # with events, written (if resim wrote it) for this sample and shard
        self.head = check_hard_input(config, sample, int(shard), lhe_path)
        self._input = contextlib.ExitStack()
        self.config, self.sample, self.shard = config, sample, int(shard)
        self.lhe_path = Path(lhe_path)
        self.manifest = manifest or SeedManifest(int(config["run"]["seed"]), sample, self.shard)
        self.specs = config["views"]
        order = view_order(config)
        if views is not None:
            wanted = set(self._with_ancestors(views))
            order = [v for v in order if v in wanted]
        self.order = order
        self.forks: dict = {}

    def _with_ancestors(self, views: Iterable[str]) -> list[str]:
        out = []
        for view in views:
            if view not in self.specs:
                raise ConfigError(f"views.{view}: not a view (views: {', '.join(self.specs)})")
            while view is not None:
                out.append(view)
                view = self.specs[view].get("parent")
        return out

    def __enter__(self) -> ViewChain:
        keep = _needs_partons(self.specs, self.order)
        try:
            # what generators open by name (a space in the path, no LHEF version: a stand-in)
            source = self._input.enter_context(generator_input(self.head))
            for view in self.order:
                cls = get_fork(self.specs[view]["fork"], f"views.{view}.fork")
                self.forks[view] = cls(self.config, view, self.specs[view], self.manifest,
                                       keep[view])
                self.forks[view].open(source)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for fork in self.forks.values():
            fork.close()
        self.forks = {}
        self._input.close()

    def batches(self, batch_size: int, events: range | None = None) -> Iterator[LHEBatch]:
        """The shard's hard events, ``batch_size`` at a time (``events``: only those indices,
        a range of the file's events: a shard may be run in parts)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        stream = iter_events(self.lhe_path)
        if events is not None:
            stream = itertools.islice(stream, events.start, events.stop)
        while chunk := list(itertools.islice(stream, batch_size)):
            ids = make_event_id(self.shard, np.array([e.index for e in chunk], dtype=np.int64))
            yield LHEBatch(chunk, ids, truth_array(chunk))

    def run(self, view: str, batch: LHEBatch, parent: Branch | None) -> Branch:
        """View ``view`` of ``batch``'s events; ``parent``: the parent view's branch for them."""
        start = time.process_time()
        branch = self.forks[view].fork(batch, parent)
        log.debug("%s/%d view %s: %d events in %.3f s CPU", self.sample, self.shard, view,
                  len(batch), time.process_time() - start)
        return branch

    def view_batch(self, view: str, batch: LHEBatch, branch: Branch) -> ViewBatch:
        """What the detector takes: the branch's particles with the batch's truth objects."""
        truth = batch.truth
        if branch.first_split is not None:
            truth = truth_with_first_split(truth, branch.first_split)
        failed = branch.failed
        spec = self.specs[view]
        info = {"fork": spec["fork"], "parent": spec.get("parent"), **branch.info,
                "seeds": dict(self.manifest.seeds.get(view, {})), "events": len(batch),
                "failed": int(failed.sum()), "failed_event_ids": batch.event_id[failed].tolist()}
        return ViewBatch(self.sample, self.shard, view, batch.event_id, branch.particles, truth,
                         info)


def run_views(config: dict, sample: str, shard: int, lhe_path: str | Path,
              views: Iterable[str] | str | None = None, batch_size: int | None = None,
              manifest: SeedManifest | None = None, events: range | None = None
              ) -> Iterator[dict[str, ViewBatch]]:
    """Every view (or ``views`` and their ancestors) on every event, ``batch_size`` (default:
    the validated config's ``run.batch_size``) at a time.

    Yields ``{view: ViewBatch}`` per batch, in view order. Seeds are recorded in ``manifest``
    (pass one to write it beside the outputs) and in each batch's ``info["seeds"]``. A malformed
    LHE file raises :class:`LHEError` at the first bad event; nothing is yielded for it.
    """
    if isinstance(views, str):
        views = [views]
    with ViewChain(config, sample, shard, lhe_path, manifest, views) as chain:
        for batch in chain.batches(batch_size or int(config["run"]["batch_size"]), events):
            branches: dict[str, Branch] = {}
            out = {}
            for view in chain.order:
                branches[view] = chain.run(view, batch,
                                           branches.get(chain.specs[view].get("parent")))
                out[view] = chain.view_batch(view, batch, branches[view])
            yield out
