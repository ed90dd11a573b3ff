"""Herwig 7 as the shower of a view: re-shower the hard events of an LHE file (RS3L's
out-of-domain augmentation), hadronise with its cluster model, read the HepMC3 back.

One run per (view, LHE file): :func:`herwig_input` writes the ``.in`` file (a
``LesHouchesFileReader`` on the LHE, a ``LesHouchesEventHandler`` with Herwig's shower,
hadronisation and decays, ISR off where the config says so, the seed, and a
``ThePEG::HepMCFile`` analysis writing HepMC3 in GeV and mm), then ``Herwig read`` /
``Herwig run -N n -s seed``. Builders are pure functions; :class:`HerwigShower` runs them.

Event identity: Herwig drops an event it cannot shower (a veto) and goes on with the next, so
counting output events would silently misalign views. The LHE given to Herwig is therefore a
copy with ``<event num> i </event num>`` in each event, which ThePEG reads when the handler
numbers events by the LHE (``EventNumbering LHE``); the HepMC3 event number is then the LHE
index, and a dropped event becomes an empty (failed) event counted in ``info["shower_failed"]``.
Herwig makes up for dropped events by re-opening the file: the HepMC3 output then ends with
repeats of the first events (numbers 1, 2, ... again), which are not part of the view.
"""

from __future__ import annotations

import functools
import gzip
import logging
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import pythia8mc

from ..backends import HERWIG
from ..errors import ConfigError, GeneratorError, LHEError
from ..contracts import PARTICLE_FIELDS, Branch, LHEBatch
from .registry import register_shower
from ..hepmc import iter_hepmc3
from ..seeds import SeedManifest
from .records import ChargeTable

log = logging.getLogger(__name__)

EVENT_NUMBER_TAG = "<event num> {} </event num>"


#: Herwig's proton PDFs (``/Herwig/Partons/...``): the hard process's, the shower's, MPI's and
#: the remnant's. Herwig 7.2's defaults name CT14lo for all four.
PDF_OBJECTS = ("HardLOPDF", "ShowerLOPDF", "MPIPDF", "RemnantPDF")


@dataclass(frozen=True)
class HerwigSettings:
    """What a view asks of Herwig: ISR and MPI switches, the proton PDF (an LHAPDF set name;
    None: Herwig's default) and raw repository commands."""

    isr: bool = False
    mpi: bool = True
    commands: tuple[str, ...] = ()
    pdf: str | None = None


def herwig_settings(view: str, shower: dict, settings: dict | list) -> HerwigSettings:
    """A view's Herwig settings from the shared ``shower`` section and its own ``settings``.

    ``isr`` and ``mpi`` are portable switches (the view's win over ``shower``); ``pdf`` names
    the LHAPDF set of all of Herwig's proton PDFs (:data:`PDF_OBJECTS`; Herwig's tune was made
    with its default, CT14lo); a key that is a Herwig repository path
    (``/Herwig/...:Interface``) becomes ``set <key> <value>``; a list holds repository commands
    verbatim. Pythia-only keys of ``shower`` (``tune``) do not apply: Herwig runs its default
    tune (as RS3L did).
    """
    merged = {k: shower[k] for k in ("isr", "mpi") if k in shower}
    commands = [str(line) for line in settings] if isinstance(settings, list) else []
    for key, value in (settings.items() if isinstance(settings, dict) else ()):
        if key in ("isr", "mpi", "pdf"):
            merged[key] = value
        elif key.startswith("/Herwig/") and ":" in key:
            commands.append(f"set {key} {value}")
        else:
            raise ConfigError(f"views.{view}.settings.{key}: not a Herwig setting (use isr, mpi, "
                              f"pdf or a repository path such as /Herwig/Shower/ShowerHandler:DoFSR)")
    return HerwigSettings(isr=bool(merged.get("isr", False)), mpi=bool(merged.get("mpi", True)),
                          commands=tuple(commands),
                          pdf=str(merged["pdf"]) if merged.get("pdf") else None)


def herwig_input(lhe: str | Path, hepmc: str | Path, run_name: str, nevents: int, seed: int,
                 settings: HerwigSettings) -> str:
    """The ``.in`` file: shower the events of ``lhe`` and write HepMC3 to ``hepmc``."""
    lines = [
        f"# resim: Herwig 7 re-showers the hard events of {lhe}",
        "cd /Herwig/EventHandlers",
        "library LesHouches.so",
        "create ThePEG::Cuts /Herwig/Cuts/NoCuts",
        "create ThePEG::LesHouchesFileReader LHEReader",
        f"set LHEReader:FileName {lhe}",
        # Herwig replaces a vetoed event with the next one of the file; at the end it reopens
        # the file for the missing ones. Those repeats come after the last event, numbered
        # from 1 again, and HerwigEvents stops reading there.
        "set LHEReader:AllowedToReOpen Yes",
        "set LHEReader:InitPDFs 0",
        "set LHEReader:Cuts /Herwig/Cuts/NoCuts",
        # Rounding in the LHE file would break momentum conservation in the shower.
        "set LHEReader:MomentumTreatment RescaleEnergy",
        "set LHEReader:PDFA /Herwig/Partons/HardLOPDF",
        "set LHEReader:PDFB /Herwig/Partons/HardLOPDF",
        "create ThePEG::LesHouchesEventHandler LHEHandler",
        "insert LHEHandler:LesHouchesReaders 0 LHEReader",
        # Varying weights: the handler then never skips events of the file at random.
        "set LHEHandler:WeightOption VarNegWeight",
        "set LHEHandler:EventNumbering LHE",
        "set LHEHandler:PartonExtractor /Herwig/Partons/PPExtractor",
        "set LHEHandler:CascadeHandler /Herwig/Shower/ShowerHandler",
        "set LHEHandler:HadronizationHandler /Herwig/Hadronization/ClusterHadHandler",
        "set LHEHandler:DecayHandler /Herwig/Decays/DecayHandler",
        "set /Herwig/Generators/EventGenerator:EventHandler /Herwig/EventHandlers/LHEHandler",
        # The shower starts at the scale of the hard event (SCALUP), as for Pythia.
        "set /Herwig/Shower/ShowerHandler:MaxPtIsMuF Yes",
        "set /Herwig/Shower/ShowerHandler:RestrictPhasespace Yes",
        # wide-angle radiation as Herwig's own LHE.in example treats it
        "set /Herwig/Shower/PartnerFinder:PartnerMethod Random",
        "set /Herwig/Shower/PartnerFinder:ScaleChoice Partner",
        f"set /Herwig/Shower/ShowerHandler:DoISR {'Yes' if settings.isr else 'No'}",
    ]
    if not settings.mpi:
        lines.append("set /Herwig/Shower/ShowerHandler:MPIHandler NULL")
    if settings.pdf:
        lines += [f"set /Herwig/Partons/{pdf}:PDFName {settings.pdf}" for pdf in PDF_OBJECTS]
    lines += [
        "cd /Herwig/Generators",
        f"set EventGenerator:NumberOfEvents {int(nevents)}",
        f"set EventGenerator:RandomNumberGenerator:Seed {int(seed)}",
        "set EventGenerator:PrintEvent 0",
        "set EventGenerator:MaxErrors 10000",
        "create ThePEG::HepMCFile HepMCFile HepMCAnalysis.so",
        # PrintEvent bounds the event *numbers* written; events are numbered 1..n by the LHE.
        f"set HepMCFile:PrintEvent {int(nevents)}",
        # HepMC2's ASCII (HepMC3's WriterAsciiHepMC2): the HepMC3 ASCII that HepMC3 3.1 writes
        # for ThePEG's events names particles before they are defined, which newer readers
        # (pyhepmc) refuse; resim.hepmc reads either format.
        "set HepMCFile:Format GenEvent",
        "set HepMCFile:Units GeV_mm",
        "set HepMCFile:AddHI Never",
        f"set HepMCFile:Filename {hepmc}",
        "insert EventGenerator:AnalysisHandlers 0 HepMCFile",
        *settings.commands,
        f"saverun {run_name} EventGenerator",
    ]
    return "\n".join(lines) + "\n"


def herwig_commands(executable: str | Path, in_file: str, run_name: str, nevents: int,
                    seed: int) -> list[list[str]]:
    """``Herwig read X.in`` then ``Herwig run X.run -N n -s seed`` (run in the .in's directory)."""
    return [[str(executable), "read", in_file],
            [str(executable), "run", f"{run_name}.run", "-N", str(int(nevents)), "-s", str(int(seed)),
             "-d", "0"]]


def number_lhe_events(source: str | Path, target: str | Path) -> int:
    """Copy an LHE file (gzip or plain), tagging event i (1-based) with ``<event num> i``.

    Returns the number of events. ThePEG's reader takes the tag as the event's number.
    MadGraph's merging records (``<mgrwt>`` and ``<clustering>`` blocks, ``<scales>`` lines)
    are left out: ThePEG turns them into weights named by their raw text (quotes, line breaks),
    which breaks the HepMC file it writes, and a re-shower without merging does not use them.
    """
    count, merging = 0, False
    try:
        with open(source, "rb") as raw:
            opener = gzip.open if raw.read(2) == b"\x1f\x8b" else open
        with opener(source, "rt") as src, open(target, "w") as dst:
            for line in src:
                tag = line.lstrip()
                if tag.startswith("</event>"):
                    count += 1
                    dst.write(EVENT_NUMBER_TAG.format(count) + "\n")
                merging = merging or tag.startswith(("<mgrwt", "<clustering"))
                if not merging and not tag.startswith("<scales"):
                    dst.write(line)
                merging = merging and not tag.startswith(("</mgrwt>", "</clustering>"))
    except (OSError, EOFError) as err:
        raise LHEError(f"{source}: cannot be read ({err}) after event {count}") from None
    return count


class HerwigEvents:
    """Herwig's HepMC3 output handed out in LHE order, streamed (one event in memory).

    Event numbers are 1-based LHE indices (see the module docstring); an index Herwig has no
    event for is a failed event with no particles.
    """

    def __init__(self, path: str | Path, charge: ChargeTable):
        self.path, self.charge = Path(path), charge
        self._events = iter_hepmc3(self.path)
        self._last = -1   # the last event number read from the file, minus one
        self._taken = -1  # the last LHE index handed out
        self._pending = self._advance()

    def _advance(self) -> tuple[int, dict[str, np.ndarray]] | None:
        event, columns = next(self._events, (None, None))
        if event is None:
            return None
        index = event.event_number - 1
        if index <= self._last:
            # A number at or below one already read: Herwig re-opened the LHE file to make up
            # for dropped events, and every event from here on repeats an earlier one.
            log.debug("%s: event %d after event %d: Herwig's refill, not read", self.path,
                      index + 1, self._last + 1)
            self._events.close()
            return None
        self._last = index
        return index, columns

    def take(self, indices: list[int]) -> tuple[ak.Array, np.ndarray]:
        """Particles (n x var x PARTICLE_FIELDS) of the LHE events ``indices`` and the mask of
        events Herwig did not deliver. Indices ascend from call to call; events between them
        are not needed (the cascade skips events an earlier view lost) and are passed over."""
        empty = {name: np.zeros(0) for name in PARTICLE_FIELDS if name != "charge"}
        chunks, failed = [], np.zeros(len(indices), dtype=bool)
        for k, index in enumerate(indices):
            if index <= self._taken:
                raise GeneratorError(f"{self.path}: LHE event {index + 1} asked for after event "
                                     f"{self._taken + 1}; Herwig's events are read once, in "
                                     f"LHE order")
            self._taken = index
            while self._pending is not None and self._pending[0] < index:
                self._pending = self._advance()
            if self._pending is not None and self._pending[0] == index:
                chunks.append(self._pending[1])
                self._pending = self._advance()
            else:
                failed[k] = True
                chunks.append(empty)
        counts = np.array([len(c["pid"]) for c in chunks], dtype=np.int64)
        columns = {name: np.concatenate([empty[name], *(c[name] for c in chunks)]).astype(np.float64)
                   for name in empty}
        columns["pid"] = columns["pid"].astype(np.int32)
        columns["charge"] = self.charge(columns["pid"])
        return ak.unflatten(ak.zip({name: columns[name] for name in PARTICLE_FIELDS}), counts), failed


@register_shower(HERWIG.name)
class HerwigShower:
    """Herwig 7 showering an LHE file with one view's settings and seed (a ``hard`` fork).

    ``open`` runs Herwig over the whole file; ``shower`` hands out its events batch by batch.
    Herwig stops after hadronisation here, so no ``shower``/``hadron`` fork can hang below it.
    """

    supports_partons = False

    def __init__(self, config: dict, view: str, spec: dict, manifest: SeedManifest,
                 keep_partons: bool = False):
        if keep_partons:
            raise ConfigError(f"views.{view}: Herwig views cannot be the parent of a shower or "
                              f"hadron fork (Herwig hands back hadron-level events only)")
        self.view = view
        self.executable = HERWIG.require(f"views.{view}.backend")
        self.settings = herwig_settings(view, config.get("shower") or {}, spec.get("settings") or {})
        self.seed = manifest.seed(view, "shower")
        self.charge = ChargeTable(pythia8mc.Pythia("", False).particleData)
        self._workdir: tempfile.TemporaryDirectory | None = None
        self._events: HerwigEvents | None = None
        self._info: dict = {}

    def open(self, lhe_path) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix=f"resim-herwig-{self.view}-")
        work = Path(self._workdir.name)
        nevents = number_lhe_events(lhe_path, work / "events.lhe")
        run_name, hepmc = "view", work / "events.hepmc3"
        (work / "view.in").write_text(
            herwig_input(work / "events.lhe", hepmc, run_name, nevents, self.seed, self.settings))
        start = time.perf_counter()
        for command in herwig_commands(self.executable, "view.in", run_name, nevents, self.seed):
            result = subprocess.run(command, cwd=work, capture_output=True, text=True,
                                    stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
                raise GeneratorError(f"views.{self.view}: `{' '.join(command[:2])}` failed "
                                     f"(exit {result.returncode}) on {lhe_path}:\n" + "\n".join(tail))
        if not hepmc.is_file():
            raise GeneratorError(f"views.{self.view}: Herwig wrote no HepMC3 output for {lhe_path}")
        log.info("Herwig: %d events of %s for view %s in %.1f s", nevents, lhe_path, self.view,
                 time.perf_counter() - start)
        self._events = HerwigEvents(hepmc, self.charge)
        provenance = herwig_provenance(self.executable)
        self._info = {"backend": HERWIG.name, "seed": self.seed, "isr": self.settings.isr,
                      "mpi": self.settings.mpi, "settings": list(self.settings.commands),
                      "pdf": self.settings.pdf or provenance["Herwig PDF"],
                      "versions": {k: v for k, v in provenance.items() if k != "Herwig PDF"}}

    def shower(self, batch: LHEBatch) -> Branch:
        if self._events is None:
            raise RuntimeError("HerwigShower.open() must come before shower()")
        particles, failed = self._events.take([event.index for event in batch.events])
        return Branch(particles, failed, info={**self._info, "shower_failed": int(failed.sum())})

    def close(self) -> None:
        self._events = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


def _run(command: list[str], cwd: str | Path | None = None) -> str:
    """stdout and stderr of a short Herwig command; GeneratorError naming it when it fails."""
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GeneratorError(f"`{' '.join(command)}`: {err}") from None
    output = result.stdout + result.stderr
    if result.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise GeneratorError(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{tail}")
    return output


def herwig_version(executable: str | Path) -> dict[str, str]:
    """``Herwig --version``: Herwig's and ThePEG's versions, e.g. {"Herwig": "7.2.3", "ThePEG":
    "2.2.3"} (a Mercurial build says "<node> (<branch>)" instead of a number)."""
    out = {}
    for line in _run([str(executable), "--version"]).strip().splitlines():
        name, _, version = line.strip().partition(" ")
        if name in ("Herwig", "ThePEG") and version:
            out[name] = version
    return out or {"Herwig": "unknown"}


def lhapdf_version(executable: str | Path) -> str:
    """The version of the LHAPDF installed with Herwig (``lhapdf-config`` beside it, else on
    PATH), "unknown" without one."""
    beside = Path(executable).resolve().parent / "lhapdf-config"
    config = str(beside) if beside.is_file() else shutil.which("lhapdf-config")
    if config is None:
        return "unknown"
    try:
        return _run([config, "--version"]).strip() or "unknown"
    except GeneratorError:
        return "unknown"


#: Herwig's smallest self-check of its own: load the default repository, print its proton PDF
#: names, and evaluate the hard process's PDF once (LHAPDF reads the set's grid): x f(x, Q^2)
#: of the 13 partons at x = 0.1, Q^2 = 10^4 GeV^2.
SELF_CHECK_IN = "".join(f"get /Herwig/Partons/{pdf}:PDFName\n" for pdf in PDF_OBJECTS) \
    + "do /Herwig/Partons/HardLOPDF:Test 0.1 10000 0\n"


@functools.lru_cache(maxsize=None)
def herwig_provenance(executable: str | Path) -> dict[str, str]:
    """Herwig's, ThePEG's and LHAPDF's versions and Herwig's default proton PDF, from
    ``Herwig --version`` and ``Herwig read`` of :data:`SELF_CHECK_IN` (GeneratorError when
    either fails or the PDF does not evaluate to positive values)."""
    out = herwig_version(executable)
    out["LHAPDF"] = lhapdf_version(executable)
    with tempfile.TemporaryDirectory(prefix="resim-herwig-check-") as work:
        (Path(work) / "check.in").write_text(SELF_CHECK_IN)
        lines = _run([str(executable), "read", "check.in"], cwd=work).strip().splitlines()
    names = [line.strip() for line in lines if re.fullmatch(r"[A-Za-z][\w.+-]*", line.strip())]
    values = [line.split() for line in lines if len(line.split()) == 13]
    try:
        gluon = float(values[-1][0])  # ThePEG's Test prints LHAPDF ids 0..12; 0 is the gluon
    except (IndexError, ValueError):
        gluon = float("nan")
    if len(names) < len(PDF_OBJECTS) or not gluon > 0:
        raise GeneratorError(f"`{executable} read` of Herwig's PDF self-check gave no PDF names "
                             f"or no positive gluon density:\n" + "\n".join(lines[-15:]))
    pdfs = sorted(set(names[-len(PDF_OBJECTS):]))
    out["Herwig PDF"] = pdfs[0] if len(pdfs) == 1 else ", ".join(
        f"{obj}={name}" for obj, name in zip(PDF_OBJECTS, names[-len(PDF_OBJECTS):]))
    return out
