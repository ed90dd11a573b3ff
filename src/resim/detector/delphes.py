"""Delphes as the detector: HepMC3 in, ``ParticleFlowCandidate`` out, read back with uproot.

The view's particles are written as HepMC3 (``resim.hepmc.write_hepmc3``), Delphes runs with a
card derived from its stock CMS card (``delphes_card_CMS.tcl``) that adds ``set RandomSeed
<seed>`` (deterministic smearing) and a ``ParticleFlowCandidate`` branch (the stock card writes
only the EFlow pieces), and the branch is read into ``resim.contracts.CANDIDATE_FIELDS`` arrays,
the same the embedded detector returns.

Seeding: Delphes takes one seed per run (``RandomSeed``, 1 ... 2^31 - 1) and draws from it
event after event. So it runs once per fixed *block* of events: block = event index in the
shard // ``detector.delphes.block_events`` (default 100), seeded with
``resim.seeds.block_seed(detector stream seed, block, 2^31 - 1)``. An event's candidates then
depend on its block only, not on how the shard was batched, as long as a batch holds whole
blocks (``run.batch_size`` a multiple of ``block_events``, true of the defaults); a batch
holding part of a block gives its events other (equally valid) draws.

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
from ..contracts import CANDIDATE_FIELDS, ViewBatch
from ..hepmc import write_hepmc3
from ..seeds import block_seed
from .registry import register_detector

log = logging.getLogger(__name__)

STOCK_CARD = "delphes_card_CMS.tcl"
TREE = "Delphes"
BRANCH = "ParticleFlowCandidate"
PFLOW_BRANCH_LINE = f"  add Branch EFlowMerger/eflow {BRANCH} {BRANCH}"
INTEGER_FIELDS = ("Charge", "PID")
SEED_MAX = 2**31 - 1  # Delphes' RandomSeed is a 32-bit signed int; 0 means "from the clock"
OPTION_KEYS = ("card", "block_events")
DEFAULT_BLOCK_EVENTS = 100

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
    if not 1 <= int(seed) <= SEED_MAX:
        raise ValueError(f"Delphes RandomSeed must be in [1, 2^31 - 1], got {seed}")
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


def event_blocks(event_id: np.ndarray, block_events: int) -> list[tuple[int, np.ndarray]]:
    """(block number, positions in the batch) of each block of events the batch touches, in
    order; an event's index in its shard is the low 32 bits of its ``event_id``."""
    block = (np.asarray(event_id, dtype=np.int64) & 0xFFFFFFFF) // int(block_events)
    uniq, first = np.unique(block, return_index=True)
    return [(int(b), np.flatnonzero(block == b)) for b in uniq[np.argsort(first)]]


def no_candidates() -> ak.Array:
    """An empty batch of candidates with the reader's types."""
    fields = {f: np.zeros(0, np.int32 if f in INTEGER_FIELDS else np.float64)
              for f in CANDIDATE_FIELDS}
    return ak.unflatten(ak.zip(fields), np.zeros(0, dtype=np.int64))


def delphes_version(executable: Path) -> str:
    """Delphes' version: it has no option that prints it, so read what the installation keeps,
    the CHANGELOG of a Makefile build ("3.5.1:" first) or conda's package record."""
    bindir = executable.resolve().parent
    changelog = bindir / "CHANGELOG"
    if changelog.is_file():
        match = re.match(r"\s*([0-9][\w.]*):", changelog.read_text(errors="replace"))
        if match:
            return match.group(1)
    for record in sorted((bindir.parent / "conda-meta").glob("delphes-*.json")):
        return record.name.split("-")[1]
    return "unknown"


@register_detector("delphes")
class DelphesDetector:
    """Runs ``DelphesHepMC3`` once per block of events; built from the ``detector`` section."""

    def __init__(self, section: dict | None = None):
        options = (section or {}).get("delphes") or {}
        unknown = set(options) - set(OPTION_KEYS)
        if unknown:
            raise ConfigError(f"detector.delphes: unknown keys {sorted(unknown)} (known: "
                              f"{', '.join(OPTION_KEYS)})")
        self.card_name = options.get("card", STOCK_CARD)
        self.block_events = options.get("block_events", DEFAULT_BLOCK_EVENTS)
        if not isinstance(self.block_events, int) or self.block_events < 1:
            raise ConfigError(f"detector.delphes.block_events: {self.block_events!r} is not a "
                              f"positive integer")

    def simulate(self, batch: ViewBatch, seed: int, workdir: Path | None = None) -> ak.Array:
        """Particle-flow candidates (n_events x var x CANDIDATE_FIELDS) of one view batch;
        ``seed`` is the view's detector stream seed (any 64-bit integer)."""
        executable = DELPHES.require("detector.backend")
        stock = find_card(self.card_name, executable)
        parts, order = [], []
        for block, positions in event_blocks(batch.event_id, self.block_events):
            part = ViewBatch(batch.sample, batch.shard, batch.view, batch.event_id[positions],
                             batch.particles[positions], batch.truth[positions])
            parts.append(self._run(executable, stock, part, block_seed(seed, block, SEED_MAX),
                                   workdir))
            order.append(positions)
        if not parts:
            return no_candidates()
        # back to the batch's order (a batch need not list its blocks contiguously)
        return ak.concatenate(parts)[np.argsort(np.concatenate(order), kind="stable")]

    def _run(self, executable: Path, stock: Path, batch: ViewBatch, seed: int,
             workdir: Path | None) -> ak.Array:
        """One Delphes run over ``batch`` with ``RandomSeed = seed``."""
        # Absolute: Delphes runs inside the folder, so a relative path would resolve twice.
        workdir = None if workdir is None else Path(workdir).resolve()
        with tempfile.TemporaryDirectory(prefix=f"delphes-{batch.view}-", dir=workdir) as tmp:
            tmp = Path(tmp).resolve()
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
