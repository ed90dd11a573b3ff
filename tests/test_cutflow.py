"""Cut-flows close or stop the job; their table reads inputs, losses, then what is left."""

from __future__ import annotations

import pytest

from resim.dataset.cutflow import check_closes, cutflow_table, new_view_cutflow
from resim.errors import DatasetError


def _view(events=10, skipped=2, objects=8, pt=3, jets=5):
    flow = new_view_cutflow()
    flow.update(events=events, skipped=skipped, objects=objects, jets=jets)
    flow["lost"]["pt"] = pt
    return flow


def test_a_closing_cutflow_passes():
    check_closes(_view(), "shard 0 view nominal")
    check_closes({"candidates": 7, "lost": {"fsr_up": 2, "seed": 1}, "pairs": 4}, "pairing")


@pytest.mark.parametrize("flow, words", [
    (_view(jets=6), "objects 8 != lost"),
    (_view(skipped=11), "skipped 11 events of 10"),
    ({"candidates": 7, "lost": {"seed": 1}, "pairs": 4}, "candidates 7 != lost"),
])
def test_a_cutflow_that_does_not_close_names_where(flow, words):
    with pytest.raises(DatasetError, match="shard 3 view seed: cut-flow does not close") as err:
        check_closes(flow, "shard 3 view seed")
    assert words in str(err.value)


def test_table_rows_read_in_cutflow_order():
    text = cutflow_table({"views": {"nominal": _view(skipped=0), "seed": _view(jets=4, pt=4)}})
    lines = text.splitlines()
    assert lines[0] == "| step | nominal | seed |"
    steps = [line.split(" | ")[0].removeprefix("| ") for line in lines[2:]]
    assert steps[:2] == ["events", "skipped"] and steps[-1] == "jets"
    assert steps.index("lost: pt") < steps.index("jets")
    assert "| skipped | 0 | 2 |" in lines and "| lost: pt | 3 | 4 |" in lines


def test_pairing_sentence_and_nothing_stored():
    pairing = {"candidates": 7, "pairs": 4, "lost": {"fsr_up": 2, "seed": 1},
               "rejected": {"fsr_up": {"pt": 2, "skipped": 3}, "seed": {"eta": 1}}}
    text = cutflow_table({"pairing": pairing})
    assert text.startswith("Pairing: 7 nominal jets → 4 pairs.")
    assert "drops the jet: fsr_up: 2, seed: 1." in text and "do): fsr_up: 5, seed: 1." in text
    assert cutflow_table({}) == "_no cut-flow stored_\n"
