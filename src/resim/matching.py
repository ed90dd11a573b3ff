"""Truth matching of jets to the hard objects of the LHE record, and their labels.

A jet matches a truth object when Delta R(jet, object) < R and, for a resonance, every decay
product is also within R of the jet (H -> bb, W/Z -> qq). Of several such jets the closest one
wins. Labels (``schema.LABELS``): light quarks and b (d, u, s, c, b) -> ``q``; gluons -> ``g``,
or ``g_bb`` / ``g_cc`` / ``g_qq`` when ``first_split`` is 5 / 4 / 1-3; H with two b daughters ->
``H_bb``; W or Z with two quark daughters -> ``W_qq`` / ``Z_qq``; tau -> ``tau``; a Hidden
Valley dark quark -> ``dark``. Other objects
(Z -> nunu, leptons, top) are not jet-like and are counted as ``ignored``.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from .contracts import LABEL_CODE, PARTON_FIELDS
from .features import wrap_phi
from .lhe import DARK_QUARKS

NOT_A_JET = -1


def _direction(px, py, pz):
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / np.where(pt > 0, pt, 1e-12)), np.arctan2(py, px)


def _column(array: ak.Array, name: str) -> np.ndarray:
    if name not in ak.fields(array):  # lists that are all empty carry no record type
        if ak.count(array, axis=None) == 0:
            return np.zeros(0)
        raise KeyError(f"truth records lack the field {name!r}")
    return np.asarray(ak.to_numpy(ak.flatten(array[name], axis=None)), dtype=np.float64)


class _FlatTruth:
    """The truth objects of a batch as flat numpy arrays (objects, and daughters per object)."""

    def __init__(self, truth: ak.Array):
        self.counts = ak.to_numpy(ak.num(truth, axis=1)).astype(np.int64)
        self.event = np.repeat(np.arange(len(self.counts)), self.counts)
        self.index = (np.arange(len(self.event)) - np.repeat(np.cumsum(self.counts) - self.counts,
                                                             self.counts)).astype(np.int16)
        for name in ("pid", "px", "py", "pz", "E", "first_split"):
            setattr(self, name, _column(truth, name))
        if "daughters" in ak.fields(truth):
            daughters = ak.flatten(truth.daughters, axis=1)
            self.n_daughters = ak.to_numpy(ak.num(daughters, axis=1)).astype(np.int64)
        else:  # every event without objects: no record type to read
            daughters, self.n_daughters = ak.Array([]), np.zeros(len(self.event), np.int64)
        self.d_object = np.repeat(np.arange(len(self.event)), self.n_daughters)
        self.d_pid = np.abs(_column(daughters, "pid"))
        self.d_px, self.d_py, self.d_pz = (_column(daughters, k) for k in ("px", "py", "pz"))

    def labels(self) -> np.ndarray:
        pid = np.abs(self.pid)
        n = len(pid)
        not_quark = np.bincount(self.d_object, weights=(self.d_pid < 1) | (self.d_pid > 5),
                                minlength=n)
        not_b = np.bincount(self.d_object, weights=self.d_pid != 5, minlength=n)
        two_quarks = (self.n_daughters == 2) & (not_quark == 0)
        two_b = (self.n_daughters == 2) & (not_b == 0)
        split = self.first_split
        gluon = np.select([split == 5, split == 4, (split >= 1) & (split <= 3)],
                          [LABEL_CODE["g_bb"], LABEL_CODE["g_cc"], LABEL_CODE["g_qq"]],
                          LABEL_CODE["g"])
        label = np.select(
            [(pid >= 1) & (pid <= 5), pid == 21, (pid == 25) & two_b,
             (pid == 24) & two_quarks, (pid == 23) & two_quarks, pid == 15,
             np.isin(pid, DARK_QUARKS)],
            [LABEL_CODE["q"], gluon, LABEL_CODE["H_bb"], LABEL_CODE["W_qq"], LABEL_CODE["Z_qq"],
             LABEL_CODE["tau"], LABEL_CODE["dark"]], NOT_A_JET)
        return label.astype(np.int8)


def truth_labels(truth: ak.Array) -> ak.Array:
    """Label code per truth object (n_events x var int8), NOT_A_JET for objects that are not."""
    flat = _FlatTruth(truth)
    return ak.unflatten(flat.labels(), flat.counts)


def _pairs(group_of_a: np.ndarray, offsets_b: np.ndarray, counts_b: np.ndarray):
    """All (a, b) with b in a's group: index arrays into a and into the flat b's."""
    n = counts_b[group_of_a]
    a = np.repeat(np.arange(len(group_of_a)), n)
    start = np.repeat(offsets_b[group_of_a] - (np.cumsum(n) - n), n)
    return a, start + np.arange(len(a))


def match(truth: ak.Array, jets: ak.Array, R: float) -> dict[str, np.ndarray]:
    """Match every jet-like truth object to its jet.

    Returns flat arrays over the jet-like objects, in event then truth order: ``event`` (batch
    row), ``truth_index`` (position in the event's truth list), ``label``, ``parton``
    (n, len(PARTON_FIELDS)) and ``jet`` (index into the event's jets, -1 when none matched);
    plus ``ignored``, the number of objects that are not jet-like.
    """
    t = _FlatTruth(truth)
    label = t.labels()
    pt, eta, phi = _direction(t.px, t.py, t.pz)
    _, d_eta, d_phi = _direction(t.d_px, t.d_py, t.d_pz)
    jet_counts = ak.to_numpy(ak.num(jets, axis=1)).astype(np.int64)
    jet_offsets = np.cumsum(jet_counts) - jet_counts
    jet_eta, jet_phi = _column(jets, "eta"), _column(jets, "phi")

    # every (object, jet of its event) pair, then every (pair, daughter of its object)
    obj, jet = _pairs(t.event, jet_offsets, jet_counts)
    dr = np.hypot(eta[obj] - jet_eta[jet], wrap_phi(phi[obj] - jet_phi[jet]))
    d_offsets = np.cumsum(t.n_daughters) - t.n_daughters
    pair, daughter = _pairs(obj, d_offsets, t.n_daughters)
    d_far = np.hypot(d_eta[daughter] - jet_eta[jet[pair]],
                     wrap_phi(d_phi[daughter] - jet_phi[jet[pair]])) >= R
    ok = (dr < R) & (np.bincount(pair, weights=d_far, minlength=len(obj)) == 0)
    best = np.full(len(label), -1, dtype=np.int64)
    order = np.lexsort((np.where(ok, dr, np.inf), obj))
    first = order[np.unique(obj[order], return_index=True)[1]]
    first = first[ok[first]]
    best[obj[first]] = jet[first] - jet_offsets[t.event[obj[first]]]

    keep = label != NOT_A_JET
    mass = np.sqrt(np.maximum(t.E ** 2 - t.px ** 2 - t.py ** 2 - t.pz ** 2, 0.0))
    parton = dict(zip(PARTON_FIELDS, (t.pid, pt, eta, phi, mass)))
    return {
        "event": t.event[keep],
        "truth_index": t.index[keep],
        "label": label[keep],
        "parton": np.stack([parton[k][keep] for k in PARTON_FIELDS], axis=1).astype(np.float32),
        "jet": best[keep],
        "ignored": int((~keep).sum()),
    }
