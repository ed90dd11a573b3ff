"""The cascade only removes work: per-event streams make every event's result independent of
which other events ran, so skipping the events nothing is left to pair in changes no pair."""

from __future__ import annotations

import awkward as ak
import h5py
import numpy as np
import pytest
from fixtures_engine import engine_config, hard_files  # noqa: F401 (fixture)

from resim.dataset.pair import pair_files
from resim.dataset.simulate import simulate_shard
from resim.detector import get_detector
from resim.forks import run_views

VIEWS = {"nominal": {"fork": "hard"}, "rehad": {"fork": "shower", "parent": "nominal"},
         "fsr_up": {"fork": "hard", "settings": {"TimeShower:renormMultFac": 0.5}},
         "redetect": {"fork": "hadron", "parent": "rehad"}}
# looser than the default selection, so that 40 events leave pairs and losses in every view
JETS = {"R": 0.8, "pt_min": 380.0, "mass_min": 10.0, "eta_max": 1.0, "max_constituents": 100,
        "require_all_views": True, "cluster_pt_min": 20.0}


def config(**dataset):
    return engine_config(views=VIEWS, jets=JETS, run={"seed": 4242, "events_per_shard": 40,
                                                      "batch_size": 15},
                         dataset=dataset)


def datasets(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.fixture(scope="module")
def runs(hard_files, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cascade")
    cfg = config(view_order=["nominal", "fsr_up", "rehad", "redetect"])
    out = {}
    for name, cascade in (("full", False), ("cascade", True)):
        flows = simulate_shard(cfg, "qcd", 0, hard_files["qcd"], tmp / f"{name}.views.h5",
                               cascade=cascade)
        pairing = pair_files(cfg, "qcd", 0, [tmp / f"{name}.views.h5"], tmp / f"{name}.h5")
        out[name] = (flows, pairing, tmp / f"{name}.h5")
    return out


def test_cascade_and_full_run_give_byte_identical_pair_tables(runs):
    (full_flows, full_pairing, full), (flows, pairing, cascade) = runs["full"], runs["cascade"]
    assert full_pairing["pairs"] > 0 and sum(full_pairing["lost"].values()) > 0
    a, b = datasets(full), datasets(cascade)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name
    # the same view lost each jet
    assert pairing["lost"] == full_pairing["lost"] and pairing["pairs"] == full_pairing["pairs"]


def test_cascade_skips_events_and_its_cutflow_closes(runs):
    (full_flows, _, _), (flows, pairing, _) = runs["full"], runs["cascade"]
    assert all(f["skipped"] == 0 and f["events"] == 40 for f in full_flows.values())
    assert flows["nominal"]["skipped"] == 0
    skipped = [flows[v]["skipped"] for v in ("fsr_up", "rehad", "redetect")]
    assert skipped[0] > 0 and skipped == sorted(skipped)  # each view skips at least as many
    for view, flow in flows.items():
        assert flow["events"] == 40
        assert flow["objects"] == sum(flow["lost"].values()) + flow["jets"], view
    # a candidate of a skipped event is charged to the view that lost it, not to the skipper
    for view, reasons in pairing["rejected"].items():
        assert reasons["skipped"] <= sum(pairing["lost"][v] for v in pairing["lost"]
                                         if v != view), view


def test_without_require_all_views_every_view_simulates_every_event(hard_files, tmp_path):
    cfg = config()
    cfg["jets"]["require_all_views"] = False
    flows = simulate_shard(cfg, "qcd", 0, hard_files["qcd"], tmp_path / "v.h5")
    assert all(f["skipped"] == 0 for f in flows.values())


def test_detector_candidates_do_not_depend_on_the_batch(hard_files):
    """The same event gets the same particle-flow candidates alone, in a batch of 7 or of 40."""
    cfg = config()
    batches = list(run_views(cfg, "qcd", 0, hard_files["qcd"], "nominal", batch_size=40))
    batch = batches[0]["nominal"]
    detector = get_detector(cfg)
    whole = detector.simulate(batch, 987654321)
    for size in (1, 7):
        parts = []
        for start in range(0, len(batch), size):
            sl = slice(start, start + size)
            part = type(batch)(batch.sample, batch.shard, batch.view, batch.event_id[sl],
                               batch.particles[sl], batch.truth[sl])
            parts.append(detector.simulate(part, 987654321))
        assert ak.array_equal(ak.concatenate(parts), whole), size
