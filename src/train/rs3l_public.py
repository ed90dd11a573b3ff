"""Read the RS3L authors' public dataset (Zenodo 10.5281/zenodo.10633814) as paired data.

Each file holds ``singletons`` (N, 5, F) and ``jet_pflow_cands`` (N, 5, ≥ 11, Ncst); axis 1 is
the view: nominal, seed, fsr_down (×1/√2), fsr_up (×√2), herwig, the project's view names
(:data:`resim.formats.rs3l.PUBLIC_VIEWS`), so contrastive pre-training pairs them as it pairs
its own views. Columns are read as :mod:`resim.formats.rs3l` documents (the particle columns
are features already: log pT, log E, coordinates relative to the jet, tanh of the impact
parameters; they are turned back into the project's constituents); the label is the jet type
code (``jettype_<k>``). A file that does not match says which dataset and axis differ.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from resim.contracts import CONSTITUENT_FIELDS, MAX_CONSTITUENTS
from resim.dataset.reader import Jets, open_h5
from resim.errors import DatasetError
from resim.features import wrap_phi
from resim.formats import jet_table
from resim.formats import rs3l

from .foreign import CHUNK, ForeignJets


def _check(path: Path, f: h5py.File) -> int:
    """The file's number of jets, or a DatasetError naming what differs from the layout."""
    missing = [k for k in (rs3l.PUBLIC_SINGLETONS, rs3l.PUBLIC_CANDIDATES) if k not in f]
    if missing:
        raise DatasetError(f"{path}: lacks {missing} of the RS3L public layout (datasets: "
                           f"{sorted(f)})")
    views = len(rs3l.PUBLIC_VIEWS)
    single, cands = f[rs3l.PUBLIC_SINGLETONS].shape, f[rs3l.PUBLIC_CANDIDATES].shape
    if len(single) != 3 or single[1] != views or single[2] < rs3l.PUBLIC_MIN_SINGLETONS:
        raise DatasetError(f"{path}: singletons has shape {single}, the layout's is (N, {views}, "
                           f"F ≥ {rs3l.PUBLIC_MIN_SINGLETONS}) with the views on axis 1")
    if len(cands) != 4 or cands[1] != views or cands[2] < rs3l.PUBLIC_MIN_FEATURES:
        raise DatasetError(f"{path}: jet_pflow_cands has shape {cands}, the layout's is (N, "
                           f"{views}, ≥ {rs3l.PUBLIC_MIN_FEATURES}, Ncst) with the views on "
                           f"axis 1")
    if single[0] != cands[0]:
        raise DatasetError(f"{path}: singletons has {single[0]} jets, jet_pflow_cands {cands[0]}")
    return single[0]


class RS3LPublicDataset(ForeignJets):
    """The RS3L public files as one table of jets in five views (see the module)."""

    format = "rs3l-public"

    def __init__(self, paths: list[str | Path], *, max_particles: int | None = None,
                 chunk: int = CHUNK):
        paths = [Path(p) for p in paths]
        labels = []
        for path in paths:
            with open_h5(path) as f:
                _check(path, f)
                labels.append(f[rs3l.PUBLIC_SINGLETONS][:, 0, rs3l.PUBLIC_LABEL_COLUMN]
                              .astype(np.int64))
        top = int(max((x.max(initial=0) for x in labels), default=0))
        names = [f"jettype_{k}" for k in range(top + 1)]
        super().__init__(paths, list(rs3l.PUBLIC_VIEWS), names, labels,
                         [np.zeros((len(x), 5), np.float32) for x in labels],
                         max_particles=max_particles or MAX_CONSTITUENTS, chunk=chunk)
        self._open: dict = {}

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_open"] = {}
        return state

    def _load(self, k: int, view: str, lo: int, hi: int) -> Jets:
        key = (os.getpid(), k)
        if key not in self._open:
            self._open[key] = open_h5(self.paths[k])
        f, v = self._open[key], rs3l.PUBLIC_VIEWS.index(view)
        single = f[rs3l.PUBLIC_SINGLETONS][lo:hi, v].astype(np.float64)
        jet_pt, jet_eta, jet_phi, jet_e = (single[:, rs3l.PUBLIC_JET_COLUMNS[k]]
                                           for k in ("pt", "eta", "phi", "E"))
        cands = f[rs3l.PUBLIC_CANDIDATES][lo:hi, v, :, :].transpose(0, 2, 1).astype(np.float64)
        fields = _constituent_fields(cands, jet_eta[:, None], jet_phi[:, None])
        order = np.argsort(-fields["PT"], axis=1, kind="stable")[:, :self.max_particles]
        n_all = (fields["PT"] > 0).sum(1)
        n = np.minimum(n_all, self.max_particles)
        constituents = np.zeros((hi - lo, self.max_particles, len(CONSTITUENT_FIELDS)), np.float32)
        for i, name in enumerate(CONSTITUENT_FIELDS):  # pT-ordered, as the project stores them
            constituents[:, :order.shape[1], i] = np.take_along_axis(fields[name], order, axis=1)
        constituents[np.arange(self.max_particles)[None, :] >= n[:, None]] = 0.0
        return Jets(constituents, n.astype(np.int16), jet_table(jet_pt, jet_eta, jet_phi, jet_e,
                                                                n_all))


def _constituent_fields(cands: np.ndarray, jet_eta: np.ndarray, jet_phi: np.ndarray) -> dict:
    """The project's constituent fields from the public layout's (m, Ncst, F) candidate
    features (:data:`resim.formats.rs3l.PUBLIC_CANDIDATE_COLUMNS`: logarithms, coordinates
    relative to the jet, tanh of the impact parameters); PT 0 on padding."""
    col = {k: cands[..., i] for k, i in rs3l.PUBLIC_CANDIDATE_COLUMNS.items()}
    real = (col["log_pt"] != 0) | (col["log_e"] != 0)
    # tanh d0 of ±1 (float32 saturates beyond |d0| ≈ 9) stays finite: tanh gives it back
    edge = np.nextafter(np.float32(1), np.float32(0))

    def untanh(x):
        return np.arctanh(np.clip(x, -edge, edge))

    fields = {"PT": np.exp(col["log_pt"]), "Eta": jet_eta + col["deta"],
              "Phi": wrap_phi(jet_phi + col["dphi"]), "E": np.exp(col["log_e"]),
              "Charge": col["charge"], "PID": col["pdgid"], "D0": untanh(col["tanh_d0"]),
              "DZ": untanh(col["tanh_dz"])}
    return {k: np.where(real, v, 0.0) for k, v in fields.items()}
