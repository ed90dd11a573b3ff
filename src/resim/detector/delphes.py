"""Delphes as the detector: HepMC3 in, ``ParticleFlowCandidate`` out, read back with uproot.

Per batch: the view's particles are written as HepMC3 (``resim.hepmc.write_hepmc3``), Delphes
runs with a card derived from its stock CMS card (``delphes_card_CMS.tcl``) that adds
``set RandomSeed <seed>`` (deterministic smearing) and a ``ParticleFlowCandidate`` branch
(the stock card writes only the EFlow pieces), and the branch is read into
``resim.events.CANDIDATE_FIELDS`` arrays, the same the embedded detector returns.

Card and command builders are pure functions; :class:`DelphesDetector` runs them.
The stock card is looked up in ``$DELPHES_CARDS``, then beside the executable (a Makefile
build keeps ``cards/`` next to ``DelphesHepMC3``; conda-forge installs them in
``$PREFIX/cards``). ``detector.delphes.card`` names another card (a path, or a file in
those directories).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from ..backends import DELPHES
from ..errors import ConfigError, GeneratorError
from ..events import CANDIDATE_FIELDS, ViewBatch
from ..hepmc import write_hepmc3
from .registry import register_detector

log = logging.getLogger(__name__)

STOCK_CARD = "delphes_card_CMS.tcl"
TREE = "Delphes"
BRANCH = "ParticleFlowCandidate"
PFLOW_BRANCH_LINE = f"  add Branch EFlowMerger/eflow {BRANCH} {BRANCH}"
INTEGER_FIELDS = ("Charge", "PID")

_SEED_LINE = re.compile(r"^\s*set\s+RandomSeed\b.*$", re.MULTILINE)
_TREE_WRITER = re.compile(r"^module\s+TreeWriter\s+\S+\s*\{", re.MULTILINE)


def card_directories(executable: Path, environ: dict[str, str] | None = None) -> list[Path]:
    """Where stock cards may live, in search order."""
    environ = os.environ if environ is None else environ
    dirs = [Path(environ["DELPHES_CARDS"])] if environ.get("DELPHES_CARDS") else []
    bindir = executable.resolve().parent
    return dirs + [bindir / "cards", bindir.parent / "cards", bindir.parent / "share" / "delphes" / "cards"]


def find_card(name: str, executable: Path, environ: dict[str, str] | None = None) -> Path:
    """The card ``name``: a path to a file, or a file name in :func:`card_directories`."""
    if Path(name).is_file():
        return Path(name)
    searched = card_directories(executable, environ)
    for directory in searched:
        if (directory / name).is_file():
            return directory / name
    raise ConfigError(f"detector.delphes.card: Delphes card {name!r} not found (searched "
                      f"{', '.join(map(str, searched))}); set DELPHES_CARDS to the directory "
                      f"holding Delphes' cards")


def delphes_card(stock: str, seed: int, source: str = STOCK_CARD) -> str:
    """The stock card with ``set RandomSeed seed`` and a ParticleFlowCandidate branch.

    An existing ``RandomSeed`` line is replaced; the branch is added to the TreeWriter module
    unless the card already writes it.
    """
    if not 1 <= int(seed) < 2**31:
        raise ValueError(f"Delphes RandomSeed must be in [1, 2^31), got {seed}")
    writer = _TREE_WRITER.search(stock)
    if writer is None:
        raise ConfigError(f"Delphes card {source} has no TreeWriter module")
    text = stock
    if not re.search(rf"^\s*add\s+Branch\s+\S+\s+{BRANCH}\s+{BRANCH}\b", stock, re.MULTILINE):
        text = text[:writer.end()] + "\n" + PFLOW_BRANCH_LINE + text[writer.end():]
    text = _SEED_LINE.sub("", text)
    header = f"# {source} for resim: deterministic seed, ParticleFlowCandidate branch\n"
    return header + f"set RandomSeed {int(seed)}\n\n" + text


def delphes_command(executable: str | Path, card: str | Path, out_root: str | Path,
                    hepmc: str | Path) -> list[str]:
    """``DelphesHepMC3 card output.root input.hepmc3`` (Delphes refuses an existing output)."""
    return [str(executable), str(card), str(out_root), str(hepmc)]


def read_candidates(path: str | Path, n_events: int | None = None) -> ak.Array:
    """``ParticleFlowCandidate`` of a Delphes ROOT file as n_events x var x CANDIDATE_FIELDS.

    Works on Delphes' split TClonesArray layout (``ParticleFlowCandidate/ParticleFlowCandidate.PT``)
    and on flat branches of the same names. Charge and PID are int32, the rest float64 (as the
    embedded detector).
    """
    with uproot.open(path) as root_file:
        if TREE not in root_file:
            raise GeneratorError(f"{path}: no {TREE!r} tree (not a Delphes output?)")
        tree = root_file[TREE]
        names = [f"{BRANCH}.{field}" for field in CANDIDATE_FIELDS]
        missing = [name for name in names if name not in tree]
        if missing:
            raise GeneratorError(f"{path}: tree {TREE!r} lacks {missing}; the card must write "
                                 f"`{PFLOW_BRANCH_LINE.strip()}`")
        if n_events is not None and tree.num_entries != n_events:
            raise GeneratorError(f"{path}: Delphes wrote {tree.num_entries} events, {n_events} "
                                 f"went in")
        arrays = tree.arrays(names, how=dict)
    columns = {}
    for field, name in zip(CANDIDATE_FIELDS, names):
        dtype = np.int32 if field in INTEGER_FIELDS else np.float64
        columns[field] = ak.values_astype(arrays[name], dtype)
    return ak.zip(columns)


@register_detector("delphes")
class DelphesDetector:
    """Runs ``DelphesHepMC3`` on each batch; built from the ``detector`` config section."""

    def __init__(self, section: dict | None = None):
        options = (section or {}).get("delphes") or {}
        unknown = set(options) - {"card"}
        if unknown:
            raise ConfigError(f"detector.delphes: unknown keys {sorted(unknown)} (known: card)")
        self.card_name = options.get("card", STOCK_CARD)

    def simulate(self, batch: ViewBatch, seed: int, workdir: Path | None = None) -> ak.Array:
        """Particle-flow candidates (n_events x var x CANDIDATE_FIELDS) of one view batch."""
        executable = DELPHES.require("detector.backend")
        stock = find_card(self.card_name, executable)
        with tempfile.TemporaryDirectory(prefix=f"delphes-{batch.view}-", dir=workdir) as tmp:
            tmp = Path(tmp)
            hepmc, card, out_root = tmp / "in.hepmc3", tmp / "card.tcl", tmp / "out.root"
            write_hepmc3(batch, hepmc)  # with production vertices: Delphes computes D0/DZ
            card.write_text(delphes_card(stock.read_text(), seed, source=str(stock)))
            start = time.perf_counter()
            # Delphes prints a progress bar on stdout: keep it for the error message only.
            result = subprocess.run(delphes_command(executable, card, out_root, hepmc), cwd=tmp,
                                    capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if result.returncode != 0 or not out_root.is_file():
                tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
                raise GeneratorError(f"{executable} failed (exit {result.returncode}) on view "
                                     f"{batch.view!r} of {batch.sample} shard {batch.shard}:\n"
                                     + "\n".join(tail))
            log.debug("Delphes: %d events of view %s in %.2f s", len(batch), batch.view,
                      time.perf_counter() - start)
            return read_candidates(out_root, len(batch))
