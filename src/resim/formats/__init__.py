"""The field's dataset layouts (JetClass ROOT, the RS3L authors' HDF5): names, types and the
conversions to and from the project's jet arrays, shared by the exporters and the readers."""

from __future__ import annotations

import numpy as np

from .. import observables
from ..contracts import CONSTITUENT_FIELDS, JET_FIELDS


def jet_table(pt, eta, phi, energy, n_all, mass=None, n2=None) -> np.ndarray:
    """(m, 7) jets in ``JET_FIELDS`` order from a foreign layout's jet kinematics.

    The layouts lack some of the project's jet fields: the mass, when not given, comes from
    (pt, η, E); N2, when not given, is NaN here: :func:`fill_n2` computes it when a reader is
    asked for it (it costs more than everything else a batch needs).
    """
    pt, eta, energy = (np.asarray(x, dtype=np.float64) for x in (pt, eta, energy))
    if mass is None:
        mass = np.sqrt(np.maximum(energy ** 2 - (pt * np.cosh(eta)) ** 2, 0.0))
    if n2 is None:
        n2 = np.full(len(pt), np.nan)
    jet = {"pt": pt, "eta": eta, "phi": phi, "mass": mass, "E": energy, "n_constituents": n_all,
           "n2": n2}
    return np.stack([np.asarray(jet[k], dtype=np.float64) for k in JET_FIELDS],
                    axis=-1).astype(np.float32)


def fill_n2(constituents: np.ndarray, n_constituents: np.ndarray, jet: np.ndarray) -> None:
    """Set the NaN N2 (β = 1) entries of ``jet`` in place from the constituents, as the dataset
    writer computes N2."""
    todo = np.flatnonzero(np.isnan(jet[:, JET_FIELDS.index("n2")]))
    if todo.size:
        c = {k: constituents[todo, :, i] for i, k in enumerate(CONSTITUENT_FIELDS)}
        jet[todo, JET_FIELDS.index("n2")] = observables.n2(c["PT"], c["Eta"], c["Phi"],
                                                            n_constituents[todo])
