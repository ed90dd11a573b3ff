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


def cutflow_table(flow: dict) -> str:
    """Markdown: one column per view, one row per step (lost jets by reason), then the pairing
    (``flow``: ``{"views": {view: cut-flow}, "pairing": cut-flow}``, either part optional)."""
    views, pairing = flow.get("views", {}), flow.get("pairing")
    if not views and not pairing:
        return "_no cut-flow stored_\n"
    parts = [_views_table(views)] if views else []
    if pairing:
        parts.append(_pairing_sentence(pairing))
    return "\n".join(parts)


def _views_table(views: dict) -> str:
    counts, lost = [], []
    for per_view in views.values():
        for key, value in per_view.items():
            if isinstance(value, dict):
                lost += [f"lost: {r}" for r in value if f"lost: {r}" not in lost]
            elif key not in counts:
                counts.append(key)
    # Inputs first, then the losses, then what is left ("jets"), as the cut-flow reads.
    steps = [k for k in counts if k != "jets"] + lost + [k for k in counts if k == "jets"]
    lines = ["| step | " + " | ".join(views) + " |", "|---" * (len(views) + 1) + "|"]
    for step in steps:
        cells = [str(v.get("lost", {}).get(step[6:], "") if step.startswith("lost: ")
                     else v.get(step, "")) for v in views.values()]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pairing_sentence(pairing: dict) -> str:
    lost = ", ".join(f"{v}: {n}" for v, n in pairing.get("lost", {}).items())
    rejected = ", ".join(f"{v}: {sum(reasons.values())}"
                         for v, reasons in pairing.get("rejected", {}).items())
    return (f"Pairing: {pairing.get('candidates', '?')} nominal jets → "
            f"{pairing.get('pairs', '?')} pairs. Lost, charged to the first view (in view "
            f"order) that drops the jet: {lost or 'none'}. Dropped by each view on its own "
            f"(no matched jet or a failed cut, whatever the other views do): "
            f"{rejected or 'none'}.\n")
