"""resim: the re-simulation chain, one sub-command per stage (hard scatter to paired HDF5)."""

from __future__ import annotations

import argparse
import sys

from . import cliutil

#: Modules that register sub-commands, in the order of the chain.
COMMAND_MODULES = (
    "resim.hard.cli",      # resim hard: hard-scatter events -> LHE
    "resim.forks.cli",     # resim views: LHE -> views (particle arrays, HepMC3)
    "resim.pileup.cli",    # resim pileup-pool: minimum-bias events for the pile-up overlay
    "resim.dataset.cli",   # resim simulate / pair / merge / plots / inspect
    "resim.export.cli",    # resim export: JetClass ROOT, the RS3L training layout
    "resim.backends.cli",  # resim check-backends: external programs the config selects
)


def build_parser() -> argparse.ArgumentParser:
    return cliutil.build_parser("resim", __doc__.splitlines()[0], COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    return cliutil.run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
