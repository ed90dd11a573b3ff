"""The 15 particle features and N2, against hand computations and a slow implementation."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from resim.contracts import CONSTITUENT_FIELDS, JET_FIELDS
from resim.features import FEATURE_NAMES, particle_features
from resim.observables import n2


def _jet(rows: list[dict], jet: dict, n_max: int = 6):
    cons = np.zeros((1, n_max, len(CONSTITUENT_FIELDS)), np.float32)
    for i, row in enumerate(rows):
        for k, name in enumerate(CONSTITUENT_FIELDS):
            cons[0, i, k] = row.get(name, 0.0)
    j = np.array([[jet.get(name, 0.0) for name in JET_FIELDS]], np.float32)
    return cons, np.array([len(rows)], np.int16), j


def test_features_by_hand():
    rows = [dict(PT=100, Eta=0.1, Phi=3.1, E=110, Charge=1, PID=211, D0=0.5, DZ=-2.0),
            dict(PT=20, Eta=-0.1, Phi=-3.1, E=21, Charge=0, PID=22),
            dict(PT=10, Eta=0.0, Phi=3.0, E=10, Charge=-1, PID=13),
            dict(PT=5, Eta=0.0, Phi=3.0, E=5, Charge=0, PID=0),
            dict(PT=2, Eta=0.0, Phi=3.0, E=2, Charge=-1, PID=11)]
    cons, n, jet = _jet(rows, dict(pt=130, eta=0.0, phi=3.12, E=150))
    f = particle_features(cons, n, jet)
    assert f.shape == (1, 6, 15) and f.dtype == np.float32 and len(FEATURE_NAMES) == 15
    first = dict(zip(FEATURE_NAMES, f[0, 0]))
    assert np.isclose(first["log_pt"], np.log(100))
    assert np.isclose(first["log_pt_rel"], np.log(100 / 130))
    assert np.isclose(first["log_e"], np.log(110))
    assert np.isclose(first["log_e_rel"], np.log(110 / 150))
    assert np.isclose(first["deta"], 0.1) and np.isclose(first["dphi"], -0.02, atol=1e-5)
    assert np.isclose(first["tanh_d0"], np.tanh(0.5))
    assert np.isclose(first["tanh_dz"], np.tanh(-2.0))
    # phi wraps: -3.1 - 3.12 = -6.22 -> +0.063
    assert np.isclose(f[0, 1, FEATURE_NAMES.index("dphi")], 2 * np.pi - 6.22, atol=1e-5)
    dr = f[0, 1, FEATURE_NAMES.index("dr")]
    assert np.isclose(dr, np.hypot(-0.1, 2 * np.pi - 6.22), atol=1e-5)
    flags = f[0, :5, 10:]
    assert flags.tolist() == [[0, 0, 0, 1, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0],
                              [0, 0, 0, 0, 1], [0, 0, 1, 0, 0]]
    assert f[0, :5, FEATURE_NAMES.index("charge")].tolist() == [1, 0, -1, 0, -1]
    assert np.all(f[0, 5:] == 0)  # padding


def n2_slow(pt, eta, phi, beta=1.0):
    """Direct sums over pairs and triplets (independent of observables.n2)."""
    z = [p / sum(pt) for p in pt]

    def angle(i, j):
        dphi = (phi[i] - phi[j] + np.pi) % (2 * np.pi) - np.pi
        return ((eta[i] - eta[j]) ** 2 + dphi ** 2) ** (beta / 2)

    e2 = sum(z[i] * z[j] * angle(i, j) for i, j in itertools.combinations(range(len(pt)), 2))
    e3 = 0.0
    for i, j, k in itertools.combinations(range(len(pt)), 3):
        a = sorted([angle(i, j), angle(i, k), angle(j, k)])
        e3 += z[i] * z[j] * z[k] * a[0] * a[1]
    return e3 / e2 ** 2


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 300), st.floats(-0.8, 0.8), st.floats(-3.1, 3.1)),
                min_size=3, max_size=25), st.sampled_from([1.0, 2.0]))
def test_n2_matches_slow_implementation(particles, beta):
    pt, eta, phi = (np.array(x) for x in zip(*particles))
    assume(np.ptp(eta) + np.ptp(phi) > 1e-3)  # collinear-only jets have no N2
    pad = 30 - len(pt)
    fast = n2(np.pad(pt, (0, pad))[None], np.pad(eta, (0, pad))[None], np.pad(phi, (0, pad))[None],
              np.array([len(pt)]), beta)
    assert np.isclose(fast[0], n2_slow(pt, eta, phi, beta), rtol=1e-7)


def test_n2_separates_two_prongs_from_one_prong():
    rng = np.random.default_rng(0)
    # one-prong: a narrow core; two-prong: two equal cores 0.4 apart
    one_eta, one_phi = rng.normal(0, 0.05, 40), rng.normal(0, 0.05, 40)
    two_eta = np.concatenate([rng.normal(-0.2, 0.03, 20), rng.normal(0.2, 0.03, 20)])
    two_phi = rng.normal(0, 0.03, 40)
    pt = rng.exponential(10, 40)
    values = n2(np.stack([pt, pt]), np.stack([one_eta, two_eta]), np.stack([one_phi, two_phi]),
                np.array([40, 40]))
    assert values[1] < values[0]
    assert n2(pt[None, :2], one_eta[None, :2], one_phi[None, :2], np.array([2]))[0] == 0.0
