"""Soft-drop mass and N-subjettiness on jets built by hand, values derived by hand.

Particles are massless and the jets sit at η = 0, where rapidity = pseudorapidity, so
m² = Σ_{i<j} 2 pT_i pT_j (cosh Δη_ij − cos Δφ_ij) and ΔR is the (η, φ) distance. Tolerances:
the constituents are stored as float32 (masses to ~1e-4), and contrib's one-pass minimisation
stops within 1e-4 in ΔR of the best axes (τ to ~1e-3).
"""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import pytest

from resim.contracts import CONSTITUENT_FIELDS, MAX_CONSTITUENTS
from resim.substructure import nsubjettiness, soft_drop_mass

R = 0.8


def jets(*particle_lists) -> tuple[np.ndarray, np.ndarray]:
    """Padded constituents and counts of jets given as [(pT, η, φ), ...]."""
    constituents = np.zeros((len(particle_lists), MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS)),
                            np.float32)
    for row, particles in enumerate(particle_lists):
        pt, eta, phi = np.array(particles, dtype=np.float64).T
        for k, values in {"PT": pt, "Eta": eta, "Phi": phi, "E": pt * np.cosh(eta)}.items():
            constituents[row, :len(pt), CONSTITUENT_FIELDS.index(k)] = values
    return constituents, np.array([len(p) for p in particle_lists])


def massless_mass(particles) -> float:
    total = 0.0
    for i, (pt1, eta1, phi1) in enumerate(particles):
        for pt2, eta2, phi2 in particles[i + 1:]:
            total += 2 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2))
    return float(np.sqrt(total))


def prong(pt: float, eta: float, phi: float) -> list[tuple[float, float, float]]:
    """A narrow prong: three particles within 0.02 of (η, φ) carrying ``pt``."""
    return [(0.5 * pt, eta, phi), (0.3 * pt, eta + 0.02, phi), (0.2 * pt, eta, phi - 0.02)]


# the hard core of a one-prong jet and a soft wide-angle contaminant
CORE = [(300.0, 0.0, 0.0), (200.0, 0.02, 0.0), (100.0, 0.0, 0.03)]
SOFT = (5.0, 0.6, 0.0)
TWO_PRONG = prong(300.0, 0.0, 0.0) + prong(250.0, 0.0, 0.4)
# one prong with soft radiation all round it: a ring of 16 × 5 GeV at ΔR = 0.3
RING = [(500.0, 0.0, 0.0)] + [(5.0, 0.3 * np.cos(a), 0.3 * np.sin(a))
                              for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)]


def test_soft_drop_keeps_two_hard_prongs_and_drops_a_soft_wide_angle_particle():
    constituents, n = jets(TWO_PRONG, CORE + [SOFT], CORE)
    msd = soft_drop_mass(constituents, n, R)
    # z = 250 / 550 > 0.1 at the first declustering: nothing groomed, msd = the jet's mass
    assert msd[0] == pytest.approx(massless_mass(TWO_PRONG), rel=1e-4)
    # the contaminant (z = 5/605 < 0.1) is dropped; the core's last splitting has
    # z = 100/600 > 0.1 and stays: msd = the core's mass, well below the jet's
    assert msd[1] == pytest.approx(massless_mass(CORE), rel=1e-4)
    assert massless_mass(CORE + [SOFT]) > 3 * massless_mass(CORE)
    assert msd[2] == pytest.approx(massless_mass(CORE), rel=1e-4)


def test_soft_drop_z_cut_is_a_tenth():
    # a subjet with z just above 0.1 is kept, just below is dropped
    kept = [(890.0, 0.0, 0.0), (110.0, 0.0, 0.5)]
    dropped = [(910.0, 0.0, 0.0), (90.0, 0.0, 0.5)]
    constituents, n = jets(kept, dropped)
    msd = soft_drop_mass(constituents, n, R)
    assert msd[0] == pytest.approx(massless_mass(kept), rel=1e-4)
    assert msd[1] == pytest.approx(0.0, abs=1e-3)  # one massless particle left


def test_nsubjettiness_normalisation_and_axes():
    # two particles: τ1's axis (β = 1 minimises Σ pT ΔR) sits on the harder one, so
    # τ1 = 250 · 0.4 / ((300 + 250) · R); τ2 = 0 (an axis on each)
    constituents, n = jets([(300.0, 0.0, 0.0), (250.0, 0.0, 0.4)])
    tau = nsubjettiness(constituents, n, R)
    assert tau[0, 0] == pytest.approx(250 * 0.4 / (550 * R), rel=3e-3)
    assert tau[0, 1:] == pytest.approx(0.0, abs=1e-9)
    # normalised by R: half the radius, twice the value
    assert nsubjettiness(constituents, n, R / 2)[0, 0] == pytest.approx(2 * tau[0, 0], rel=1e-9)


def test_two_prongs_have_small_tau21_one_prong_does_not():
    constituents, n = jets(TWO_PRONG, RING)
    tau = nsubjettiness(constituents, n, R)
    two, one = tau[0], tau[1]
    # τ1 of two prongs ≈ the softer prong's 250 GeV at 0.4 from an axis in the harder one,
    # plus the prongs' own 0.02 spread: 250 · 0.4 / 440 = 0.227 and a few per cent
    assert 0.227 <= two[0] <= 0.26
    # with an axis on each prong only the spread is left: every particle within 0.02
    assert two[1] <= 550 * 0.02 / (550 * R)
    assert two[1] / two[0] < 0.15
    # the ring: τ1 = 16 · 5 · 0.3 / (580 R); a second axis on the ring takes the ring
    # particles within 60° of it (itself and two each side, at 2 · 0.3 sin(11.25°) and
    # 2 · 0.3 sin(22.5°)), cutting their summed distance from 1.5 to 0.69 (× 5 GeV):
    # τ2/τ1 ≈ (24 − 4.0) / 24 ≈ 0.83
    assert one[0] == pytest.approx(16 * 5 * 0.3 / (580 * R), rel=3e-3)
    assert one[1] / one[0] == pytest.approx(0.83, abs=0.02)
    assert np.all(np.diff(tau, axis=1) <= 1e-12)  # more axes never increase τ


def test_few_constituents_and_empty_jets():
    constituents, n = jets([(300.0, 0.0, 0.0)], [(300.0, 0.0, 0.0), (100.0, 0.1, 0.0)],
                           [(300.0, 0.0, 0.0), (100.0, 0.1, 0.0), (50.0, 0.0, 0.2)])
    n = np.append(n, 0)
    constituents = np.concatenate([constituents, np.zeros_like(constituents[:1])])
    tau = nsubjettiness(constituents, n, R)
    # τ_N is 0 as soon as every constituent can have its own axis
    assert tau[0] == pytest.approx([0, 0, 0, 0], abs=1e-12)
    assert tau[1] == pytest.approx([100 * 0.1 / (400 * R), 0, 0, 0], rel=3e-3, abs=1e-12)
    assert tau[2, 2:] == pytest.approx([0, 0], abs=1e-12)
    assert tau[3] == pytest.approx([0, 0, 0, 0])
    assert soft_drop_mass(constituents, n, R)[3] == 0


def test_soft_drop_is_fastjet_contribs():
    """The compiled soft drop gives contrib's SoftDrop masses (through the fastjet package) on
    random jets: one and many constituents, spread wide, across φ = ±π."""
    rng = np.random.default_rng(5)
    m = 300
    counts = rng.integers(1, MAX_CONSTITUENTS + 1, m)
    pt = rng.pareto(1.2, (m, MAX_CONSTITUENTS)) * 5 + 0.3
    eta = rng.normal(0, 0.35, (m, MAX_CONSTITUENTS)) + rng.uniform(-2, 2, (m, 1))
    phi = rng.normal(0, 0.35, (m, MAX_CONSTITUENTS)) + np.where(np.arange(m) % 3 == 0, np.pi,
                                                                 0.0)[:, None]
    constituents = np.zeros((m, MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS)), np.float32)
    for k, values in {"PT": pt, "Eta": eta, "Phi": phi, "E": pt * np.cosh(eta)}.items():
        constituents[..., CONSTITUENT_FIELDS.index(k)] = values
    c = constituents.astype(np.float64)
    mask = np.arange(MAX_CONSTITUENTS)[None, :] < counts[:, None]
    pt, eta, phi, e = (c[..., CONSTITUENT_FIELDS.index(k)][mask] for k in ("PT", "Eta", "Phi", "E"))
    events = ak.unflatten(ak.zip({"px": pt * np.cos(phi), "py": pt * np.sin(phi),
                                  "pz": pt * np.sinh(eta), "E": e}), counts)
    sequence = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.cambridge_algorithm,
                                                                     1000.0))
    theirs = ak.to_numpy(sequence.exclusive_jets_softdrop_grooming(
        njets=1, beta=0.0, symmetry_cut=0.1, R0=R).msoftdrop)
    # contrib gives a float-rounded negative mass as -sqrt(-m²): 0 here
    np.testing.assert_allclose(soft_drop_mass(constituents, counts, R), np.maximum(theirs, 0),
                               rtol=1e-9, atol=1e-5)
    assert (theirs > 1).sum() > m // 2  # mostly groomed jets with structure, not single particles
