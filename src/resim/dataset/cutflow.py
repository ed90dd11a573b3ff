"""Cut-flows that close: every truth object and every candidate pair is accounted for.

Per view: ``events`` (hard events of the shard) = simulated + ``skipped`` (events the view did
not simulate because an earlier view had already lost every object: the cascade); of the
simulated events, ``objects`` (jet-like truth objects) = sum(``lost``) + ``jets`` (selected);
``ignored`` counts truth objects that are not jet-like (e.g. Z -> nunu); ``failed_events``
counts events the generator failed to shower or hadronise in that view (their objects are
lost as ``no_jet``).
Pairing: ``candidates`` (selected nominal jets) = sum(``lost`` per view) + ``pairs``.
"""

from __future__ import annotations

from ..errors import DatasetError
from ..jets import STATUS


def new_view_cutflow() -> dict:
    return {"events": 0, "skipped": 0, "failed_events": 0, "ignored": 0, "objects": 0,
            "lost": {reason: 0 for reason in STATUS[1:]}, "jets": 0}


def check_closes(cutflow: dict, where: str) -> None:
    """Raise DatasetError unless the cut-flow closes exactly."""
    if "skipped" in cutflow and not 0 <= cutflow["skipped"] <= cutflow["events"]:
        raise DatasetError(f"{where}: cut-flow does not close: skipped {cutflow['skipped']} "
                           f"events of {cutflow['events']}")
    if "objects" in cutflow:
        total, out, name = cutflow["objects"], cutflow["jets"], "objects"
    else:
        total, out, name = cutflow["candidates"], cutflow["pairs"], "candidates"
    if total != sum(cutflow["lost"].values()) + out:
        raise DatasetError(f"{where}: cut-flow does not close: {name} {total} != "
                           f"lost {cutflow['lost']} + {out}")
