"""The CMS card's numbers (Delphes 3.5 ``delphes_card_CMS.tcl``), in one table, as data.

Everything the embedded detector needs is here: solenoid, tracking efficiencies, momentum and
energy resolutions, thresholds, energy fractions, tower granularity, lepton identification.
Impact parameters come in two modes (``detector.impact_parameters``): ``delphes`` reports the
helix's D0/DZ unsmeared, as the stock card does; ``cms`` smears them with a resolution modelled
on CMS Phase-1 tracker performance: ~10 um (d0) / ~20 um (dz) at high pT, ~100 um / ~150 um at
1 GeV. The functions below evaluate the table on numpy arrays.
Units: GeV, metres (solenoid), millimetres (impact parameters), tesla.
"""

from __future__ import annotations

import numpy as np

CARD = {
    "solenoid": {"radius": 1.29, "half_length": 3.0, "bz": 3.8},
    # rows: (|eta| low, |eta| high, pT low, pT high, efficiency); muons above 1 TeV fall off as
    # efficiency * exp(0.5 - 5e-4 pT) (the "falloff" rows). 0 outside the rows (pT <= 0.1,
    # |eta| > 2.5).
    "tracking_efficiency": {
        "hadron": [(0.0, 1.5, 0.1, 1.0, 0.70), (0.0, 1.5, 1.0, np.inf, 0.95),
                   (1.5, 2.5, 0.1, 1.0, 0.60), (1.5, 2.5, 1.0, np.inf, 0.85)],
        "electron": [(0.0, 1.5, 0.1, 1.0, 0.73), (0.0, 1.5, 1.0, 100.0, 0.95),
                     (0.0, 1.5, 100.0, np.inf, 0.99),
                     (1.5, 2.5, 0.1, 1.0, 0.50), (1.5, 2.5, 1.0, 100.0, 0.83),
                     (1.5, 2.5, 100.0, np.inf, 0.90)],
        "muon": [(0.0, 1.5, 0.1, 1.0, 0.75), (0.0, 1.5, 1.0, 1000.0, 0.99),
                 (1.5, 2.5, 0.1, 1.0, 0.70), (1.5, 2.5, 1.0, 1000.0, 0.98)],
        "muon_falloff": [(0.0, 1.5, 1000.0, np.inf, 0.99), (1.5, 2.5, 1000.0, np.inf, 0.98)],
    },
    # sigma(pT)/pT = sqrt(a^2 + (b pT)^2) per |eta| range: (|eta| low, high, a, b); capped at 1
    "momentum_resolution": {
        "hadron": [(0.0, 0.5, 0.06, 1.3e-3), (0.5, 1.5, 0.10, 1.7e-3), (1.5, 2.5, 0.25, 3.1e-3)],
        "electron": [(0.0, 0.5, 0.03, 1.3e-3), (0.5, 1.5, 0.05, 1.7e-3), (1.5, 2.5, 0.15, 3.1e-3)],
        "muon": [(0.0, 0.5, 0.01, 1e-4), (0.5, 1.5, 0.015, 1.5e-4), (1.5, 2.5, 0.025, 3.5e-4)],
    },
    # sigma(E) = (p0 + p1 (|eta| - eta0)^2) * sqrt((c E)^2 + s^2 E + n^2):
    # rows (|eta| low, high, p0, p1, eta0, c, s, n)
    "energy_resolution": {
        "ecal": [(0.0, 1.5, 1.0, 0.64, 0.0, 0.008, 0.11, 0.40),
                 (1.5, 2.5, 2.16, 5.6, 2.0, 0.008, 0.11, 0.40),
                 (2.5, 5.0, 1.0, 0.0, 0.0, 0.107, 2.08, 0.0)],
        "hcal": [(0.0, 3.0, 1.0, 0.0, 0.0, 0.05, 1.5, 0.0),
                 (3.0, 5.0, 1.0, 0.0, 0.0, 0.13, 2.7, 0.0)],
    },
    # tower and EFlow thresholds: E > energy_min and E > significance_min * sigma
    "thresholds": {"ecal": (0.5, 2.0), "hcal": (1.0, 1.0)},
    # (ECAL, HCAL) energy fractions by |PID|; any other hadron: (0, 1)
    "energy_fractions": {11: (1.0, 0.0), 22: (1.0, 0.0), 111: (1.0, 0.0),
                         310: (0.3, 0.7), 3122: (0.3, 0.7),
                         12: (0.0, 0.0), 13: (0.0, 0.0), 14: (0.0, 0.0), 16: (0.0, 0.0)},
    "default_fraction": (0.0, 1.0),
    # identification of tracked leptons (the card's ElectronEfficiency / MuonEfficiency), rows
    # as the tracking table; 0 for pT <= 10 and outside the rows. Unidentified: PID +-211.
    "identification": {
        11: [(0.0, 1.5, 10.0, np.inf, 0.95), (1.5, 2.5, 10.0, np.inf, 0.85)],
        13: [(0.0, 1.5, 10.0, np.inf, 0.95), (1.5, 2.4, 10.0, np.inf, 0.95)],
    },
    # impact-parameter resolution (mm) per detector.impact_parameters mode:
    # sigma = sqrt(a^2 + (b / pT)^2); None: not smeared (the stock card)
    "impact_parameter_resolution": {
        "delphes": None,
        "cms": {"d0": (0.010, 0.100), "dz": (0.020, 0.150)},
    },
    "tracker_eta_max": 2.5,
    "calorimeter_eta_max": 5.0,
}

_FORWARD = [3.125, 3.3, 3.475, 3.65, 3.825, 4.0, 4.175, 4.35, 4.525, 4.7, 5.0]


def _symmetric(edges_pos: list[float]) -> np.ndarray:
    edges = np.asarray(edges_pos)
    return np.concatenate([-edges[::-1], edges[edges > 0] if edges[0] == 0 else edges])


def _ecal_grid() -> tuple[np.ndarray, np.ndarray]:
    central = list(np.round(0.0174 * np.arange(0, 171), 6))  # 0 ... 2.958 in 0.0174 steps
    edges = _symmetric(central + _FORWARD)
    centres = 0.5 * np.abs(edges[1:] + edges[:-1])
    nphi = np.where(centres < 2.958, 360, 36)
    return edges, nphi


def _hcal_grid() -> tuple[np.ndarray, np.ndarray]:
    # the card's 5-degree list ends at 1.653, so the ring 1.566-1.653 keeps 72 phi towers and
    # 1.653-1.74 is the first of the 10-degree rings
    central = list(np.round(0.087 * np.arange(0, 20), 6))  # 0 ... 1.653
    outer = [1.74, 1.83, 1.93, 2.043, 2.172, 2.322, 2.5, 2.65, 2.868, 2.95]
    edges = _symmetric(central + outer + _FORWARD)
    centres = 0.5 * np.abs(edges[1:] + edges[:-1])
    nphi = np.where(centres < 1.653, 72, np.where(centres < 4.525, 36, 18))
    return edges, nphi


class TowerGrid:
    """Calorimeter towers: eta bins, each with its own number of phi bins; flat tower ids."""

    def __init__(self, eta_edges: np.ndarray, nphi: np.ndarray):
        self.eta_edges = np.asarray(eta_edges, dtype=np.float64)
        self.nphi = np.asarray(nphi, dtype=np.int64)
        self.offset = np.concatenate([[0], np.cumsum(self.nphi)])
        self.n_towers = int(self.offset[-1])

    def tower(self, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tower id, eta bin, phi bin) of positions with |eta| inside the grid."""
        ieta = np.searchsorted(self.eta_edges, eta, side="right") - 1
        ieta = np.clip(ieta, 0, len(self.nphi) - 1)
        nphi = self.nphi[ieta]
        iphi = np.minimum((((phi + np.pi) % (2 * np.pi)) / (2 * np.pi) * nphi).astype(np.int64),
                          nphi - 1)
        return self.offset[ieta] + iphi, ieta, iphi

    def random_position(self, ieta: np.ndarray, iphi: np.ndarray, u: np.ndarray,
                        v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A position uniform inside each tower (how Delphes places tower candidates), from
        uniform numbers ``u`` (eta) and ``v`` (phi) in (0, 1)."""
        lo, hi = self.eta_edges[ieta], self.eta_edges[ieta + 1]
        width = 2 * np.pi / self.nphi[ieta]
        return lo + u * (hi - lo), -np.pi + (iphi + v) * width

    def centre_eta(self, ieta: np.ndarray) -> np.ndarray:
        return 0.5 * (self.eta_edges[ieta] + self.eta_edges[ieta + 1])


ECAL_GRID = TowerGrid(*_ecal_grid())
HCAL_GRID = TowerGrid(*_hcal_grid())


def _by_rows(rows, abseta, pt=None, value=None):
    out = np.zeros_like(abseta, dtype=np.float64)
    for row in rows:
        lo, hi = row[0], row[1]
        sel = (abseta > lo) & (abseta <= hi) if lo > 0 else abseta <= hi
        if pt is not None:
            sel &= (pt > row[2]) & (pt <= row[3])
        out = np.where(sel, value(row) if value else row[4], out)
    return out


def particle_kind(abspid: np.ndarray) -> np.ndarray:
    """0 hadron, 1 electron, 2 muon: the rows of the tracking tables a particle uses."""
    return np.where(abspid == 11, 1, np.where(abspid == 13, 2, 0))


def tracking_efficiency(abspid: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    table = CARD["tracking_efficiency"]
    abseta, kind = np.abs(eta), particle_kind(abspid)
    falloff = _by_rows(table["muon_falloff"], abseta, pt) * np.exp(0.5 - 5e-4 * pt)
    per_kind = [_by_rows(table["hadron"], abseta, pt), _by_rows(table["electron"], abseta, pt),
                _by_rows(table["muon"], abseta, pt) + falloff]
    return np.choose(kind, per_kind)


def momentum_resolution(abspid: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """sigma(pT)/pT, capped at 1; 0 outside the tracker."""
    table = CARD["momentum_resolution"]
    abseta, kind = np.abs(eta), particle_kind(abspid)
    per_kind = [_by_rows(table[k], abseta, value=lambda r: np.sqrt(r[2] ** 2 + (r[3] * pt) ** 2))
                for k in ("hadron", "electron", "muon")]
    return np.minimum(np.choose(kind, per_kind), 1.0)


def energy_resolution(calo: str, energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """sigma(E) in GeV of the ECAL (``calo="ecal"``) or HCAL."""
    e = np.maximum(energy, 0.0)
    return _by_rows(CARD["energy_resolution"][calo], np.abs(eta), value=lambda r: (
        (r[2] + r[3] * (np.abs(eta) - r[4]) ** 2)
        * np.sqrt((r[5] * e) ** 2 + r[6] ** 2 * e + r[7] ** 2)))


def energy_fractions(abspid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ECAL fraction, HCAL fraction) per particle."""
    ecal = np.full(abspid.shape, CARD["default_fraction"][0])
    hcal = np.full(abspid.shape, CARD["default_fraction"][1])
    for pid, (fe, fh) in CARD["energy_fractions"].items():
        sel = abspid == pid
        ecal[sel], hcal[sel] = fe, fh
    return ecal, hcal


def identification_efficiency(abspid: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    abseta = np.abs(eta)
    out = np.zeros(abspid.shape)
    for pid, rows in CARD["identification"].items():
        out = np.where(abspid == pid, _by_rows(rows, abseta, pt), out)
    return out


IMPACT_PARAMETER_MODES = tuple(CARD["impact_parameter_resolution"])


def impact_parameter_resolution(which: str, pt: np.ndarray, mode: str = "cms") -> np.ndarray:
    """sigma(D0) (``which="d0"``) or sigma(DZ) in mm; 0 in the ``delphes`` mode."""
    table = CARD["impact_parameter_resolution"][mode]
    if table is None:
        return np.zeros(np.shape(pt))
    a, b = table[which]
    return np.sqrt(a ** 2 + (b / np.maximum(pt, 1e-3)) ** 2)


def lognormal(z: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log-normal draws with the given mean and standard deviation (Delphes' LogNormal), from
    standard normal numbers ``z``."""
    mean = np.asarray(mean, dtype=np.float64)
    ok = mean > 0
    m = np.where(ok, mean, 1.0)
    s2 = np.log1p((np.asarray(sigma) / m) ** 2)
    draw = m * np.exp(np.sqrt(s2) * np.broadcast_to(z, mean.shape) - 0.5 * s2)
    return np.where(ok, draw, 0.0)
