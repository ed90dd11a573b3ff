"""Open any dataset the training reads, by what its files are: JetClass ROOT (``.root``), the
RS3L public HDF5 (``jet_pflow_cands`` / ``singletons``) or the project's paired HDF5; globs are
expanded. Apart from :mod:`train.foreign`, whose base class the foreign readers extend, so that
the readers never import their dispatcher.
"""

from __future__ import annotations

import glob
from pathlib import Path

import h5py

from resim.dataset.reader import PairedDataset
from resim.errors import DatasetError


def expand(paths: list[str | Path]) -> list[Path]:
    """Paths with globs expanded (sorted, each pattern must match); plain paths kept as given."""
    out = []
    for p in map(str, paths):
        if glob.has_magic(p):
            matched = sorted(glob.glob(p))
            if not matched:
                raise DatasetError(f"{p}: no file matches")
            out.extend(Path(m) for m in matched)
        else:
            out.append(Path(p))
    return out


def layout(path: Path) -> str:
    """``jetclass``, ``rs3l-public`` or ``paired``: which reader a file needs."""
    if path.suffix == ".root":
        return "jetclass"
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset file")
    if h5py.is_hdf5(path):
        with h5py.File(path) as f:
            if "jet_pflow_cands" in f or "singletons" in f:
                return "rs3l-public"
    return "paired"


def open_jets(paths: list[str | Path], **options):
    """The reader for ``paths`` (globs expanded): JetClass, RS3L public or paired HDF5; one
    layout for all of them."""
    files = expand(list(paths) if isinstance(paths, (list, tuple)) else [paths])
    kinds = {layout(p) for p in files}
    if len(kinds) > 1:
        raise DatasetError(f"{files[0]}: the files mix layouts ({', '.join(sorted(kinds))}); "
                           f"give one kind per split")
    kind = kinds.pop()
    if kind == "jetclass":
        from .jetclass import JetClassDataset  # uproot only when a JetClass file is read

        return JetClassDataset(files, **options)
    if kind == "rs3l-public":
        from .rs3l_public import RS3LPublicDataset

        return RS3LPublicDataset(files, **options)
    return PairedDataset(files)
