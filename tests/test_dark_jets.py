"""Dark jets (Hidden Valley): the dark sector showers in every view, nothing dark is seen."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from fixtures_engine import engine_config

from resim.contracts import ViewBatch
from resim.detector.embedded import EmbeddedDetector
from resim.errors import ConfigError
from resim.forks import run_views
from resim.hard import generate
from resim.hard.processes import DARK_MODELS
from resim.hard.pythia import new_pythia
from resim.lhe import read_truth
from resim.matching import truth_labels
from resim.contracts import LABEL_CODE
from resim.showers.pythia import view_settings

HIDDEN_VALLEY = (4900000, 4999999)


def dark_config(model: str = "C") -> dict:
    return engine_config(
        run={"seed": 77, "events_per_shard": 12},
        samples={f"dark{model}": {"process": "dijet_dark", "dark_model": model,
                                  "pt_range": [100.0, None], "eta_max": 3.0}},
        views={"nominal": {"fork": "hard", "backend": "pythia"},
               "rehad": {"fork": "shower", "parent": "nominal"}})


def _is_dark(pid) -> np.ndarray:
    pid = np.abs(np.asarray(pid))
    return (pid >= HIDDEN_VALLEY[0]) & (pid <= HIDDEN_VALLEY[1])


@pytest.fixture(scope="module", params=sorted(DARK_MODELS))
def dark_lhe(request, tmp_path_factory):
    model = request.param
    config = dark_config(model)
    path = tmp_path_factory.mktemp(f"dark{model}") / "0.lhe.gz"
    generate(config, f"dark{model}", 0, path)
    return config, f"dark{model}", path


def test_dark_quarks_are_the_truth_objects_labelled_dark(dark_lhe):
    _, _, path = dark_lhe
    truth = read_truth(path)
    pids = np.abs(ak.to_numpy(ak.flatten(truth.pid)))
    assert len(pids) == 2 * len(truth) and (pids == 4900101).all()
    assert (ak.to_numpy(ak.flatten(truth_labels(truth))) == LABEL_CODE["dark"]).all()


def test_the_shower_makes_dark_hadrons_that_decay_back(dark_lhe):
    """The views' Pythia gets the model: dark hadrons are made (the dark shower and
    hadronisation ran), and none of them, nor any other dark state, is in the final state."""
    config, sample, path = dark_lhe
    pythia = new_pythia(["Beams:frameType = 4", f"Beams:LHEF = {path}", "Random:setSeed = on",
                         "Random:seed = 5", *view_settings(config, {}, sample)], "test")
    made = final_dark = 0
    for _ in range(6):
        assert pythia.next()
        event = pythia.event
        for i in range(event.size()):
            if _is_dark(event[i].id()) and event[i].idAbs() in (4900111, 4900113, 4900211, 4900213):
                made += 1
            if event[i].isFinal() and _is_dark(event[i].id()):
                final_dark += 1
    assert made > 6  # several dark hadrons per event
    assert final_dark == 0


def test_no_dark_particle_reaches_the_detector_in_any_view(dark_lhe):
    config, sample, path = dark_lhe
    seen = 0
    for batch in run_views(config, sample, 0, path, batch_size=6):
        for view, vb in batch.items():
            pid = ak.to_numpy(ak.flatten(vb.particles.pid))
            seen += len(pid)
            assert not _is_dark(pid).any(), view
    assert seen > 0


def test_sm_sample_views_get_no_hidden_valley_settings():
    config = dark_config()
    config["samples"]["qcd"] = {"process": "zjet_nunu", "shower_settings": ["StringZ:aLund = 0.7"]}
    qcd = view_settings(config, {}, "qcd")
    assert not any("HiddenValley" in line for line in qcd)
    assert qcd[-1] == "StringZ:aLund = 0.7"
    assert "HiddenValley:fragment = on" in view_settings(config, {}, "darkC")


def test_unknown_dark_model_is_named():
    from resim.hard.processes import dark_settings

    with pytest.raises(ConfigError, match=r"samples\.darkX\.dark_model: unknown dark model 'X'"):
        dark_settings("darkX", {"process": "dijet_dark", "dark_model": "X"})


def test_an_undecayed_dark_state_is_invisible_to_the_detector():
    """A stable dark hadron next to a pion: the detector sees the pion only."""
    particles = ak.Array([[
        {"px": 50.0, "py": 0.0, "pz": 0.0, "E": 50.2, "vx": 0.0, "vy": 0.0, "vz": 0.0,
         "charge": 0.0, "pid": 4900211},
        {"px": 0.0, "py": 30.0, "pz": 0.0, "E": 30.0003, "vx": 0.0, "vy": 0.0, "vz": 0.0,
         "charge": 1.0, "pid": 211}]])
    batch = ViewBatch("darkC", 0, "nominal", np.array([0], dtype=np.int64), particles,
                      ak.Array([[]]), {})
    candidates = EmbeddedDetector().simulate(batch, seed=11)
    phi = ak.to_numpy(ak.flatten(candidates.Phi))
    assert len(phi) >= 1
    assert np.all(np.abs(phi - np.pi / 2) < 0.2)  # only the pion's direction; nothing at phi = 0
