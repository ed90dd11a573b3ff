"""``resim export --format rs3l``: paired HDF5 -> the RS3L authors' training layout.

Pair i becomes rows 2i (nominal) and 2i+1 (an augmentation): the augmentations take turns by
pair (pair i gets augmentation i mod V), so every view is equally represented and the choice is
reproducible. Files ``<name>_NNN.h5`` hold at most ``max_jets`` pairs; beside them
``<name>.card.yaml``. ``msd`` is the soft-drop mass (β = 0, z_cut = 0.1, R0 the jet radius:
:func:`resim.substructure.soft_drop_mass`), ``parton_features`` the matched truth object's
pt, η, φ, pid.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..contracts import JET_FIELDS, MAX_CONSTITUENTS, PARTON_FIELDS
from ..dataset.writer import create_file, set_attrs
from ..features import FEATURE_NAMES, particle_features
from ..errors import DatasetError
from ..formats import rs3l
from ..io import atomic_path
from ..substructure import soft_drop_mass
from .common import blocks, guard_outputs, jet_radius, open_inputs, write_card
from .jetclass import file_name

#: jet_features columns from JET_FIELDS; msd (not among them) is computed
_JET_COLUMNS = {k: JET_FIELDS.index(k) for k in rs3l.JET_FEATURES if k in JET_FIELDS}
_PARTON_COLUMNS = [PARTON_FIELDS.index(k) for k in rs3l.PARTON_FEATURES]


def export_rs3l(inputs: list[str | Path], out_dir: str | Path, *, name: str | None = None,
                max_jets: int = 100_000, config: dict | None = None) -> list[str]:
    """Write the paired ``inputs`` in the RS3L training layout; returns the files."""
    dataset = open_inputs(inputs)
    out_dir = Path(out_dir)
    name = name or Path(inputs[0]).stem
    augmentations = [v for v in dataset.views if v != "nominal"]
    if not augmentations:
        raise DatasetError(f"{inputs[0]}: holds the nominal view only; the RS3L layout pairs "
                           f"each nominal jet with an augmentation")
    n = len(dataset)
    starts = list(range(0, n, max_jets))
    paths = [out_dir / file_name(name, k).replace(".root", ".h5") for k in range(len(starts))]
    card = out_dir / f"{name}.card.yaml"
    guard_outputs([*paths, card], dataset.paths)
    codes = rs3l.vartype_codes(dataset.views)
    for path, start in zip(paths, starts):
        with atomic_path(path) as tmp, create_file(tmp) as f:
            set_attrs(f, {"label_names": dataset.label_names, "vartype": codes,
                          "jet_features": list(rs3l.JET_FEATURES),
                          "parton_features": list(rs3l.PARTON_FEATURES),
                          "feature_names": list(FEATURE_NAMES)})
            _write_rows(f, dataset, slice(start, min(start + max_jets, n)), augmentations, codes,
                        jet_radius(dataset))
    write_card(card, dataset, "rs3l", {"training": [p.name for p in paths]}, config=config,
               notes=["rows 2i nominal, 2i+1 augmentation i mod V of pair i",
                      f"jet_features msd: soft-drop mass (beta 0, z_cut 0.1, R0 "
                      f"{jet_radius(dataset)}) of the stored constituents",
                      f"vartype codes: {codes}"])
    return [str(p) for p in paths]


def _dataset(f: h5py.File, key: str, shape: tuple, dtype) -> h5py.Dataset:
    return f.create_dataset(key, shape=shape, dtype=dtype, chunks=(min(128, shape[0]), *shape[1:]),
                            compression="gzip", compression_opts=4, shuffle=True,
                            track_times=False)


def _write_rows(f: h5py.File, dataset, rows: slice, augmentations: list[str],
                codes: dict[str, int], radius: float) -> None:
    m = rows.stop - rows.start
    out = {"features": _dataset(f, "features", (2 * m, MAX_CONSTITUENTS, len(FEATURE_NAMES)),
                                np.float32),
           "jet_features": _dataset(f, "jet_features", (2 * m, 6), np.float32),
           "parton_features": _dataset(f, "parton_features", (2 * m, 4), np.float32),
           "truth_label": _dataset(f, "truth_label", (2 * m,), np.int32),
           "vartype": _dataset(f, "vartype", (2 * m,), np.int32),
           "jet_id": _dataset(f, "jet_id", (2 * m,), np.int64)}
    for block in blocks(rows.start, rows.stop):
        pair_rows = np.arange(block.start, block.stop)
        aug = pair_rows % len(augmentations)
        for slot, (view_of_row, views) in enumerate(((np.zeros_like(aug), ["nominal"]),
                                                     (aug, augmentations))):
            lo = 2 * (block.start - rows.start) + slot
            hi = 2 * (block.stop - rows.start)
            features = np.zeros((len(pair_rows), MAX_CONSTITUENTS, len(FEATURE_NAMES)), np.float32)
            jet = np.zeros((len(pair_rows), len(rs3l.JET_FEATURES)), np.float32)
            for v, view in enumerate(views):
                pick = np.flatnonzero(view_of_row == v)
                if pick.size:
                    jets = dataset.read(view, pair_rows[pick])
                    features[pick] = particle_features(jets.constituents, jets.n_constituents,
                                                       jets.jet)
                    for column, k in enumerate(rs3l.JET_FEATURES):
                        jet[pick, column] = jets.jet[:, _JET_COLUMNS[k]] if k in _JET_COLUMNS \
                            else soft_drop_mass(jets.constituents, jets.n_constituents, radius)
            vartype = np.array([codes[views[v]] for v in view_of_row], dtype=np.int32)
            out["features"][lo:hi:2] = features
            out["jet_features"][lo:hi:2] = jet
            out["parton_features"][lo:hi:2] = dataset.parton[block][:, _PARTON_COLUMNS]
            out["truth_label"][lo:hi:2] = dataset.labels[block]
            out["vartype"][lo:hi:2] = vartype
            out["jet_id"][lo:hi:2] = pair_rows
