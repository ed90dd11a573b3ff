"""Package versions recorded in every dataset file (fixed content: no times, no hosts)."""

from __future__ import annotations

from importlib import metadata

PACKAGES = ("resim", "pythia8mc", "fastjet", "awkward", "numpy", "h5py", "pyhepmc")


def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out
