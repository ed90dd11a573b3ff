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

τ_N runs contrib's own code, through the scikit-hep ``fastjet`` package (one clustering sequence
over a block of jets, each jet's constituents an "event" of it). Soft drop is the same
algorithm compiled here with numba: C/A clustering (E-scheme, ΔR² = Δy² + Δφ²), then the
declustering, following the harder branch; the package's ``exclusive_jets_softdrop_grooming``
gives the same masses (``tests/test_substructure.py`` holds them to it) but copies every
groomed constituent out, quadratically, ~1 ms a jet: 60 times slower. The constituents are
those the dataset stores (the ``max_constituents`` highest-pT ones); Delphes had them all.
"""

from __future__ import annotations

import functools

import awkward as ak
import numba
import numpy as np

from .contracts import CONSTITUENT_FIELDS

#: JetClass's soft-drop and N-subjettiness parameters (Delphes' card, above).
SOFT_DROP_BETA = 0.0
SOFT_DROP_ZCUT = 0.1
NSUB_BETA = 1.0
NSUB_AXES = "OnePass_KT_Axes"  # fastjet silently falls back to KT_Axes on a name it lacks
N_TAUS = 4


@functools.cache
def _fastjet():
    """fastjet, imported on first use: training reads these formats' files on machines (a GPU
    node) that need no clustering and may lack fastjet."""
    import fastjet
    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)  # no banner on stdout
    return fastjet


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
    pt, eta, phi, energy = np.moveaxis(constituents[..., _MOMENTUM].astype(np.float64), -1, 0)
    momenta = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), energy], -1)
    return _soft_drop_batch(momenta, np.asarray(counts, dtype=np.int64), SOFT_DROP_ZCUT,
                            SOFT_DROP_BETA, float(R))


@numba.njit(cache=True)
def _rap_phi(px, py, pz, e):
    """FastJet's rapidity and φ in [0, 2π) of a four-momentum (PseudoJet::_set_rap_phi)."""
    kt2 = px * px + py * py
    phi = 0.0 if kt2 == 0.0 else np.arctan2(py, px)
    if phi < 0.0:
        phi += 2.0 * np.pi
    m2 = max(e * e - kt2 - pz * pz, 0.0)
    ep = e + abs(pz)
    if kt2 + m2 == 0.0:  # along the beam: FastJet's MaxRap
        rap = 1e5 + abs(pz)
    else:
        rap = -0.5 * np.log((kt2 + m2) / (ep * ep))
    return (-rap if pz < 0.0 else rap), phi


@numba.njit(cache=True)
def _dist2(rap_a, phi_a, rap_b, phi_b):
    dphi = abs(phi_a - phi_b)
    if dphi > np.pi:
        dphi = 2.0 * np.pi - dphi
    return (rap_a - rap_b) ** 2 + dphi * dphi


@numba.njit(cache=True)
def _nearest(k, na, node, rap, phi):
    """The position nearest to position ``k`` among the first ``na`` and its ΔR²."""
    best, arg = np.inf, -1
    for q in range(na):
        if q != k:
            d = _dist2(rap[node[k]], phi[node[k]], rap[node[q]], phi[node[q]])
            if d < best:
                best, arg = d, q
    return arg, best


@numba.njit(cache=True)
def _soft_drop_one(p, n, zcut, beta, r0):
    """Soft-drop mass of one jet of ``n`` (px, py, pz, E) rows of ``p``."""
    if n == 0:
        return 0.0
    size = 2 * n - 1
    v = np.empty((size, 4))
    rap, phi = np.empty(size), np.empty(size)
    left, right = np.full(size, -1), np.full(size, -1)  # a merged node's two parents
    node = np.arange(n)  # the node at each active position
    for i in range(n):
        v[i] = p[i]
        rap[i], phi[i] = _rap_phi(p[i, 0], p[i, 1], p[i, 2], p[i, 3])
    nn, nnd = np.zeros(n, np.int64), np.full(n, np.inf)  # each position's nearest and ΔR²
    for k in range(n):
        nn[k], nnd[k] = _nearest(k, n, node, rap, phi)
    # Cambridge/Aachen: merge the closest pair until one node is left
    for new in range(n, size):
        na = size - new + 1  # active positions
        a = np.argmin(nnd[:na])
        a, b = min(a, nn[a]), max(a, nn[a])
        v[new] = v[node[a]] + v[node[b]]
        rap[new], phi[new] = _rap_phi(v[new, 0], v[new, 1], v[new, 2], v[new, 3])
        left[new], right[new] = node[a], node[b]
        # position a holds the merged node; the last position moves into b
        last = na - 1
        node[a], node[b], nn[b], nnd[b] = new, node[last], nn[last], nnd[last]
        na -= 1
        for k in range(na):
            if nn[k] == last:
                nn[k] = b
        for k in range(na):
            # a changed and b's node is gone: who pointed at them looks again
            if k == a or nn[k] == a or nn[k] == b:
                nn[k], nnd[k] = _nearest(k, na, node, rap, phi)
            else:
                d = _dist2(rap[new], phi[new], rap[node[k]], phi[node[k]])
                if d < nnd[k]:
                    nn[k], nnd[k] = a, d
    # declustering: drop the softer branch while z = min(pT1, pT2) / (pT1 + pT2) fails
    j = node[0]
    while left[j] >= 0:
        a, b = left[j], right[j]
        pt_a, pt_b = np.hypot(v[a, 0], v[a, 1]), np.hypot(v[b, 0], v[b, 1])
        cut = zcut
        if beta != 0.0:
            cut *= (np.sqrt(_dist2(rap[a], phi[a], rap[b], phi[b])) / r0) ** beta
        if min(pt_a, pt_b) / (pt_a + pt_b) > cut:
            break
        j = a if pt_a > pt_b else b
    m2 = v[j, 3] ** 2 - v[j, 0] ** 2 - v[j, 1] ** 2 - v[j, 2] ** 2
    return np.sqrt(m2) if m2 > 0.0 else 0.0


@numba.njit(cache=True)
def _soft_drop_batch(p, counts, zcut, beta, r0):
    out = np.zeros(len(counts))
    for i in range(len(counts)):
        out[i] = _soft_drop_one(p[i], counts[i], zcut, beta, r0)
    return out


def nsubjettiness(constituents: np.ndarray, counts: np.ndarray, R: float) -> np.ndarray:
    """(m, 4) τ1..τ4 of jets from their (m, N, CONSTITUENT_FIELDS) padded constituents and
    (m,) real counts; ``R`` the jet radius (the normalisation). τ_N of a jet with at most N
    constituents is 0 (each constituent its own axis)."""
    counts = np.asarray(counts, dtype=np.int64)
    tau = np.zeros((len(counts), N_TAUS))
    particles = _particles(constituents, counts)
    fastjet = _fastjet()
    # τ_N's clustering sequence: Njettiness reads the particles of each "event", not the jets,
    # so any algorithm serves; C/A at a radius no jet reaches keeps each jet one tree.
    ca = fastjet.JetDefinition(fastjet.cambridge_algorithm, 1000.0)
    for k in range(1, N_TAUS + 1):
        # contrib warns (and pads with null axes) when a jet has fewer constituents than
        # axes: each multiplicity below N_TAUS asks only for the τ_N it has
        rows = np.flatnonzero(counts >= k if k == N_TAUS else counts == k)
        if rows.size:
            sequence = fastjet.ClusterSequence(particles[rows], ca)
            tau[rows, :k] = ak.to_numpy(sequence.njettiness(
                measure_definition="NormalizedMeasure", axes_definition=NSUB_AXES,
                njets=list(range(1, k + 1)), beta=NSUB_BETA, R0=R))
    return tau
