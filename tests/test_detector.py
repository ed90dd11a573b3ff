"""The embedded detector against the CMS card: efficiencies, resolutions, particle flow, IPs."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from resim.detector import card, get_detector
from resim.detector.embedded import EmbeddedDetector
from resim.errors import ConfigError
from resim.contracts import CANDIDATE_FIELDS, CANDIDATE_TRUTH_FIELDS, ViewBatch

MASSES = {211: 0.13957, 11: 0.000511, 13: 0.10566, 22: 0.0, 130: 0.497611, 310: 0.497611,
          3122: 1.115683}
CHARGES = {211: 1.0, -211: -1.0, 11: -1.0, -11: 1.0, 13: -1.0, -13: 1.0, 22: 0.0, 130: 0.0,
           310: 0.0, 3122: 0.0}


def gun(pid: int, pt: float, eta: float, n: int, seed: int = 0, vertex=(0.0, 0.0, 0.0),
        phi: np.ndarray | None = None) -> ViewBatch:
    """n events of one particle each (uniform phi unless given)."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-np.pi, np.pi, n) if phi is None else np.asarray(phi)
    pz = pt * np.sinh(eta)
    mass = MASSES[abs(pid)]
    columns = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": np.full(n, pz),
               "E": np.full(n, np.sqrt(pt ** 2 + pz ** 2 + mass ** 2)), "pid": np.full(n, pid),
               "charge": np.full(n, CHARGES[pid]), "vx": np.full(n, vertex[0]),
               "vy": np.full(n, vertex[1]), "vz": np.full(n, vertex[2])}
    particles = ak.unflatten(ak.zip(columns), np.ones(n, dtype=np.int64))
    return ViewBatch("gun", 0, "nominal", np.arange(n, dtype=np.int64), particles,
                     ak.Array([[] for _ in range(n)]))


@pytest.fixture(scope="module")
def detector() -> EmbeddedDetector:
    return get_detector({"detector": {"backend": "embedded"}})


def binomial_ok(k: int, n: int, p: float, nsigma: float = 4.0) -> bool:
    return abs(k / n - p) <= nsigma * np.sqrt(p * (1 - p) / n) + 1e-12


def test_card_table_holds_the_card_numbers():
    sol = card.CARD["solenoid"]
    assert (sol["radius"], sol["half_length"], sol["bz"]) == (1.29, 3.0, 3.8)
    pid = np.array([211, 211, 11, 11, 13, 13, 211])
    pt = np.array([0.5, 5.0, 50.0, 150.0, 0.5, 50.0, 0.05])
    eta = np.array([0.0, 2.0, 0.0, 2.0, 0.0, 2.0, 0.0])
    assert np.allclose(card.tracking_efficiency(pid, pt, eta),
                       [0.70, 0.85, 0.95, 0.90, 0.75, 0.98, 0.0])
    assert card.tracking_efficiency(np.array([211]), np.array([5.0]), np.array([2.6]))[0] == 0.0
    muon_tev = card.tracking_efficiency(np.array([13]), np.array([2000.0]), np.array([0.0]))[0]
    assert np.isclose(muon_tev, 0.99 * np.exp(0.5 - 1.0))
    res = card.momentum_resolution(np.array([211, 11, 13]), np.full(3, 100.0), np.ones(3))
    assert np.allclose(res, [np.hypot(0.10, 0.17), np.hypot(0.05, 0.17), np.hypot(0.015, 0.015)])
    e = np.array([50.0])
    assert np.isclose(card.energy_resolution("ecal", e, np.array([1.0]))[0],
                      1.64 * np.sqrt((0.008 * 50) ** 2 + 0.11 ** 2 * 50 + 0.40 ** 2))
    assert np.isclose(card.energy_resolution("ecal", e, np.array([1.8]))[0],
                      (2.16 + 5.6 * 0.04) * np.sqrt((0.008 * 50) ** 2 + 0.11 ** 2 * 50 + 0.16))
    assert np.isclose(card.energy_resolution("hcal", e, np.array([4.0]))[0],
                      np.sqrt((0.13 * 50) ** 2 + 2.7 ** 2 * 50))
    assert card.CARD["thresholds"] == {"ecal": (0.5, 2.0), "hcal": (1.0, 1.0)}
    fe, fh = card.energy_fractions(np.array([22, 11, 211, 2112, 310, 3122, 13, 12]))
    assert fe.tolist() == [1, 1, 0, 0, 0.3, 0.3, 0, 0]
    assert fh.tolist() == [0, 0, 1, 1, 0.7, 0.7, 0, 0]


def test_tower_granularity():
    ecal, hcal = card.ECAL_GRID, card.HCAL_GRID
    central = (np.abs(ecal.eta_edges[:-1]) < 2.9) & (np.abs(ecal.eta_edges[1:]) < 2.9)
    assert np.allclose(np.diff(ecal.eta_edges)[central], 0.0174)
    assert set(ecal.nphi[central]) == {360}
    assert ecal.eta_edges[0] == -5.0 and ecal.eta_edges[-1] == 5.0
    hc = (np.abs(hcal.eta_edges[:-1]) < 1.5) & (np.abs(hcal.eta_edges[1:]) < 1.5)
    assert np.allclose(np.diff(hcal.eta_edges)[hc], 0.087) and set(hcal.nphi[hc]) == {72}
    assert {1.74, 2.043, 2.5, 2.868, 4.525} <= set(np.round(hcal.eta_edges, 3))
    assert hcal.nphi[-1] == 18 and hcal.nphi[np.searchsorted(hcal.eta_edges, 3.5) - 1] == 36
    # the card's ring at 1.566 < |eta| < 1.74 is two rings: 1.566-1.653 with 72 phi towers
    # (5 degrees), 1.653-1.74 with 36 (10 degrees), on both sides
    for sign in (1, -1):
        _, ring_a, _ = hcal.tower(np.array([sign * 1.60]), np.zeros(1))
        _, ring_b, _ = hcal.tower(np.array([sign * 1.70]), np.zeros(1))
        assert ring_a != ring_b and hcal.nphi[ring_a[0]] == 72 and hcal.nphi[ring_b[0]] == 36
        assert np.isclose(hcal.eta_edges[ring_b[0]] if sign > 0 else -hcal.eta_edges[ring_b[0] + 1], 1.653)
    tower, ieta, iphi = ecal.tower(np.array([0.01, 0.01]), np.array([0.001, 0.019]))
    assert tower[0] != tower[1] and ieta[0] == ieta[1]  # 1 degree = 0.01745 rad apart


def test_candidates_have_exactly_the_delphes_fields(detector):
    out = detector.simulate(gun(211, 20.0, 0.3, 20), seed=1)
    # Delphes' ParticleFlowCandidate fields, then its pile-up truth flag IsPU (none here)
    assert tuple(ak.fields(out)) == (*CANDIDATE_FIELDS, *CANDIDATE_TRUTH_FIELDS) and len(out) == 20
    assert ak.all(out.IsPU == 0)


# (pT 0.9 GeV: soft, yet not a curler; curlers are tested below)
@pytest.mark.parametrize("pid,pt,eta", [(211, 0.9, 0.3), (211, 5.0, 0.3), (211, 5.0, 2.0),
                                        (11, 0.9, 1.0), (-13, 50.0, 0.3), (13, 0.9, 2.0)])
def test_tracking_efficiency_matches_card(detector, pid, pt, eta):
    n = 4000
    out = detector.simulate(gun(pid, pt, eta, n), seed=7)
    tracked = int(ak.sum(ak.any(out.Charge != 0, axis=1)))
    expected = card.tracking_efficiency(np.array([abs(pid)]), np.array([pt]), np.array([eta]))[0]
    assert binomial_ok(tracked, n, expected), (tracked / n, expected)


@pytest.mark.parametrize("pt,eta", [(100.0, 0.2), (300.0, 1.0), (50.0, 2.0)])
def test_muon_momentum_resolution_matches_card(detector, pt, eta):
    n = 4000
    out = detector.simulate(gun(13, pt, eta, n), seed=3)
    ratio = ak.to_numpy(ak.flatten(out.PT[out.Charge != 0])) / pt
    expected = card.momentum_resolution(np.array([13]), np.array([pt]), np.array([eta]))[0]
    m = len(ratio)
    assert abs(ratio.mean() - 1) < 4 * expected / np.sqrt(m)  # log-normal with mean 1
    assert abs(ratio.std() / expected - 1) < 4 / np.sqrt(2 * m)


@pytest.mark.parametrize("pid,calo,pt,eta", [(22, "ecal", 50.0, 0.3), (22, "ecal", 20.0, 1.8),
                                             (130, "hcal", 50.0, 0.3)])
def test_calorimeter_resolution_matches_card(detector, pid, calo, pt, eta):
    n = 4000
    batch = gun(pid, pt, eta, n)
    out = detector.simulate(batch, seed=11)
    energy = ak.to_numpy(ak.sum(out.E, axis=1))
    true_e = pt * np.cosh(eta)
    sigma = card.energy_resolution(calo, np.array([true_e]), np.array([eta]))[0]
    assert ak.all(out.PID == (22 if calo == "ecal" else 0))
    assert abs(energy.mean() - true_e) < 4 * sigma / np.sqrt(n)
    assert abs(energy.std() / sigma - 1) < 4 / np.sqrt(2 * n)


def test_tower_position_is_drawn_inside_the_tower(detector):
    out = detector.simulate(gun(22, 50.0, 0.3, 500, phi=np.full(500, 0.5)), seed=2)
    eta, phi = ak.to_numpy(ak.flatten(out.Eta)), ak.to_numpy(ak.flatten(out.Phi))
    _, ieta, iphi = card.ECAL_GRID.tower(np.array([0.3]), np.array([0.5]))
    lo, hi = card.ECAL_GRID.eta_edges[ieta[0]], card.ECAL_GRID.eta_edges[ieta[0] + 1]
    assert np.all((eta >= lo) & (eta <= hi)) and eta.std() > 0.003
    assert np.all(np.abs(phi - (-np.pi + (iphi[0] + 0.5) * np.pi / 180)) <= np.pi / 360 + 1e-9)


def endcap_eta(pt: float, eta: float) -> float:
    """|eta| of the point where a prompt unit-charge curler (helix diameter < 1.29 m) reaches
    the endcap plane |z| = 3 m in 3.8 T: after a transverse arc s = 3 m * pT / pz its distance
    from the beam is the chord 2 R |sin(s / 2R)|."""
    radius = pt / (0.299792458 * 3.8)
    arc = 3.0 * pt / (pt * np.sinh(eta))
    return float(np.arcsinh(3.0 / (2 * radius * abs(np.sin(arc / (2 * radius))))))


@pytest.mark.parametrize("eta,efficiency", [(0.2, 0.60), (1.0, 0.0)])
def test_curlers_are_tracked_and_deposit_where_they_reach_the_endcap(detector, eta, efficiency):
    # pT 0.5 GeV: helix diameter 0.88 m < 1.29 m, the pion spirals to the endcap. Delphes
    # evaluates the card's efficiency at that position (CMS card: 0.60 for 1.5 < |eta| <= 2.5,
    # 0 beyond 2.5), and the calorimeter sees it there, never near its momentum direction.
    n = 4000
    reach = endcap_eta(0.5, eta)
    assert (1.5 < reach <= 2.5) == (efficiency == 0.60) and (reach > 2.5) == (efficiency == 0.0)
    out = detector.simulate(gun(211, 0.5, eta, n), seed=5)
    assert binomial_ok(int(ak.sum(out.Charge != 0)), n, efficiency)
    neutral_eta = np.abs(ak.to_numpy(ak.flatten(out.Eta[out.Charge == 0])))
    assert np.all(np.abs(neutral_eta - reach) < 0.2)


def test_pions_reaching_the_barrel_are_tracked_or_seen_as_neutral_hadrons(detector):
    out = detector.simulate(gun(211, 5.0, 0.2, 2000), seed=5)
    assert binomial_ok(int(ak.sum(out.Charge != 0)), 2000, 0.95)
    neutral = out[out.Charge == 0]
    assert ak.sum(neutral.PID == 0) > 20 and np.all(np.abs(ak.flatten(neutral.Eta) - 0.2) < 0.1)


def test_particle_flow_does_not_double_count(detector):
    # a tracked 100 GeV pion: HCAL excess over the track is either emitted or merged, not both
    n = 3000
    out = detector.simulate(gun(211, 100.0, 0.3, n), seed=9)
    total = ak.to_numpy(ak.sum(out.E, axis=1))
    true_e = 100.0 * np.cosh(0.3)
    assert abs(np.median(total) / true_e - 1) < 0.03
    assert 0.8 < ak.mean(ak.num(out)) < 1.6


def test_impact_parameters_from_vertex_and_helix(detector):
    n = 3000
    # moving along +y from (1 mm, 0, 2 mm): straight-line d0 = (x py - y px) / pT = +1 mm
    for pid in (211, -211):
        out = detector.simulate(gun(pid, 100.0, 0.0, n, vertex=(1.0, 0.0, 2.0),
                                    phi=np.full(n, np.pi / 2)), seed=4)
        charged = out[out.Charge != 0]
        d0, dz = ak.to_numpy(ak.flatten(charged.D0)), ak.to_numpy(ak.flatten(charged.DZ))
        sig_d0 = card.impact_parameter_resolution("d0", np.array([100.0]))[0]
        sig_dz = card.impact_parameter_resolution("dz", np.array([100.0]))[0]
        assert abs(d0.mean() - 1.0) < 4 * sig_d0 / np.sqrt(len(d0)) + 1e-5
        assert abs(d0.std() / sig_d0 - 1) < 0.1
        assert abs(dz.mean() - 2.0) < 4 * sig_dz / np.sqrt(len(dz))
    neutral = detector.simulate(gun(22, 50.0, 0.0, 50, vertex=(1.0, 0.0, 2.0)), seed=4)
    assert ak.all(neutral.D0 == 0) and ak.all(neutral.DZ == 0)


def test_prompt_tracks_have_resolution_sized_impact_parameters(detector):
    out = detector.simulate(gun(211, 1.0, 0.0, 3000), seed=6)
    d0 = ak.to_numpy(ak.flatten(out.D0[out.Charge != 0]))
    expected = card.impact_parameter_resolution("d0", np.array([1.0]))[0]
    assert abs(d0.std() / expected - 1) < 0.1 and abs(d0.mean()) < 4 * expected / np.sqrt(len(d0))


@pytest.mark.parametrize("pid,eta,expected", [(11, 0.3, 0.95), (11, 2.0, 0.85), (-11, 1.4, 0.95),
                                              (13, 0.3, 0.95), (-13, 2.2, 0.95)])
def test_lepton_identification_efficiency_by_eta(detector, pid, eta, expected):
    # delphes_card_CMS.tcl, ElectronEfficiency / MuonEfficiency: pT > 10 GeV, e 0.95 for
    # |eta| <= 1.5 and 0.85 up to 2.5; mu 0.95 up to 2.4
    n = 4000
    out = detector.simulate(gun(pid, 50.0, eta, n), seed=8)
    tracks = out[out.Charge != 0]
    identified = int(ak.sum(np.abs(tracks.PID) == abs(pid)))
    assert binomial_ok(identified, int(ak.sum(ak.num(tracks))), expected)
    assert set(np.unique(np.abs(ak.to_numpy(ak.flatten(tracks.PID))))) <= {abs(pid), 211}


def test_soft_leptons_are_not_identified(detector):
    soft = detector.simulate(gun(13, 5.0, 0.3, 500), seed=8)  # below the 10 GeV ID threshold
    assert ak.all(np.abs(soft.PID) == 211)


def test_impact_parameter_modes():
    delphes_like = get_detector({"detector": {"impact_parameters": "delphes"}})
    # prompt tracks: 0 (to rounding), as the stock card; a displaced vertex: the helix's D0 / DZ
    prompt = delphes_like.simulate(gun(211, 1.0, 0.0, 500), seed=6)
    assert ak.all(abs(prompt.D0) < 1e-9) and ak.all(abs(prompt.DZ) < 1e-9)
    n = 200
    out = delphes_like.simulate(gun(-211, 100.0, 0.0, n, vertex=(1.0, 0.0, 2.0),
                                    phi=np.full(n, np.pi / 2)), seed=4)
    charged = out[out.Charge != 0]
    # 100 GeV: the helix radius is 88 m, so D0 is the straight line's within 1e-5 mm
    assert np.allclose(ak.to_numpy(ak.flatten(charged.D0)), 1.0, atol=1e-4)
    assert np.allclose(ak.to_numpy(ak.flatten(charged.DZ)), 2.0, atol=1e-9)
    with pytest.raises(ConfigError, match="detector.impact_parameters: 'atlas'"):
        get_detector({"detector": {"impact_parameters": "atlas"}})


def test_k0s_and_lambda_share_their_energy_between_ecal_and_hcal(detector):
    # the card's energy fractions: 0.3 ECAL (a photon candidate), 0.7 HCAL (a neutral hadron)
    for pid in (310, 3122):
        n = 2000
        out = detector.simulate(gun(pid, 100.0, 0.3, n), seed=12)
        true_e = 100.0 * np.cosh(0.3)
        photon = ak.to_numpy(ak.sum(out.E[out.PID == 22], axis=1))
        hadron = ak.to_numpy(ak.sum(out.E[out.PID == 0], axis=1))
        assert abs(photon.mean() / true_e - 0.3) < 0.02 and abs(hadron.mean() / true_e - 0.7) < 0.03


def test_same_seed_same_candidates_new_seed_new_candidates(detector):
    from fixtures_dataset import pythia_batch

    batch = pythia_batch("hz", 20)
    a, b = detector.simulate(batch, seed=42), detector.simulate(batch, seed=42)
    assert ak.all(ak.flatten(a.PT) == ak.flatten(b.PT)) and ak.all(ak.num(a) == ak.num(b))
    # the "hadron" fork: same hadrons, new detector seed -> different candidates
    c = detector.simulate(batch, seed=43)
    assert not (ak.all(ak.num(a) == ak.num(c)) and ak.all(ak.flatten(a.PT) == ak.flatten(c.PT)))
    # and the same physics: total visible energy per event agrees on average
    ea, ec = ak.to_numpy(ak.sum(a.E, axis=1)), ak.to_numpy(ak.sum(c.E, axis=1))
    assert abs(ea.mean() / ec.mean() - 1) < 0.05
