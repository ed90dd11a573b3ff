"""Jets from particle-flow candidates: anti-kt clustering (fastjet's awkward batch interface),
selection and the fixed-size constituent arrays of the dataset schema."""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from .contracts import CONSTITUENT_FIELDS, JET_FIELDS, MAX_CONSTITUENTS
from .observables import n2

#: Why a matched truth object yields no selected jet, in the order the cuts are applied.
#: Status 0 means selected.
STATUS = ("selected", "no_jet", "pt", "mass", "eta")
STATUS_CODE = {name: code for code, name in enumerate(STATUS)}

fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)  # no banner on stdout


def cluster(candidates: ak.Array, R: float, cluster_pt_min: float) -> tuple[ak.Array, ak.Array]:
    """Anti-kt jets (n_events x var x {pt, eta, phi, mass, E, px, py, pz}) above
    ``cluster_pt_min`` (``jets.cluster_pt_min``: the jets matching considers; the selection's
    ``jets.pt_min`` comes later) and their constituents' indices into each event's candidates
    (n_events x var x var)."""
    vectors = ak.zip({
        "px": candidates.PT * np.cos(candidates.Phi),
        "py": candidates.PT * np.sin(candidates.Phi),
        "pz": candidates.PT * np.sinh(candidates.Eta),
        "E": candidates.E}, depth_limit=2)
    sequence = fastjet.ClusterSequence(vectors, fastjet.JetDefinition(fastjet.antikt_algorithm, R))
    raw = sequence.inclusive_jets(cluster_pt_min)
    index = sequence.constituent_index(cluster_pt_min)
    pt = np.hypot(raw.px, raw.py)
    p = np.sqrt(pt ** 2 + raw.pz ** 2)
    jets = ak.zip({
        "pt": pt, "eta": np.arcsinh(raw.pz / pt), "phi": np.arctan2(raw.py, raw.px),
        "mass": np.sqrt(np.maximum(raw.E ** 2 - p ** 2, 0.0)), "E": raw.E,
        "px": raw.px, "py": raw.py, "pz": raw.pz})
    return jets, index


def selection_status(pt: np.ndarray, mass: np.ndarray, eta: np.ndarray, cfg: dict) -> np.ndarray:
    """STATUS code of each matched jet: the first cut it fails, 0 if it passes all."""
    status = np.zeros(len(pt), dtype=np.int8)
    for name, ok in (("eta", np.abs(eta) < cfg["eta_max"]), ("mass", mass > cfg["mass_min"]),
                     ("pt", pt > cfg["pt_min"])):  # reversed: the first failing cut wins
        status = np.where(ok, status, STATUS_CODE[name]).astype(np.int8)
    return status


def jet_arrays(candidates: ak.Array, jets: ak.Array, index: ak.Array, event: np.ndarray,
               jet: np.ndarray, max_constituents: int = MAX_CONSTITUENTS
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Schema arrays for the jets ``jets[event[i]][jet[i]]``.

    Returns constituents (m, MAX_CONSTITUENTS, 8) float32 (the ``max_constituents`` highest-pT
    candidates, zero-padded), n_constituents (m,) int16, jet (m, 7) float32 in JET_FIELDS
    order (``n_constituents`` in the jet row counts all constituents, N2 uses the stored ones)
    and the stored constituents' pile-up flags (m, MAX_CONSTITUENTS) int8 (0 where the
    candidates carry no ``IsPU``, e.g. a Delphes without it).
    """
    m = len(event)
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(jets, axis=1)))])
    flat_index = ak.flatten(index, axis=1)[offsets[event] + jet]
    cands = candidates[event][flat_index]
    cands = cands[ak.argsort(cands.PT, axis=1, ascending=False)]
    total = ak.to_numpy(ak.num(cands, axis=1)).astype(np.int64)
    kept = np.minimum(total, max_constituents)
    constituents = np.zeros((m, MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS)), dtype=np.float32)
    for k, name in enumerate(CONSTITUENT_FIELDS):
        if m:
            column = ak.pad_none(cands[name][:, :max_constituents], MAX_CONSTITUENTS, clip=True)
            constituents[:, :, k] = ak.to_numpy(ak.fill_none(column, 0.0))
    pileup = np.zeros((m, MAX_CONSTITUENTS), dtype=np.int8)
    if m and "IsPU" in ak.fields(cands):
        column = ak.pad_none(cands.IsPU[:, :max_constituents], MAX_CONSTITUENTS, clip=True)
        pileup[:] = ak.to_numpy(ak.fill_none(column, 0))
    flat_jets = ak.flatten(jets, axis=1)[offsets[event] + jet]
    values = {name: ak.to_numpy(flat_jets[name]) for name in ("pt", "eta", "phi", "mass", "E")}
    values["n_constituents"] = total
    values["n2"] = n2(constituents[:, :, 0], constituents[:, :, 1], constituents[:, :, 2], kept)
    jet_table = np.stack([np.asarray(values[name], dtype=np.float64) for name in JET_FIELDS],
                         axis=1).astype(np.float32) if m else np.zeros((0, len(JET_FIELDS)),
                                                                       np.float32)
    return constituents, kept.astype(np.int16), jet_table, pileup
