"""Soft-drop mass and N-subjettiness τ1..τ4 of jets, computed as JetClass has them.

JetClass (jet-universe/jetclass_generation, ``makeNtuples.C``) takes ``jet_sdmass`` from Delphes'
``Jet.SoftDroppedP4[0].M()`` and ``jet_tau1..4`` from ``Jet.Tau[0..3]``, both made by Delphes'
``FastJetFinder`` (``modules/FastJetFinder.cc``, Delphes >= 3.4) with the card's settings
(``delphes_card.tcl``: ``ComputeSoftDrop 1``, ``BetaSoftDrop 0.0``, ``SymmetryCutSoftDrop 0.1``,
``R0SoftDrop 0.8``; ``ComputeNsubjettiness 1``, ``Beta 1.0``, ``AxisMode 4``). There:

- soft drop is FastJet contrib's ``SoftDrop(beta, z_cut, R0)`` applied to the anti-kt jet: the
  jet's constituents reclustered with Cambridge/Aachen and declustered, dropping the softer
  branch while min(pT1, pT2)/(pT1 + pT2) < z_cut (ΔR/R0)^beta; beta = 0, z_cut = 0.1.
- τ_N is contrib's ``Nsubjettiness(N, OnePass_KT_Axes(), NormalizedMeasure(beta, R))``
  (``AxisMode 4`` = ``OnePass_KT_Axes``; R the jet radius ``ParameterR``): axes the N exclusive
  kT subjets refined by one pass of the minimisation, and
  τ_N = Σ_i pT_i min_k ΔR_ik^beta / Σ_i pT_i R^beta with ΔR in (rapidity, φ), beta = 1.

The same contrib code runs here, through the scikit-hep ``fastjet`` package: one clustering
sequence over a block of jets, each jet's constituents an "event" of it. Here the constituents
are those the dataset stores (the ``max_constituents`` highest-pT ones), Delphes had them all.
"""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from .contracts import CONSTITUENT_FIELDS

#: JetClass's soft-drop and N-subjettiness parameters (Delphes' card, above).
SOFT_DROP_BETA = 0.0
SOFT_DROP_ZCUT = 0.1
NSUB_BETA = 1.0
NSUB_AXES = "OnePass_KT_Axes"  # fastjet silently falls back to KT_Axes on a name it lacks
N_TAUS = 4

fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)  # no banner on stdout

# Cambridge/Aachen with a radius no jet reaches: one C/A tree of each jet's constituents, which
# SoftDrop declusters as it is (contrib reclusters any other jet with C/A at this radius).
_CA = fastjet.JetDefinition(fastjet.cambridge_algorithm, 1000.0)


_MOMENTUM = [CONSTITUENT_FIELDS.index(k) for k in ("PT", "Eta", "Phi", "E")]


def _particles(constituents: np.ndarray, counts: np.ndarray) -> ak.Array:
    """Each jet's (px, py, pz, E) from its first ``counts`` constituents."""
    mask = np.arange(constituents.shape[1])[None, :] < counts[:, None]
    pt, eta, phi, energy = constituents[mask][:, _MOMENTUM].astype(np.float64).T
    return ak.unflatten(ak.zip({"px": pt * np.cos(phi), "py": pt * np.sin(phi),
                                "pz": pt * np.sinh(eta), "E": energy}), counts)


def soft_drop_mass(constituents: np.ndarray, counts: np.ndarray, R: float) -> np.ndarray:
    """(m,) soft-drop mass of jets from their (m, N, CONSTITUENT_FIELDS) padded constituents
    and (m,) real counts; ``R`` the jet radius (soft drop's R0). No constituents: 0."""
    counts = np.asarray(counts, dtype=np.int64)
    msd = np.zeros(len(counts))
    rows = np.flatnonzero(counts > 0)
    if rows.size:
        sequence = fastjet.ClusterSequence(
            _particles(constituents[rows], counts[rows]), _CA)
        msd[rows] = ak.to_numpy(sequence.exclusive_jets_softdrop_grooming(
            njets=1, beta=SOFT_DROP_BETA, symmetry_cut=SOFT_DROP_ZCUT, R0=R).msoftdrop)
    return msd


def nsubjettiness(constituents: np.ndarray, counts: np.ndarray, R: float) -> np.ndarray:
    """(m, 4) τ1..τ4 of jets from their (m, N, CONSTITUENT_FIELDS) padded constituents and
    (m,) real counts; ``R`` the jet radius (the normalisation). τ_N of a jet with at most N
    constituents is 0 (each constituent its own axis)."""
    counts = np.asarray(counts, dtype=np.int64)
    tau = np.zeros((len(counts), N_TAUS))
    particles = _particles(constituents, counts)
    for k in range(1, N_TAUS + 1):
        # contrib warns (and pads with null axes) when a jet has fewer constituents than
        # axes: each multiplicity below N_TAUS asks only for the τ_N it has
        rows = np.flatnonzero(counts >= k if k == N_TAUS else counts == k)
        if rows.size:
            sequence = fastjet.ClusterSequence(particles[rows], _CA)
            tau[rows, :k] = ak.to_numpy(sequence.njettiness(
                measure_definition="NormalizedMeasure", axes_definition=NSUB_AXES,
                njets=list(range(1, k + 1)), beta=NSUB_BETA, R0=R))
    return tau
