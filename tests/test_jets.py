"""Jets: clustering, constituent arrays, truth matching, labels, selection, mass peaks."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from fixtures_dataset import pythia_batch

from resim.contracts import JET_FIELDS, LABEL_CODE
from resim.dataset.simulate import jets_config, process_view
from resim.detector import get_detector
from resim.jets import STATUS_CODE, cluster, jet_arrays, selection_status
from resim.matching import match, truth_labels


def _obj(pid, pt, eta, phi, daughters=(), first_split=0):
    def p4(pid, pt, eta, phi, m=0.0):
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        energy = float(np.sqrt(px**2 + py**2 + pz**2 + m**2))
        return {"pid": pid, "px": px, "py": py, "pz": pz, "E": energy}
    rec = p4(pid, pt, eta, phi)
    rec["daughters"] = [p4(*d) for d in daughters]
    rec["first_split"] = first_split
    return rec


def test_truth_labels():
    truth = ak.Array([[
        _obj(25, 500, 0, 0, [(5, 250, 0.1, 0), (-5, 250, -0.1, 0)]),
        _obj(23, 500, 0, 1, [(12, 250, 0.1, 1), (-12, 250, -0.1, 1)]),
        _obj(23, 500, 0, 2, [(1, 250, 0.1, 2), (-1, 250, -0.1, 2)]),
        _obj(24, 500, 0, 2, [(2, 250, 0.1, 2), (-1, 250, -0.1, 2)]),
        _obj(21, 500, 0, 3, first_split=5), _obj(21, 500, 0, 3, first_split=4),
        _obj(21, 500, 0, 3, first_split=2), _obj(21, 500, 0, 3, first_split=21),
        _obj(3, 500, 0, 3), _obj(15, 500, 0, 3), _obj(11, 500, 0, 3), _obj(6, 500, 0, 3)]])
    expected = ["H_bb", None, "Z_qq", "W_qq", "g_bb", "g_cc", "g_qq", "g", "q", "tau", None, None]
    codes = [LABEL_CODE[x] if x else -1 for x in expected]
    assert truth_labels(truth)[0].tolist() == codes


def test_matching_needs_the_object_and_its_daughters_within_R():
    jets = ak.Array([[{"eta": 0.0, "phi": 0.0}, {"eta": 0.05, "phi": 3.0}]])
    truth = ak.Array([[
        _obj(25, 500, 0.02, 0.01, [(5, 250, 0.3, 0), (-5, 250, -0.3, 0)]),   # both b inside
        _obj(25, 500, 0.0, 3.0, [(5, 250, 0.0, 2.0), (-5, 250, 0, 3.1)]),   # one b at dR 1.0
        _obj(21, 500, 0.0, -3.1, first_split=0),   # phi wraps to the second jet
        _obj(1, 500, 2.0, 0.0)]])                   # no jet within R
    m = match(truth, jets, 0.8)
    assert m["jet"].tolist() == [0, -1, 1, -1]
    assert m["truth_index"].tolist() == [0, 1, 2, 3] and m["ignored"] == 0
    assert np.allclose(m["parton"][0, :4], [25, 500, 0.02, 0.01], atol=1e-4)


def test_selection_reports_the_first_failing_cut():
    cfg = {"pt_min": 450, "mass_min": 10, "eta_max": 0.1}
    status = selection_status(np.array([500, 400, 500, 500, 400]), np.array([50, 50, 5, 50, 5]),
                              np.array([0, 0, 0, 0.5, 0.5]), cfg)
    names = {v: k for k, v in STATUS_CODE.items()}
    assert [names[s] for s in status] == ["selected", "pt", "mass", "eta", "pt"]


def test_constituents_add_up_to_the_jet():
    batch = pythia_batch("hz", 20)
    candidates = get_detector({}).simulate(batch, seed=1)
    jets, index = cluster(candidates, 0.8, 20.0)
    counts = ak.to_numpy(ak.num(jets))
    event = np.repeat(np.arange(len(counts)), counts)
    jet = ak.to_numpy(ak.flatten(ak.local_index(jets)))
    cons, n, table, pileup = jet_arrays(candidates, jets, index, event, jet)
    assert cons.shape == (len(event), 100, 8) and cons.dtype == np.float32
    full = table[:, JET_FIELDS.index("n_constituents")] == n
    e_sum = cons[full, :, 3].sum(axis=1)
    assert np.allclose(e_sum, table[full, JET_FIELDS.index("E")], rtol=1e-4)
    assert np.all(np.diff(cons[:, :, 0], axis=1) <= 0)  # pT-ordered, zero padding last
    assert np.all(cons[np.arange(100)[None, :] >= n[:, None]] == 0)
    # anti-kt with R = 0.8: every constituent lies within ~R of its jet axis
    deta = cons[:, :, 1] - table[:, 1:2]
    dphi = (cons[:, :, 2] - table[:, 2:3] + np.pi) % (2 * np.pi) - np.pi
    real = np.arange(100)[None, :] < n[:, None]
    assert np.all(np.hypot(deta, dphi)[real] < 0.8 * 1.5)


def _matched_masses(process: str, label: str) -> np.ndarray:
    batch = pythia_batch(process, 300)
    cfg = jets_config({"jets": {"pt_min": 300.0, "eta_max": 2.0}})
    rows, cutflow = process_view(batch, get_detector({}), 1, cfg)
    sel = (rows["status"] == 0) & (rows["label"] == LABEL_CODE[label])
    assert sel.sum() > 100, cutflow
    return rows["jet"][sel, JET_FIELDS.index("mass")]


@pytest.mark.slow
def test_higgs_jet_mass_peak():
    mass = _matched_masses("hz", "H_bb")
    peak = np.median(mass[(mass > 60) & (mass < 200)])
    assert abs(peak - 125.0) <= 10, peak


@pytest.mark.slow
def test_w_jet_mass_peak():
    mass = _matched_masses("wj", "W_qq")
    peak = np.median(mass[(mass > 40) & (mass < 140)])
    assert abs(peak - 80.4) <= 8, peak


def test_events_without_truth_objects_give_empty_rows_and_a_closed_cutflow():
    from test_detector import gun

    rows, cutflow = process_view(gun(211, 500.0, 0.0, 5), get_detector({}), 1, jets_config({}))
    # the events and their skipping are the caller's to count; no object, no jet here
    assert cutflow["objects"] == 0 and cutflow["jets"] == 0 and cutflow["ignored"] == 0
    assert rows["constituents"].shape == (0, 100, 8) and rows["jet"].shape == (0, len(JET_FIELDS))


def test_qcd_recoil_partons_are_labelled_q_or_g():
    batch = pythia_batch("zj", 60)
    cfg = jets_config({"jets": {"eta_max": 2.5}})
    rows, cutflow = process_view(batch, get_detector({}), 1, cfg)
    assert cutflow["ignored"] == 60  # Z -> nunu is no jet
    assert cutflow["objects"] == 60
    labels = set(rows["label"].tolist())
    assert labels <= {LABEL_CODE["q"], LABEL_CODE["g"]} and len(labels) == 2
    matched = rows["status"] == 0
    assert matched.sum() > 20
    assert np.all(np.isin(np.abs(rows["parton"][:, 0]), [1, 2, 3, 4, 5, 21]))
