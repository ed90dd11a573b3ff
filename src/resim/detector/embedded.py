"""The embedded CMS-like detector: a vectorised parametric particle-flow simulation.

All particles of a batch are processed at once as flat numpy arrays (event index alongside):

1. Propagation in the solenoid (``card.CARD["solenoid"]``): charged particles follow a helix to
   the barrel (R = 1.29 m) or the endcap (|z| = 3 m) and hit it at a bent position; neutrals fly
   straight. *Curlers*, whose helix never reaches the barrel radius (2 R_helix + vertex offset <
   1.29 m), spiral along the beam to the endcap, as in Delphes' ParticlePropagator: a central
   0.5 GeV pion ends at |eta| ~ 2-4. Particles produced outside the tracker volume and neutrinos
   are dropped.
2. Tracking: efficiency by type / pT / |eta| and log-normal pT smearing (eta, phi unchanged),
   with |eta| of the particle's position on the calorimeter surface, as Delphes' Efficiency and
   MomentumSmearing modules evaluate the card's formulas (so a curler ending beyond |eta| = 2.5
   is never tracked: what makes soft-particle-rich QCD jets lose more mass than H/W jets); D0/DZ
   from the production vertex and the helix, smeared (``detector.impact_parameters: cms``, the
   default) or not (``delphes``, as the stock card).
3. Calorimeters: ECAL and HCAL towers on the card's grids get the card's energy fractions of
   every particle that reaches them; tower energies are smeared log-normally and thresholded.
4. Particle flow, per tower and calorimeter (electron tracks meet ECAL towers, hadron tracks
   HCAL towers, muons neither): a significant excess of calorimeter over track energy becomes a
   photon (ECAL, PID 22) or neutral hadron (HCAL, PID 0) placed uniformly inside the tower;
   otherwise the tracks are rescaled to the 1/sigma^2-weighted mean of track and tower energy
   (towers below threshold leave their tracks unchanged).
5. Lepton identification: tracked electrons / muons keep their PID with the card's efficiency,
   otherwise they are reported as charged hadrons (PID +-211).

Randomness is per event: ``seed`` is the view's detector stream seed, each event's key is
``resim.seeds.event_keys(seed, event index)``, and every draw is a counter-based function of
(event key, particle index in the event or tower number, purpose) (:mod:`resim.counter_random`).
So an event gets the same candidates whatever batch it is simulated in and whichever other
events run beside it, while the whole batch is still processed in one set of numpy calls.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np

from ..counter_random import normal, uniform
from ..errors import ConfigError
from ..contracts import CANDIDATE_FIELDS, ViewBatch
from ..seeds import event_keys
from . import card
from .registry import register_detector

#: pT [GeV] = C_LIGHT * B [T] * R [m] for unit charge.
C_LIGHT = 0.299792458
_NEUTRINOS = (12, 14, 16)
#: Hidden Valley (dark-sector) PDG ids: a dark state that reaches the detector undecayed
#: interacts with nothing in it, like a neutrino.
_HIDDEN_VALLEY = (4900000, 4999999)

# What each counter-based draw is for: never two purposes on one number.
_TRACK, _PT, _D0, _DZ, _ID = 1, 2, 3, 4, 5
_TOWER_E, _TOWER_ETA, _TOWER_PHI = {"ecal": 6, "hcal": 7}, {"ecal": 8, "hcal": 9}, \
    {"ecal": 10, "hcal": 11}


def _flat(particles: ak.Array, name: str, dtype) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(particles[name], axis=None)), dtype=dtype)


class _Particles:
    """Flat kinematics of a batch of final-state particles."""

    def __init__(self, particles: ak.Array):
        self.counts = np.asarray(ak.to_numpy(ak.num(particles, axis=1)), dtype=np.int64)
        self.event = np.repeat(np.arange(len(self.counts)), self.counts)
        starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        # the counter of a particle's draws: its place in the event, or the "item" the event's
        # maker gave it (pile-up: stable whichever pool particles are simulated)
        self.index = (_flat(particles, "item", np.int64) if "item" in particles.fields else
                      np.arange(len(self.event), dtype=np.int64) - starts[self.event])
        for name in ("px", "py", "pz", "E", "vx", "vy", "vz", "charge"):
            setattr(self, name, _flat(particles, name, np.float64))
        self.abspid = np.abs(_flat(particles, "pid", np.int64))
        self.pid = _flat(particles, "pid", np.int64)
        # pile-up truth flag (resim.pileup), carried to the candidates as IsPU
        self.pileup = (_flat(particles, "pileup", np.int8) if "pileup" in particles.fields
                       else np.zeros(len(self.event), dtype=np.int8))
        self.pt = np.hypot(self.px, self.py)
        safe_pt = np.where(self.pt > 0, self.pt, 1e-12)
        self.eta = np.arcsinh(self.pz / safe_pt)
        self.phi = np.arctan2(self.py, self.px)
        self.p2 = self.pt ** 2 + self.pz ** 2
        self.m2 = np.maximum(self.E ** 2 - self.p2, 0.0)


def _helix(ps: _Particles, bz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Helix radius (m, inf for neutrals), signed radius and the circle centre distance (m)."""
    charged = ps.charge != 0
    radius = np.where(charged, ps.pt / (C_LIGHT * bz * np.where(charged, np.abs(ps.charge), 1.0)),
                      np.inf)
    signed = np.sign(ps.charge) * np.where(charged, radius, 0.0)
    safe_pt = np.where(ps.pt > 0, ps.pt, 1e-12)
    # a positive particle turns clockwise in +Bz: its centre lies to the right of its momentum
    xc = ps.vx * 1e-3 + np.where(charged, signed * ps.py / safe_pt, 0.0)
    yc = ps.vy * 1e-3 - np.where(charged, signed * ps.px / safe_pt, 0.0)
    return radius, signed, np.hypot(xc, yc)


def _calorimeter_hit(ps: _Particles, radius: np.ndarray, centre: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(eta, phi) of each particle's position on the calorimeter surface: the barrel, or the
    endcap for particles leaving through it and for curlers."""
    sol = card.CARD["solenoid"]
    big_r, half = sol["radius"], sol["half_length"]
    charged = ps.charge != 0
    sign = np.sign(ps.charge)
    safe_pt = np.where(ps.pt > 0, ps.pt, 1e-12)
    z0 = ps.vz * 1e-3
    reaches_barrel = ~charged | (centre + radius >= big_r)
    # barrel: transverse arc length to radius R (vertex offsets are mm against a 1.29 m radius)
    half_angle = np.arcsin(np.clip(big_r / (2 * np.where(charged, radius, 1.0)), 0.0, 1.0))
    s_barrel = np.where(charged, 2 * radius * half_angle, big_r)
    z_barrel = z0 + s_barrel * ps.pz / safe_pt
    phi_barrel = ps.phi - np.where(charged, sign * half_angle, 0.0)
    # endcap: transverse arc length to |z| = half length
    safe_pz = np.where(ps.pz != 0, ps.pz, 1e-12)
    s_end = (np.sign(safe_pz) * half - z0) * ps.pt / safe_pz
    turn = s_end / (2 * np.where(charged, radius, 1.0))
    r_end = np.where(charged, 2 * radius * np.abs(np.sin(turn)), s_end)
    phi_end = ps.phi - np.where(charged, sign * turn, 0.0)
    barrel = reaches_barrel & (np.abs(z_barrel) <= half)
    z = np.where(barrel, z_barrel, np.sign(safe_pz) * half)
    r = np.where(barrel, big_r, np.maximum(r_end, 1e-9))
    phi = np.where(barrel, phi_barrel, phi_end)
    return np.arcsinh(z / r), (phi + np.pi) % (2 * np.pi) - np.pi


def _eflow(calo: str, grid: card.TowerGrid, dep_event, dep_eta, dep_phi, dep_e, dep_pu,
           trk_index, trk_e, trk_sigma, event_key: np.ndarray):
    """Towers of one calorimeter and their particle flow.

    Returns the neutral candidates (event, E, eta, phi, IsPU: most of the tower's true energy
    from pile-up deposits ``dep_pu``) and one energy scale per track.
    ``trk_index`` points into the deposit arrays (each track's own deposit); ``event_key`` are the
    events' random keys (a tower's draws are keyed by its event and tower number).
    """
    tower, _, _ = grid.tower(dep_eta, dep_phi)
    keys = dep_event * grid.n_towers + tower
    uniq, inverse = np.unique(keys, return_inverse=True)
    e_true = np.bincount(inverse, weights=dep_e, minlength=len(uniq))
    e_pileup = np.bincount(inverse, weights=dep_e * dep_pu, minlength=len(uniq))
    tower_id = uniq % grid.n_towers
    ieta = np.searchsorted(grid.offset, tower_id, side="right") - 1
    iphi = tower_id - grid.offset[ieta]
    eta_c = grid.centre_eta(ieta)
    tower_key = event_key[uniq // grid.n_towers]
    e_meas = card.lognormal(normal(tower_key, tower_id, _TOWER_E[calo]), e_true,
                            card.energy_resolution(calo, e_true, eta_c))
    sigma = card.energy_resolution(calo, e_meas, eta_c)
    e_min, sig_min = card.CARD["thresholds"][calo]
    passed = (e_meas > e_min) & (e_meas > sig_min * sigma)
    e_meas = np.where(passed, e_meas, 0.0)

    itrk = inverse[trk_index]
    e_trk = np.bincount(itrk, weights=trk_e, minlength=len(uniq))
    var_trk = np.bincount(itrk, weights=trk_sigma ** 2, minlength=len(uniq))
    excess = e_meas - e_trk
    sig_total = np.sqrt(var_trk + sigma ** 2)
    neutral = passed & (excess > e_min) & (excess > sig_min * np.where(sig_total > 0, sig_total, 1))
    rescale = passed & (e_trk > 0) & ~neutral
    with np.errstate(divide="ignore", invalid="ignore"):
        best = (e_trk / var_trk + e_meas / sigma ** 2) / (1 / var_trk + 1 / sigma ** 2)
        tower_scale = np.where(rescale, best / e_trk, 1.0)
    eta, phi = grid.random_position(
        ieta[neutral], iphi[neutral], uniform(tower_key[neutral], tower_id[neutral], _TOWER_ETA[calo]),
        uniform(tower_key[neutral], tower_id[neutral], _TOWER_PHI[calo]))
    is_pu = (2 * e_pileup[neutral] > e_true[neutral]).astype(np.int8)
    return (uniq[neutral] // grid.n_towers, excess[neutral], eta, phi, is_pu), tower_scale[itrk]


@register_detector("embedded")
class EmbeddedDetector:
    """Parametric CMS-like particle flow (numbers in :mod:`resim.detector.card`)."""

    def __init__(self, section: dict | None = None):
        self.section = dict(section or {})
        self.impact_parameters = self.section.get("impact_parameters", "cms")
        if self.impact_parameters not in card.IMPACT_PARAMETER_MODES:
            raise ConfigError(f"detector.impact_parameters: {self.impact_parameters!r} is not one "
                              f"of {', '.join(card.IMPACT_PARAMETER_MODES)}")

    def simulate(self, batch: ViewBatch, seed: int, workdir: Path | None = None) -> ak.Array:
        """Particle-flow candidates (n_events x var x CANDIDATE_FIELDS) of one view batch."""
        ps = _Particles(batch.particles)
        keys = event_keys(seed, batch.event_id & 0xFFFFFFFF)
        key = keys[ps.event]
        n_events = len(ps.counts)
        sol = card.CARD["solenoid"]
        inside = (np.hypot(ps.vx, ps.vy) < sol["radius"] * 1e3) & \
            (np.abs(ps.vz) < sol["half_length"] * 1e3)
        dark = (ps.abspid >= _HIDDEN_VALLEY[0]) & (ps.abspid <= _HIDDEN_VALLEY[1])
        visible = inside & ~np.isin(ps.abspid, _NEUTRINOS) & ~dark & (ps.pt > 0)
        charged = visible & (ps.charge != 0)
        radius, signed, centre = _helix(ps, sol["bz"])
        hit_eta, hit_phi = _calorimeter_hit(ps, radius, centre)

        # tracking: the card's formulas at the calorimeter-surface position, as Delphes
        eff = card.tracking_efficiency(ps.abspid, ps.pt, hit_eta)
        tracked = charged & (uniform(key, ps.index, _TRACK) < eff)
        res = card.momentum_resolution(ps.abspid, ps.pt, hit_eta)
        t = np.flatnonzero(tracked)
        pt_s = card.lognormal(normal(key[t], ps.index[t], _PT), ps.pt[t], res[t] * ps.pt[t])
        scale = pt_s / ps.pt[t]
        e_trk = np.sqrt(ps.p2[t] * scale ** 2 + ps.m2[t])
        d0, dz = self._impact_parameters(ps, t, signed[t], centre[t], pt_s, key[t])
        identified = uniform(key[t], ps.index[t], _ID) < card.identification_efficiency(
            ps.abspid[t], ps.pt[t], ps.eta[t])
        lepton = np.isin(ps.abspid[t], (11, 13))
        pid_out = np.where(lepton & ~identified, 211 * np.sign(ps.charge[t]).astype(np.int64),
                           ps.pid[t])

        # calorimeters and particle flow
        deposits = visible & (np.abs(hit_eta) < card.CARD["calorimeter_eta_max"])
        f_ecal, f_hcal = card.energy_fractions(ps.abspid)
        track_scale = np.ones(len(t))
        neutrals = []
        for calo, grid, frac, pid in (("ecal", card.ECAL_GRID, f_ecal, 22),
                                      ("hcal", card.HCAL_GRID, f_hcal, 0)):
            dep = np.flatnonzero(deposits & (frac > 0))
            in_calo = np.isin(t, dep)  # tracks whose particle deposits in this calorimeter
            trk_e = e_trk[in_calo] * frac[t[in_calo]]
            (ev, e, eta, phi, is_pu), scales = _eflow(
                calo, grid, ps.event[dep], hit_eta[dep], hit_phi[dep],
                ps.E[dep] * frac[dep], ps.pileup[dep], np.searchsorted(dep, t[in_calo]), trk_e,
                res[t[in_calo]] * trk_e, keys)
            track_scale[in_calo] *= scales
            neutrals.append((ev, e, eta, phi, is_pu, pid))

        columns = {
            "event": [ps.event[t]], "PT": [pt_s * track_scale], "Eta": [ps.eta[t]],
            "Phi": [ps.phi[t]], "E": [e_trk * track_scale], "Charge": [ps.charge[t]],
            "PID": [pid_out], "D0": [d0], "DZ": [dz], "IsPU": [ps.pileup[t]]}
        for ev, e, eta, phi, is_pu, pid in neutrals:
            zeros = np.zeros(len(ev))
            for name, value in (("event", ev), ("PT", e / np.cosh(eta)), ("Eta", eta),
                                ("Phi", phi), ("E", e), ("Charge", zeros),
                                ("PID", np.full(len(ev), pid)), ("D0", zeros), ("DZ", zeros),
                                ("IsPU", is_pu)):
                columns[name].append(value)
        return _to_events({k: np.concatenate(v) for k, v in columns.items()}, n_events)

    def _impact_parameters(self, ps: _Particles, t: np.ndarray, signed: np.ndarray,
                           centre: np.ndarray, pt_s: np.ndarray, key: np.ndarray):
        """D0, DZ (mm) at the helix's point of closest approach to the beam line, smeared with
        the resolution of the ``impact_parameters`` mode."""
        d0 = np.sign(signed) * (centre - np.abs(signed)) * 1e3
        pt = ps.pt[t]
        dz = ps.vz[t] - (ps.vx[t] * ps.px[t] + ps.vy[t] * ps.py[t]) / pt * ps.pz[t] / pt
        mode = self.impact_parameters
        d0 = d0 + normal(key, ps.index[t], _D0) * card.impact_parameter_resolution("d0", pt_s, mode)
        dz = dz + normal(key, ps.index[t], _DZ) * card.impact_parameter_resolution("dz", pt_s, mode)
        return d0, dz


def _to_events(columns: dict[str, np.ndarray], n_events: int) -> ak.Array:
    order = np.argsort(columns["event"], kind="stable")
    counts = np.bincount(columns["event"].astype(np.int64), minlength=n_events)
    fields = {}
    for name in CANDIDATE_FIELDS:
        dtype = np.int32 if name in ("Charge", "PID") else np.float64
        fields[name] = columns[name][order].astype(dtype)
    fields["IsPU"] = columns["IsPU"][order].astype(np.int8)  # CANDIDATE_TRUTH_FIELDS
    return ak.unflatten(ak.zip(fields), counts)
