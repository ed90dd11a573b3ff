"""Pythia as a shower backend: settings, the re-hadronisation fast path, record conversion."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import pythia8mc
from fixtures_engine import engine_config, hard_files  # noqa: F401 (fixture)

from resim.errors import GeneratorError
from resim.hard.pythia import new_pythia
from resim.seeds import PYTHIA_SEED_MAX
from resim.seeds import event_seeds
from resim.showers.pythia import CP5, Hadroniser, setting_line, view_settings
from resim.showers.records import ChargeTable, final_state, first_splits


def test_view_settings_order_and_format():
    config = engine_config(shower={"tune": "CP5", "isr": False, "mpi": True,
                                   "settings": {"StringZ:aLund": 0.7}})
    settings = view_settings(config, {"settings": {"TimeShower:renormMultFac": 0.5,
                                                   "StringZ:aLund": 0.6}})
    assert settings[: len(CP5)] == list(CP5)
    assert "PartonLevel:ISR = off" in settings and "PartonLevel:MPI = on" in settings
    # the view's own settings come last, so they win
    assert settings[-3:] == ["StringZ:aLund = 0.7", "TimeShower:renormMultFac = 0.5", "StringZ:aLund = 0.6"]
    assert setting_line("23:onIfAny", [12, 14]) == "23:onIfAny = 12 14"
    # Monash: no tune lines, the long-lived particles left stable, then the shower switches
    assert view_settings(engine_config(shower={"tune": "default"}), {})[:3] == [
        "ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 10", "PartonLevel:ISR = off"]


def test_every_cp5_setting_is_accepted():
    pythia = new_pythia([*CP5, "HardQCD:all = on", "PhaseSpace:pTHatMin = 50"], "CP5")
    assert pythia.parm("MultipartonInteractions:pT0Ref") == pytest.approx(1.41)


def test_refused_setting_and_failed_init_are_named():
    with pytest.raises(GeneratorError, match="views.x: Pythia refused the setting 'Tune:ppp = 14'"):
        new_pythia(["Tune:ppp = 14"], "views.x")
    with pytest.raises(GeneratorError, match=r"views.y: Pythia's init\(\) failed"):
        new_pythia(["Beams:frameType = 4", "Beams:LHEF = /nonexistent.lhe"], "views.y")


def test_charge_table():
    charge = ChargeTable(pythia8mc.Pythia("", False).particleData)
    assert charge(np.array([211, -211, 22, 11, 2224, 2212, 111, 211])).tolist() == [1, -1, 0, -1, 2, 1, 0, 1]


@pytest.fixture(scope="module")
def parton_events(hard_files):
    """Ten parton-level (HadronLevel:all = off) Pythia events of the qcd fixture."""
    pythia = new_pythia(["Beams:frameType = 4", f"Beams:LHEF = {hard_files['qcd']}",
                         "HadronLevel:all = off", "Random:setSeed = on", "Random:seed = 3",
                         *view_settings(engine_config(), {})], "test")
    saved = []
    for _ in range(10):
        assert pythia.next()
        saved.append(pythia8mc.Event(pythia.event))
    yield saved  # (the records point into their Pythia's particle data: keep it alive)
    del pythia


def _slow_path(settings, saved, seeds):
    """The plain way: restore, re-seed, forceHadronLevel(False), loop over the particles."""
    pythia = new_pythia([*settings, "ProcessLevel:all = off", "PartonLevel:all = off"], "slow")
    out = []
    for event, seed in zip(saved, seeds):
        pythia.event.assign(event)
        pythia.event.init("", pythia.particleData)
        pythia.event.restorePtrs()
        pythia.rndm.init(seed)
        assert pythia.forceHadronLevel(False)
        out.append([(p.id(), p.px(), p.pz(), p.zProd()) for p in pythia.event if p.isFinal()])
    return out


def test_fast_rehadronisation_equals_the_plain_loop(parton_events):
    """The hook + nextBatch path gives bit for bit what the textbook loop gives."""
    settings = view_settings(engine_config(), {})
    seeds = event_seeds(99, range(len(parton_events)))
    hadroniser = Hadroniser(settings, "test")
    records, failed = hadroniser.hadronise(parton_events, seeds)
    particles, _ = final_state(records, hadroniser.charge)
    slow = _slow_path(settings, parton_events, seeds)
    assert not failed.any()
    for fast, plain in zip(ak.to_list(particles), slow):
        assert [(p["pid"], p["px"], p["pz"], p["vz"]) for p in fast] == plain


def test_rehadronisation_keeps_partons_and_changes_hadrons(parton_events):
    hadroniser = Hadroniser(view_settings(engine_config(), {}), "test")
    n = len(parton_events)
    first, _ = hadroniser.hadronise(parton_events, event_seeds(1, range(n)))
    again, _ = hadroniser.hadronise(parton_events, event_seeds(1, range(n)))
    other, _ = hadroniser.hadronise(parton_events, event_seeds(2, range(n)))
    assert ak.array_equal(first.prt, again.prt)  # same seed, same hadrons
    sizes = [e.size() for e in parton_events]
    for i, size in enumerate(sizes):  # the parton-level part of the record is untouched
        for record in (first, other):  # (entry 0, the system, is re-summed over the hadrons)
            assert ak.to_list(record.prt.p.px[i][1:size]) == [parton_events[i][j].px() for j in range(1, size)]
            assert ak.to_list(record.prt.id[i][1:size]) == [parton_events[i][j].id() for j in range(1, size)]
    assert not ak.array_equal(ak.num(first.prt), ak.num(other.prt))


def test_failed_and_missing_events_are_placed(parton_events):
    hadroniser = Hadroniser(view_settings(engine_config(), {}), "test")
    saved = [parton_events[0], None, parton_events[2]]
    records, failed = hadroniser.hadronise(saved, [1, 2, 3])
    particles, empty = final_state(records, hadroniser.charge)
    assert ak.is_none(records, axis=0).tolist() == [False, True, False]
    assert empty.tolist() == [False, True, False] and ak.num(particles).tolist()[1] == 0
    assert not failed.any()  # a missing parent event is the parent's failure, not ours


def _record(ids, d1, d2, status=None):
    """A one-event batch in nextBatch layout with a hard gluon (status -23) at index 1."""
    n = len(ids)
    status = status or [-21] + [-23] + [-51] * (n - 2)
    p = {"px": [0.0] + [100.0] + [0.0] * (n - 2), "py": [0.0] * n, "pz": [0.0] * n, "e": [0.0] * n}
    prt = ak.zip({"id": [ids], "status": [status], "daughter1": [d1], "daughter2": [d2],
                  "p": ak.zip({k: [v] for k, v in p.items()})}, depth_limit=None)
    return ak.Array({"prt": prt})


@pytest.mark.parametrize("ids, d1, d2, expected", [
    ([2, 21, 21, 21], [0, 2, 0, 0], [0, 3, 0, 0], 21),          # g -> g g
    ([2, 21, 5, -5], [0, 2, 0, 0], [0, 3, 0, 0], 5),            # g -> b b~
    ([2, 21, 21, 1, -1], [0, 2, 3, 0, 0], [0, 2, 4, 0, 0], 1),  # recoil copy, then g -> d d~
    ([2, 21, 211, -211], [0, 2, 0, 0], [0, 3, 0, 0], 0),        # straight into hadrons
])
def test_first_split_walk(ids, d1, d2, expected):
    truth = ak.Array([[{"pid": 2, "px": 0.0, "py": 0.0, "pz": 0.0},
                       {"pid": 21, "px": 100.0, "py": 0.0, "pz": 0.0}]])
    assert first_splits(_record(ids, d1, d2), truth).tolist() == [[0, expected]]
