"""The 15 per-particle input features of RS3L (seed 000, Table I), from stored constituents.

One function serves the dataset writer (validation plots) and the training loader, so the
network always sees exactly what the plots show. Inputs follow the paired-HDF5 schema:
constituents in ``CONSTITUENT_FIELDS`` order, jets in ``JET_FIELDS`` order.
"""

from __future__ import annotations

import numpy as np

from .contracts import CONSTITUENT_FIELDS, JET_FIELDS

#: Feature names in the order of seed 000, Table I.
FEATURE_NAMES = (
    "log_pt", "log_pt_rel", "log_e", "log_e_rel", "deta", "dphi", "dr", "tanh_d0", "tanh_dz",
    "charge", "is_photon", "is_muon", "is_electron", "is_charged_hadron", "is_neutral_hadron",
)

_C = {name: i for i, name in enumerate(CONSTITUENT_FIELDS)}
_J = {name: i for i, name in enumerate(JET_FIELDS)}


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Map an azimuthal difference into [-pi, pi)."""
    return (dphi + np.pi) % (2.0 * np.pi) - np.pi


#: The particle-type flags, in feature order (the last five features).
FLAG_NAMES = ("is_photon", "is_muon", "is_electron", "is_charged_hadron", "is_neutral_hadron")


def particle_flags(pid: np.ndarray, charge: np.ndarray) -> dict[str, np.ndarray]:
    """The five particle-type flags (bool) from |PID| and charge, as particle flow labels them.

    One definition for the features and for the exported JetClass ``part_is*`` branches, so a
    file read back gives the same flags. HCAL neutrals carry PID 0: neutral and not a photon.
    """
    pid = np.abs(pid)
    is_muon, is_electron, is_photon = pid == 13, pid == 11, pid == 22
    return {"is_photon": is_photon, "is_muon": is_muon, "is_electron": is_electron,
            "is_charged_hadron": (charge != 0) & ~is_muon & ~is_electron,
            "is_neutral_hadron": (charge == 0) & ~is_photon}


def _safe_log(x: np.ndarray) -> np.ndarray:
    """log x, 0 where x ≤ 0 (one pass: no log of the masked entries)."""
    return np.log(x, out=np.zeros_like(x), where=x > 0)


def particle_features(constituents: np.ndarray, n_constituents: np.ndarray,
                      jet: np.ndarray) -> np.ndarray:
    """(m, N, 15) float32 features of (m, N, 8) constituents; zero on padding.

    ``n_constituents`` (m,) counts the real entries of each row (they come first);
    ``jet`` (m, 7) holds the jet kinematics (pt, eta, phi, mass, E, ...).
    """
    constituents = np.asarray(constituents)
    mask = np.arange(constituents.shape[1])[None, :] < np.asarray(n_constituents)[:, None]
    return flat_features(constituents[mask], n_constituents, jet, constituents.shape[1])


def flat_features(particles: np.ndarray, n_constituents: np.ndarray, jet: np.ndarray,
                  slots: int) -> np.ndarray:
    """:func:`particle_features` of particles given flat: (P, 8) rows, jet by jet, the first
    ``n_constituents[i]`` of them jet i's; padded to (m, slots, 15)."""
    n = np.asarray(n_constituents, dtype=np.int64)
    return pad_rows(real_features(particles, n, jet), np.cumsum(n) - n, n, slots)


def real_features(particles: np.ndarray, n_constituents: np.ndarray,
                  jet: np.ndarray, dtype=np.float64) -> np.ndarray:
    """(P, 15) float32 features of particles given flat: (P, 8) rows, jet by jet, the first
    ``n_constituents[i]`` of them jet i's.

    Computed on the real entries only (padding is most of a 100-slot row), so a reader holding
    flat arrays (JetClass's jagged branches) never pads the constituents (:func:`pad_rows` pads
    them, a batch at a time if it likes); :data:`BLOCK` particles at a time, so that the
    temporaries stay in the CPU's cache. The math runs in ``dtype``: float64 for the project's
    own datasets (what their training and published results were made with, to the byte);
    the JetClass stream asks for float32 (within 1e-6 of float64, half the memory traffic).
    """
    particles = np.asarray(particles, dtype=dtype)
    # the jet kinematics each particle needs, repeated per particle
    kinematics = np.asarray(jet, dtype=dtype)[:, [_J[k] for k in ("pt", "eta", "phi", "E")]]
    jet = np.repeat(kinematics, np.asarray(n_constituents, dtype=np.int64), axis=0)
    real = np.empty((len(particles), len(FEATURE_NAMES)), dtype=np.float32)
    for lo in range(0, len(particles), BLOCK):
        real[lo:lo + BLOCK] = _block_features(particles[lo:lo + BLOCK], jet[lo:lo + BLOCK])
    return real


#: Particles :func:`real_features` computes at a time (its temporaries then fit a CPU's L2).
BLOCK = 16_384


def _block_features(particles: np.ndarray, jet: np.ndarray) -> np.ndarray:
    """(p, 15) features of (p, 8) particles whose jets' (pt, eta, phi, E) are (p, 4) ``jet``."""
    # one contiguous row per field: the ufuncs below run on contiguous memory
    c = np.ascontiguousarray(particles.T)
    jet_pt, jet_eta, jet_phi, jet_e = np.ascontiguousarray(jet.T)
    pt, eta, phi, e = (c[_C[k]] for k in ("PT", "Eta", "Phi", "E"))
    charge, pid = c[_C["Charge"]], c[_C["PID"]]

    deta = eta - jet_eta
    dphi = wrap_phi(phi - jet_phi)
    flags = particle_flags(pid, charge)
    columns = [
        _safe_log(pt), _safe_log(pt / np.where(jet_pt > 0, jet_pt, 1.0)),
        _safe_log(e), _safe_log(e / np.where(jet_e > 0, jet_e, 1.0)),
        deta, dphi, np.hypot(deta, dphi),
        np.tanh(c[_C["D0"]]), np.tanh(c[_C["DZ"]]), charge,
        *(flags[name] for name in FLAG_NAMES),
    ]
    # field-major (contiguous writes), transposed by the caller's row assignment
    real = np.empty((len(FEATURE_NAMES), c.shape[1]), dtype=np.float32)
    for i, column in enumerate(columns):
        real[i] = column
    return real.T


def row_index(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Indices of the flat rows of jets whose rows are [starts[i], starts[i] + counts[i])."""
    counts = np.asarray(counts, dtype=np.int64)
    firsts = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - firsts, counts) + \
        np.arange(counts.sum())


def pad_rows(rows: np.ndarray, starts: np.ndarray, counts: np.ndarray,
             slots: int) -> np.ndarray:
    """(m, slots, F) of the jets whose flat ``rows`` are [starts[i], starts[i] + counts[i]),
    zero-padded: slot k of jet i is its k-th row."""
    counts = np.asarray(counts, dtype=np.int64)
    m = len(counts)
    out = np.zeros((m * slots, rows.shape[1]), dtype=rows.dtype)
    # slot k of jet i is row i * slots + k
    out[row_index(np.arange(m) * slots, counts)] = rows[row_index(starts, counts)]
    return out.reshape(m, slots, rows.shape[1])
