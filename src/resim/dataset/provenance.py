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


def detector_record(config: dict) -> dict:
    """The ``detector`` section as the files record it. With Delphes as the detector, D0/DZ are
    Delphes' own (the helix's, unsmeared: the embedded detector's ``delphes`` mode), whatever
    ``impact_parameters`` the section holds for the embedded detector that did not run."""
    section = dict(config.get("detector") or {})
    if section.get("backend") == "delphes":
        section["impact_parameters"] = "delphes"
    return section


def hard_record(config: dict, sample: str, lhe: str | Path | None) -> dict:
    """Who made the hard events: the sample's backend and its versions, from the statistics
    ``resim hard`` wrote beside the LHE file, else from the file's ``<generator>`` tag."""
    import json
    import re

    from ..hard import stats_path

    record = {"backend": (config["samples"].get(sample) or {}).get("backend", "embedded"),
              "versions": {}}
    if lhe is None:
        return record
    stats = stats_path(lhe)
    if stats.is_file():
        try:
            record["versions"] = json.loads(stats.read_text()).get("versions") or {}
        except (OSError, ValueError):
            pass
    if not record["versions"]:
        from ..lhe import _open_text

        with _open_text(Path(lhe)) as handle:
            head = handle.read(1 << 16)
        tag = re.search(r"<generator name=['\"]([^'\"]+)['\"] version=['\"]([^'\"]+)", head)
        if tag:
            record["versions"] = {tag.group(1): tag.group(2)}
    return record


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


def require_job_config(path: str | Path, attrs: dict, config: dict, sample: str) -> None:
    """A file made by the job's ``config`` in every section that shapes its jets (a view file
    for ``resim pair``), else a DatasetError naming the sections and both configs."""
    from ..config import config_hash, section_digests

    mine, theirs = config_hash(config), attrs.get("config_hash")
    recorded = attrs.get("config_sections")
    if recorded is None:  # written before files recorded their sections: the whole config
        differ, where = theirs != mine, ""
    else:
        sections = [s for s, d in section_digests(config, sample).items() if recorded.get(s) != d]
        differ, where = bool(sections), f" in {', '.join(sections)}"
    if differ:
        raise DatasetError(f"{path}: made with config {theirs}, but this job's config is {mine} "
                           f"and differs{where}: simulate again with this config, or pair with "
                           f"the one that made the file")


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
