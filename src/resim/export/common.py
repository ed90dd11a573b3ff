"""What every export shares: opening the paired inputs, guarding them from being overwritten,
the detector's impact-parameter errors and the dataset card written beside the files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import yaml

from ..dataset.reader import PairedDataset
from ..dataset.provenance import require_distinct, versions
from ..detector.card import impact_parameter_resolution
from ..errors import DatasetError, OutputError
from ..io import atomic_write_text

#: Rows converted at a time: memory is bounded by this, not by the file.
BLOCK_ROWS = 10_000

#: How to cite what the exported data rests on (the seeds of ../shared/seeds, SEEDS-DIGEST.md).
CITATIONS = (
    "P. Harris, M. Kagan, J. Krupa, B. Maier, N. Woodward, Re-Simulation-based Self-Supervised "
    "Learning for Pre-Training Physics Foundation Models, Phys. Rev. D 111, 032010 (2025) "
    "(RS3L; the re-simulated views and their training layout)",
    "RS3L dataset, Zenodo, doi:10.5281/zenodo.10633815",
    "H. Qu, C. Li, S. Qian, Particle Transformer for Jet Tagging, ICML 2022, arXiv:2202.03772 "
    "(the JetClass layout and weaver data config)",
    "M. Rieck et al., Self-Supervised Learning Strategies for Jet Physics (2025) "
    "(shared-shower re-hadronisation)",
    "T. Golling et al., Masked Particle Modeling on Sets: Towards Self-Supervised HEP "
    "Foundation Models (MPM)",
)


def open_inputs(paths: list[str | Path]) -> PairedDataset:
    """The paired (or merged) inputs as one table; refuses a file given twice."""
    if not paths:
        raise DatasetError("export needs at least one paired file")
    require_distinct(paths)
    dataset = PairedDataset(list(paths))
    if len(dataset) == 0:
        raise DatasetError(f"{paths[0]}: no pairs to export")
    return dataset


def guard_outputs(outputs: list[Path], inputs: list[Path]) -> None:
    """No output may be (or replace) an input, under any name."""
    real = {Path(p).resolve(): p for p in inputs}
    for out in outputs:
        if out.resolve() in real:
            raise OutputError(f"{out}: would replace the input {real[out.resolve()]}; "
                              f"choose another --out")


def ip_sigma(dataset: PairedDataset):
    """σ(d0), σ(dz) in mm of the detector that made the files (their ``detector`` attribute):
    the embedded detector's resolution in its ``impact_parameters`` mode (``delphes``: 0)."""
    mode = (dataset.attrs.get("detector") or {}).get("impact_parameters", "cms")

    def sigma(which: str, pt: np.ndarray) -> np.ndarray:
        return impact_parameter_resolution(which, pt, mode)

    sigma.mode = mode
    return sigma


def jet_radius(dataset: PairedDataset) -> float:
    """The anti-kt radius that made the jets (the files' ``jets`` attribute), for soft drop's
    R0 and the N-subjettiness normalisation."""
    from ..dataset.simulate import jets_config

    return float(jets_config({"jets": dataset.attrs.get("jets")})["R"])


def blocks(start: int, stop: int, size: int = BLOCK_ROWS) -> Iterator[slice]:
    for lo in range(start, stop, size):
        yield slice(lo, min(lo + size, stop))


def write_card(path: Path, dataset: PairedDataset, fmt: str, files: dict, *,
               config: dict | None, notes: list[str]) -> None:
    """The dataset card: what made the exported files (inputs, config hash and, with --config,
    the config, seeds, versions, cut-flows), what they hold, and whom to cite."""
    card = {
        "format": fmt,
        "exported_with": versions(),
        "inputs": [str(p) for p in dataset.paths],
        "pairs": len(dataset),
        "views": dataset.views,
        "label_counts": {name: int(c) for name, c in zip(
            dataset.label_names, np.bincount(dataset.labels, minlength=len(dataset.label_names)))
            if c},
        "files": files,
        "config_hash": [a.get("config_hash") for a in dataset.file_attrs],
        "seeds": [a.get("seeds") for a in dataset.file_attrs],
        "versions": dataset.attrs.get("versions"),
        "view_settings": dataset.attrs.get("view_settings"),
        "cutflow": [a.get("cutflow") for a in dataset.file_attrs],
        "notes": notes,
        "cite": list(CITATIONS),
    }
    if config is not None:
        card["config"] = config
    atomic_write_text(path, yaml.safe_dump(card, sort_keys=False, allow_unicode=True))

