"""Provenance of dataset files: the package versions each records (fixed content: no times,
no hosts), and the checks a stage makes on the files it is given (their kind, that they belong
to its job and together)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from ..errors import DatasetError


PACKAGES = ("resim", "pythia8mc", "fastjet", "awkward", "numpy", "h5py", "pyhepmc")


def versions(config: dict | None = None) -> dict[str, str]:
    """Package versions; with the run's ``config`` also what else shaped the contents: the
    proton PDF of its Pythia showers and the external detector's version (:func:`run_versions`)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out if config is None else {**out, **run_versions(config)}


def run_versions(config: dict) -> dict[str, str]:
    """``pythia8mc PDF``: the PDF the ``shower`` section gives every Pythia view (CP5's own,
    NNPDF3.1 NNLO, unless ``shower.settings`` says otherwise; a view's own ``PDF:pSet`` is in
    the file's view settings); ``Delphes``: its version when it is the detector; ``Herwig``,
    ``ThePEG``, ``LHAPDF``, ``Herwig PDF`` when a view runs Herwig."""
    from ..backends import DELPHES, HERWIG
    from ..detector.delphes import delphes_version
    from ..showers.herwig import herwig_provenance
    from ..hard.pythia import pdf_used
    from ..showers.pythia import view_settings

    out = {"pythia8mc PDF": pdf_used(view_settings(config, {}))}
    if (config.get("detector") or {}).get("backend") == DELPHES.name:
        out["Delphes"] = delphes_version(DELPHES.require("detector.backend"))
    herwig_views = [view for view, spec in (config.get("views") or {}).items()
                    if spec.get("backend") == HERWIG.name]
    if herwig_views:
        # Herwig, ThePEG and LHAPDF versions and Herwig's default PDF (a view's own `pdf` is
        # in the file's view settings)
        out.update(herwig_provenance(HERWIG.require(f"views.{herwig_views[0]}.backend")))
    return out


# What a dataset stage checks about the files it is given: their kind, and that they belong
# together. Each mismatch is one DatasetError naming both sides.

#: The HDF5 files resim writes: what each holds, and which commands read it.
KINDS = {
    "view-group": ("a view file written by resim simulate", "resim pair"),
    "paired": ("a paired file written by resim pair", "resim merge / inspect / plots and rs3l"),
    "merged": ("a merged file written by resim merge", "resim inspect / plots and rs3l"),
    "views": ("particle arrays written by resim views --out", "resim.forks.cli.read_array"),
}


def file_kind(attrs: dict) -> str:
    """The kind of a file (a key of KINDS) from its root attributes; "unknown" if not resim's."""
    if "kind" in attrs:
        return str(attrs["kind"])
    # paired files carry no kind attribute: their schema version tells them apart
    if "sources" in attrs:
        return "merged"
    if "schema_version" in attrs:
        return "paired"
    if set(attrs) == {"seeds"}:
        return "views"
    return "unknown"


def require_kind(path: str | Path, attrs: dict, wanted: tuple[str, ...], command: str) -> str:
    """The file's kind, if ``command`` reads it; else a DatasetError saying what the file is."""
    kind = file_kind(attrs)
    if kind not in wanted:
        what, read_by = KINDS.get(kind, ("not a file written by resim", None))
        by = f" (read by {read_by})" if read_by else ""
        raise DatasetError(f"{path}: {what}{by}; {command} reads {' or '.join(wanted)} files")
    return kind


def require_distinct(paths: list[str | Path]) -> None:
    """No file given twice (under two names, too)."""
    seen: dict[Path, str | Path] = {}
    for path in paths:
        real = Path(path).resolve()
        if real in seen:
            twice = f"{path}" if str(seen[real]) == str(path) else f"{path} (as {seen[real]})"
            raise DatasetError(f"{twice}: given twice")
        seen[real] = path


def require_job(path: str | Path, attrs: dict, sample: str, shard: int) -> None:
    """A file written for (sample, shard) = the job's: a view file for ``resim pair``."""
    made_for = (attrs.get("sample"), attrs.get("shard"))
    if made_for != (sample, int(shard)):
        raise DatasetError(f"{path}: holds sample {made_for[0]!r} shard {made_for[1]}, but this "
                           f"job is sample {sample!r} shard {int(shard)}")


def require_same_config(paths: list[str | Path], attrs: list[dict]) -> None:
    """Every file made with the same configuration (its ``config_hash``)."""
    for path, a in zip(paths[1:], attrs[1:]):
        if a.get("config_hash") != attrs[0].get("config_hash"):
            raise DatasetError(f"{path}: made with config {a.get('config_hash')}, but "
                               f"{paths[0]} with config {attrs[0].get('config_hash')}")


def require_one_each(paths: list[str | Path], attrs: list[dict]) -> None:
    """No (sample, shard) twice, as two copies of one shard would double its events."""
    first: dict[tuple, str | Path] = {}
    for path, a in zip(paths, attrs):
        key = (a.get("sample"), a.get("shard"))
        if key in first:
            raise DatasetError(f"{path}: sample {key[0]!r} shard {key[1]} is already in "
                               f"{first[key]}")
        first[key] = path
