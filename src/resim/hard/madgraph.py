"""Hard scatter with MadGraph5_aMC@NLO (leading order), the generator of the RS3L datasets.

Cards drive one run: the *proc card* (model, process, output directory), the *run card*
settings (events, ``iseed``, beam energy, the pT/η window, PDF) given to ``launch`` as
``set run_card`` commands so that MadGraph checks each against its own run card, and, for a
process whose tagged object is a resonance (the Higgs of HZ), a *MadSpin card*: MadGraph
applies cuts to final-state particles only, so the resonance is produced undecayed, cut on
with ``pt_min_pdg``/``eta_max_pdg``, and decayed by MadSpin (spin correlations kept).
All cards are built by pure functions; :func:`generate_madgraph` runs them.

MadGraph's ``eta_max_pdg`` cuts the resonance's *rapidity*; |eta| >= |y|, so a massive boson
can pass at |eta| above the window (about 1 Higgs in 50 at pT 400-600 GeV, |y| < 0.1). For a
resonance window MadGraph is asked for ``ETA_OVERSAMPLE`` times the events and the first ones
whose resonance has |eta| < ``eta_max`` are kept (:func:`eta_filter`), as the embedded backend
cuts; the cross-section is scaled by that filter's efficiency. Jet windows (``etaj``) cut
massless partons, whose rapidity is their pseudorapidity.

MadGraph exits 0 even when a run fails, so success means: the log has none of its error
markers and ``Events/run_01[_decayed_1]/unweighted_events.lhe.gz`` exists and holds the
requested events. It runs offline: ``set auto_update 0``, the built-in PDF (``nn23lo1``) unless
the config names an LHAPDF set, ``use_syst False`` (systematics reweighting needs LHAPDF).
"""

from __future__ import annotations

import gzip
import logging
import math
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..backends import MADGRAPH, first_words, program_command, program_env
from ..checks import register_check
from ..errors import ConfigError, GeneratorError
from ..io import atomic_path, reproducible_gzip
from ..seeds import SeedManifest
from .registry import register_hard_backend

log = logging.getLogger(__name__)

RUN_NAME = "run_01"
#: Events asked of MadGraph per event kept when its rapidity cut must be tightened to |eta|.
ETA_OVERSAMPLE = 1.15
#: The seed manifest's view name for streams every view shares (the hard scatter).
HARD_VIEW = "hard"
SQRT_S = 13000.0  # GeV, as in RS3L
OPTION_KEYS = {"process", "decays", "cut_pdg", "model", "lhaid", "nb_core", "run_card"}

#: Lines of MadGraph's log that mean the run failed although the program exited 0.
ERROR_MARKERS = re.compile(
    r'interrupted with error|interrupted in sub-command|Error detected in|MadGraph5Error|'
    r'InvalidCmd|Zero result detected|return zero cross section|^\s*ERROR\b', re.MULTILINE)


@dataclass(frozen=True)
class Process:
    """A process in MadGraph's language.

    ``lines``: ``define``/``generate``/``add process`` lines (decay chains allowed: cuts then
    apply to the final-state partons). ``decays``: MadSpin ``decay`` lines for resonances
    produced undecayed. ``cut_pdg``: the resonance the pT/η window applies to; None means the
    window applies to the light jets (``ptj``/``ptjmax``/``etaj``).
    """

    lines: tuple[str, ...]
    decays: tuple[str, ...] = ()
    cut_pdg: int | None = None


NEUTRINOS = ("define vl = ve vm vt", "define vl~ = ve~ vm~ vt~")

#: The RS3L processes (seed 000): the Z decays to neutrinos, so the only visible jet is the
#: recoiling parton (Z + jet) or the Higgs (HZ, H -> bb).
PROCESSES = {
    "zjet_nunu": Process(NEUTRINOS + ("generate p p > z j, z > vl vl~",)),
    "hz_bb_nunu": Process(("generate p p > h z",),
                          decays=("decay h > b b~", "decay z > vl vl~"), cut_pdg=25),
    # W jets as the embedded backend makes them: the W recoils against an invisible Z.
    "wz_qq_nunu": Process(("generate p p > w+ z", "add process p p > w- z"),
                          decays=("decay w+ > j j", "decay w- > j j", "decay z > vl vl~"),
                          cut_pdg=24),
}


def madgraph_options(sample: str, spec: dict) -> dict:
    """The sample's optional ``madgraph`` block: ``process`` (MadGraph lines replacing the
    named process), ``decays`` and ``cut_pdg`` (with ``process``), ``model``, ``lhaid`` (an
    LHAPDF set instead of the built-in PDF), ``nb_core``, ``run_card`` (extra settings)."""
    options = spec.get("madgraph") or {}
    unknown = set(options) - OPTION_KEYS
    if unknown:
        raise ConfigError(f"samples.{sample}.madgraph: unknown keys {sorted(unknown)} "
                          f"(known: {', '.join(sorted(OPTION_KEYS))})")
    return options


def _lines(value: str | list[str] | None) -> tuple[str, ...]:
    return tuple([value] if isinstance(value, str) else value or ())


def sample_process(sample: str, spec: dict) -> Process:
    """The MadGraph process of a sample: its ``madgraph.process`` lines, or the named process."""
    options = madgraph_options(sample, spec)
    if options.get("process"):
        return Process(_lines(options["process"]), _lines(options.get("decays")),
                       options.get("cut_pdg"))
    name = spec.get("process")
    if name not in PROCESSES:
        raise ConfigError(f"samples.{sample}.process: {name!r} has no MadGraph definition "
                          f"(known: {', '.join(sorted(PROCESSES))}); give the MadGraph lines "
                          f"in samples.{sample}.madgraph.process")
    return PROCESSES[name]


@register_check("madgraph processes")
def _process_problems(config: dict):
    """A MadGraph sample's process: its own lines, or one MadGraph knows by name."""
    for sample, spec in config["samples"].items():
        if spec.get("backend", "embedded") == "madgraph":
            try:
                sample_process(sample, spec)
            except ConfigError as err:
                yield str(err)


def proc_card(process: Process, outdir: str | Path, model: str = "sm") -> str:
    """The MadGraph script that writes the process directory ``outdir``."""
    lines = ["set auto_update 0", "set automatic_html_opening False",
             f"import model {model}", *process.lines, f"output {outdir} -nojpeg"]
    return "\n".join(lines) + "\n"


def madspin_card(process: Process, seed: int) -> str | None:
    """The MadSpin card decaying the process's resonances, or None if it has no decays."""
    if not process.decays:
        return None
    lines = ["set seed " + str(int(seed)), *NEUTRINOS, *process.decays, "launch"]
    return "\n".join(lines) + "\n"


def run_settings(sample: str, spec: dict, nevents: int, iseed: int) -> dict[str, object]:
    """Run-card settings of one shard: events, seed, beams, the pT/η window, PDF."""
    options = madgraph_options(sample, spec)
    process = sample_process(sample, spec)
    settings: dict[str, object] = {
        "nevents": int(nevents), "iseed": int(iseed),
        "ebeam1": SQRT_S / 2, "ebeam2": SQRT_S / 2, "use_syst": False,
    }
    pdg = process.cut_pdg
    if "pt_range" in spec:
        pt_min, pt_max = (float(x) for x in spec["pt_range"])
        if pdg is None:
            settings.update(ptj=pt_min, ptjmax=pt_max)
        else:
            settings.update(pt_min_pdg={pdg: pt_min}, pt_max_pdg={pdg: pt_max})
    if "eta_max" in spec:
        eta = float(spec["eta_max"])
        if pdg is None:
            settings["etaj"] = eta
        else:
            settings["eta_max_pdg"] = {pdg: eta}
    if "lhaid" in options:
        settings.update(pdlabel="lhapdf", lhaid=int(options["lhaid"]))
    settings.update(options.get("run_card") or {})
    return settings


def _card_value(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_card_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def launch_card(procdir: str | Path, settings: dict[str, object], nb_core: int = 1,
                madspin: str | Path | None = None, run_name: str = RUN_NAME) -> str:
    """The MadGraph script that generates events in ``procdir`` with the given run settings.

    The switch question gets ``madspin=ON`` when a MadSpin card is given and ``done``
    (shower and detector stay off); the card question gets the ``set run_card`` lines, the
    path of the MadSpin card (MadGraph copies a card given by path) and ``done``.
    """
    lines = ["set auto_update 0", f"set nb_core {int(nb_core)}", "set run_mode 2",
             f"launch {procdir} -n {run_name}"]
    lines += ["madspin=ON"] if madspin else []
    lines += ["done", *(f"set run_card {key} {_card_value(value)}" for key, value in settings.items())]
    lines += [str(madspin)] if madspin else []
    lines += ["done"]
    return "\n".join(lines) + "\n"


def mg5_command(executable: str | Path, script: str | Path,
                environ: dict[str, str] | None = None) -> list[str]:
    """Command line running one MadGraph script without questions (with the interpreter of
    ``$RESIM_MG5_PYTHON`` when set, :func:`resim.backends.program_command`)."""
    return [*program_command(executable, environ), "-f", str(script)]


def events_file(procdir: Path, decayed: bool, run_name: str = RUN_NAME) -> Path:
    """Where MadGraph (or MadSpin, for ``decayed``) leaves the run's events."""
    return procdir / "Events" / (f"{run_name}_decayed_1" if decayed else run_name) / "unweighted_events.lhe.gz"


def check_run(lhe: Path, log_text: str, nevents: int) -> dict:
    """The statistics of a finished run, or :class:`GeneratorError` saying what went wrong."""
    marker = ERROR_MARKERS.search(log_text)
    if marker:
        start = log_text.rfind("\n", 0, marker.start()) + 1
        raise GeneratorError(f"MadGraph failed: {first_words(log_text[start:], 400)}")
    if not lhe.is_file():
        raise GeneratorError(f"MadGraph wrote no {lhe.relative_to(lhe.parents[3])} (its log "
                             f"is in this job's log)")
    stats = lhe_stats(lhe)
    if stats["events"] != nevents:
        raise GeneratorError(f"{lhe}: MadGraph wrote {stats['events']} events, {nevents} were "
                             f"asked (phase space too small for the cuts?)")
    return stats


def lhe_stats(path: str | Path) -> dict:
    """Events, cross-section (pb) and MadGraph version of a MadGraph LHE file."""
    with gzip.open(path, "rt") as handle:
        text = handle.read()
    init = re.search(r"<init>\s*\n[^\n]*\n\s*(\S+)\s+(\S+)", text)
    version = re.search(r"<generator name='MadGraph5_aMC@NLO' version='([^']+)'", text)
    if init is None:
        raise GeneratorError(f"{path}: no <init> block")
    return {"events": len(re.findall(r"<event[\s>]", text)),
            "cross_section_pb": float(init.group(1)), "cross_section_error_pb": float(init.group(2)),
            "version": version.group(1) if version else "unknown"}


def eta_window(spec: dict, process: Process) -> tuple[int, float] | None:
    """(PDG id, |eta| max) when the sample's eta cut applies to a resonance: the cut MadGraph
    makes on its rapidity must be redone on its pseudorapidity."""
    if process.cut_pdg is None or "eta_max" not in spec:
        return None
    return int(process.cut_pdg), float(spec["eta_max"])


_EVENT = re.compile(r"<event[\s>].*?</event>\n?", re.S)


def eta_filter(text: str, pdg: int, eta_max: float, nevents: int) -> tuple[str, int, int]:
    """The LHE ``text`` keeping the first ``nevents`` events whose every particle ``|pdg|``
    has |eta| < ``eta_max``; returns it, the events kept and the events looked at to keep them
    (all of them when fewer pass)."""
    kept, looked, pieces, last = 0, 0, [], 0
    for match in _EVENT.finditer(text):
        pieces.append(text[last:match.start()])
        last = match.end()
        if kept == nevents:
            continue
        looked += 1
        lines = match.group(0).splitlines()
        count = int(lines[1].split()[0])
        ok = True
        for line in lines[2:2 + count]:
            fields = line.split()
            if abs(int(fields[0])) == pdg:
                px, py, pz = (float(x) for x in fields[6:9])
                ok &= abs(math.asinh(pz / max(math.hypot(px, py), 1e-12))) < eta_max
        if ok:
            pieces.append(match.group(0))
            kept += 1
    pieces.append(text[last:])
    return "".join(pieces), kept, looked


def publish_lhe(text: str, out_path: Path) -> None:
    """Write the LHE ``text`` gzipped to ``out_path`` atomically, with no time stamp in the
    gzip header (MadGraph's own has one), so that the same seed gives the same bytes."""
    with atomic_path(out_path) as tmp, reproducible_gzip(tmp) as dst:
        dst.write(text)


def _run_script(executable: Path, script: Path, text: str, logfile: Path) -> str:
    script.write_text(text)
    with open(logfile, "a") as out:
        # program_env: not resim's own Python for MadGraph's `#!/usr/bin/env python3`
        result = subprocess.run(mg5_command(executable, script), cwd=script.parent,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=program_env())
    text = logfile.read_text(errors="replace")
    if result.returncode != 0:
        raise GeneratorError(f"{executable} exited {result.returncode} on {script.name}: "
                             f"{_last_words(text)}")
    return text


def _last_words(log_text: str, limit: int = 300) -> str:
    """MadGraph's last message on one line, from its first words: it says why (a missing
    Python module, a refused card line) without the user opening the log."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    if not lines:
        return "(empty log)"
    marker = next((i for i in range(len(lines) - 1, -1, -1)
                   if ERROR_MARKERS.search(lines[i])), max(len(lines) - 2, 0))
    return first_words(" ".join(lines[marker:]), limit)


def generate_madgraph(config: dict, sample: str, shard: int, out_path: str | Path,
                      iseed: int, nevents: int | None = None) -> dict:
    """Run MadGraph for one (sample, shard) and publish its LHE at ``out_path`` atomically.

    Work happens in a fresh directory beside ``out_path``; it is removed on success and kept
    (named in the error) on failure. Returns the shard's statistics.
    """
    spec = config["samples"][sample]
    executable = MADGRAPH.require(f"samples.{sample}.backend")
    nevents = int(nevents or spec.get("events_per_shard") or config["run"]["events_per_shard"])
    options = madgraph_options(sample, spec)
    process = sample_process(sample, spec)
    window = eta_window(spec, process)
    asked = math.ceil(nevents * ETA_OVERSAMPLE) + 5 if window else nevents
    settings = run_settings(sample, spec, asked, iseed)
    out_path = Path(out_path).absolute()  # MadGraph runs in its work directory
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # MadSpin derives file names by replacing ".lhe" anywhere in a path: keep it out of ours.
    stem = out_path.name.split(".")[0]
    workdir = Path(tempfile.mkdtemp(prefix=f".mg5-{stem}-", dir=out_path.parent))
    procdir, logfile = workdir / "proc", workdir / "mg5.log"
    spin = madspin_card(process, iseed)
    if spin:
        (workdir / "madspin_card.dat").write_text(spin)
    start = time.perf_counter()
    try:
        # Paths relative to the work directory: MadGraph copies the proc card into the LHE
        # header, so an absolute (random) path would make the same seed give different files.
        _run_script(executable, workdir / "proc_card.mg5",
                    proc_card(process, procdir.name, options.get("model", "sm")), logfile)
        log_text = _run_script(executable, workdir / "launch.mg5",
                               launch_card(procdir.name, settings, options.get("nb_core", 1),
                                           "madspin_card.dat" if spin else None), logfile)
        lhe = events_file(procdir, decayed=bool(spin))
        stats = check_run(lhe, log_text, asked)
        with gzip.open(lhe, "rt") as handle:
            text = handle.read()
        kept, looked = nevents, nevents
        if window:
            text, kept, looked = eta_filter(text, *window, nevents)
            if kept < nevents:
                raise GeneratorError(
                    f"samples.{sample}: only {kept} of MadGraph's {looked} events have |eta| < "
                    f"{window[1]} for PDG {window[0]}; {nevents} were asked")
        publish_lhe(text, out_path)
    except BaseException:
        # the scratch folder beside the output does not stay: the error line carries
        # MadGraph's own message, -v the end of its log
        if logfile.is_file():
            log.debug("MadGraph's log (last lines):\n%s", "\n".join(
                logfile.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.perf_counter() - start
    efficiency = kept / looked
    log.info("MadGraph %s: %d events for %s shard %d in %.1f s (|eta| filter efficiency %.3f)",
             stats["version"], nevents, sample, shard, seconds, efficiency)
    return {"backend": MADGRAPH.name, "events": kept, "filter_efficiency": efficiency,
            "cross_section_pb": stats["cross_section_pb"] * efficiency,
            "cross_section_error_pb": stats["cross_section_error_pb"] * efficiency,
            "seeds": {"iseed": int(iseed)}, "versions": {"MadGraph5_aMC@NLO": stats["version"]},
            "process": list(process.lines + process.decays),
            "run_card": {k: _card_value(v) for k, v in settings.items()}}


@register_hard_backend(MADGRAPH.name)
def madgraph_backend(config: dict, sample: str, shard: int, out_path: str | Path,
                     manifest: SeedManifest) -> dict:
    """The "madgraph" hard-scatter backend: ``iseed`` is the job's "hard" stream."""
    return generate_madgraph(config, sample, shard, out_path, manifest.seed(HARD_VIEW, "hard"))
