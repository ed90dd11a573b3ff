"""Embedded hard-scatter backend: Pythia 8 at process level only, written out as LHE.

Pythia generates the hard process (``PartonLevel:all = off``, ``HadronLevel:all = off``; the
resonance decays are part of the process level), a filter applies the cuts Pythia cannot
impose, and ``LHEF3FromPythia8`` formats each accepted event. Events of all channels of a
sample go into one gzipped LHE file whose ``<init>`` block lists one process per channel.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import pythia8mc

from ..config import config_hash
from ..errors import ConfigError, GeneratorError
from ..io import atomic_path, naming_output, reproducible_gzip, scratch_file
from ..lhe import provenance_block
from ..seeds import SeedManifest
from .processes import PROCESSES, Channel, Process, channel_schedule, dark_settings
from .registry import register_hard_backend

log = logging.getLogger(__name__)

SQRT_S = 13000.0  # GeV
MB_TO_PB = 1e9
#: Tries per accepted event before a filter is declared hopeless (a config error, not bad luck).
MAX_TRIES_PER_EVENT = 100_000


def pythia_version() -> str:
    from importlib.metadata import version

    return version("pythia8mc")


@functools.lru_cache(maxsize=1)
def _pdf_names(xml_path: str) -> dict[str, str]:
    """Pythia's own names of its built-in proton PDF sets (the ``PDF:pSet`` options of the
    documentation shipped with it)."""
    text = (Path(xml_path) / "PDFSelection.xml").read_text(errors="replace")
    start = text.find('name="PDF:pSet"')
    block = text[start:text.find("</word>", start)] if start >= 0 else ""
    names = {}
    for value, body in re.findall(r'<option value="(\d+)">(.*?)</option>', block, re.S):
        plain = " ".join(re.sub(r"<[^>]+>", "", body).split())
        names[value] = re.split(r"\.(?:\s|$)|\s\(", plain)[0]
    return names


def pdf_of(pythia: pythia8mc.Pythia) -> str:
    """The proton PDF a Pythia instance uses, e.g. "PDF:pSet = 13 (NNPDF2.3 QCD+QED LO
    alpha_s(M_Z) = 0.130)"; an LHAPDF set as Pythia's setting names it."""
    word = pythia.settings.word("PDF:pSet")
    name = _pdf_names(pythia.settings.word("xmlPath")).get(word)
    return f"PDF:pSet = {word}" + (f" ({name})" if name else "")


def pdf_used(settings: list[str]) -> str:
    """The proton PDF Pythia uses with ``settings`` (read, not initialised: cheap)."""
    pythia = pythia8mc.Pythia("", False)
    for line in settings:
        pythia.readString(line)
    return pdf_of(pythia)


def new_pythia(settings: list[str], context: str, user_hooks=None) -> pythia8mc.Pythia:
    """An initialised, silent Pythia. A setting Pythia refuses or a failed ``init()`` is a
    :class:`GeneratorError` naming ``context`` and the setting (Pythia only returns False)."""
    pythia = pythia8mc.Pythia("", False)
    # SLHA:verbose: a MadGraph file's SLHA header would otherwise print a banner per instance
    for line in ("Print:quiet = on", "Print:verbosity = 0", "SLHA:verbose = 0", *settings):
        if not pythia.readString(line):
            raise GeneratorError(f"{context}: Pythia refused the setting {line!r}")
    if user_hooks is not None:
        pythia.setUserHooksPtr(user_hooks)
    if not pythia.init():
        log.debug("%s: Pythia's settings: %s", context, "; ".join(settings))
        raise GeneratorError(f"{context}: Pythia's init() failed: {_init_failure(settings)}")
    return pythia


def _init_failure(settings: list[str]) -> str:
    """What Pythia says when ``settings`` fail to initialise (its abort and error lines).

    A quiet Pythia says nothing and offers no way to ask, so a second, talking instance is
    initialised with the same settings while the process's standard output (Pythia's C++
    stream) goes to a file; only the failure path pays for it.
    """
    pythia = pythia8mc.Pythia("", False)
    for line in (*settings, "Print:quiet = off", "Print:verbosity = 1"):
        pythia.readString(line)
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            pythia.init()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        capture.seek(0)
        said = capture.read().decode(errors="replace")
    lines = [" ".join(line.split()).removeprefix("PYTHIA ") for line in said.splitlines()
             if "Abort" in line or "Error" in line]
    return "; ".join(dict.fromkeys(lines)) or "Pythia gave no reason (-v logs its settings)"


def _tagged_indices(process: pythia8mc.Event, tagged: str | int) -> list[int]:
    """Entries of Pythia's process record that the sample's pT/eta cuts apply to."""
    found = []
    for i in range(process.size()):
        particle = process[i]
        if isinstance(tagged, int):
            if particle.idAbs() == tagged:
                found.append(i)
        elif particle.status() == 23 and (tagged == "all" or particle.isParton()):
            found.append(i)
    return found


class Filter:
    """Cuts at hard-process level: every tagged object within the pT window and |eta| < max."""

    def __init__(self, tagged: str | int, pt_range: list | None, eta_max: float | None):
        self.tagged = tagged
        self.pt_min = float(pt_range[0]) if pt_range else 0.0
        self.pt_max = float(pt_range[1]) if pt_range and pt_range[1] is not None else math.inf
        self.eta_max = float(eta_max) if eta_max is not None else math.inf

    def __call__(self, process: pythia8mc.Event) -> bool:
        indices = _tagged_indices(process, self.tagged)
        if not indices:
            return False
        for i in indices:
            particle = process[i]
            if not (self.pt_min <= particle.pT() <= self.pt_max and abs(particle.eta()) < self.eta_max):
                return False
        return True


def channel_settings(channel: Channel, spec: dict, seed: int, sample: str = "") -> list[str]:
    """Every Pythia setting of one channel: beams, process, phase space, seed, the sample's
    dark model (if any), extras."""
    pt_range = spec.get("pt_range")
    settings = [f"Beams:eCM = {SQRT_S}", "PartonLevel:all = off", "HadronLevel:all = off",
                "Next:numberCount = 0", "Random:setSeed = on", f"Random:seed = {seed}",
                *channel.settings]
    if pt_range:
        # pTHat is the pT of both outgoing legs of the 2 -> 2, so the window costs nothing;
        # the filter re-checks it on the tagged object and adds the |eta| cut.
        settings.append(f"PhaseSpace:pTHatMin = {float(pt_range[0])}")
        if pt_range[1] is not None:
            settings.append(f"PhaseSpace:pTHatMax = {float(pt_range[1])}")
    settings.extend(dark_settings(sample, spec))
    settings.extend(spec.get("settings") or [])
    return settings


def _init_block(channels: list[tuple[Channel, dict]]) -> str:
    beam = SQRT_S / 2
    lines = ["<init>", f"  2212  2212  {beam:.6e}  {beam:.6e}  0  0  0  0  3  {len(channels)}"]
    for k, (_, stats) in enumerate(channels, start=1):
        lines.append(f"  {stats['cross_section_pb']:.6e}  {stats['cross_section_error_pb']:.6e}"
                     f"  1.000000e+00  {k}")
    lines.append("</init>")
    return "\n".join(lines) + "\n"


def _set_process_id(event_text: str, idprup: int) -> str:
    """Pythia's writer puts 9999 as the process id; use the channel's number instead."""
    head, line, rest = event_text.split("\n", 2)
    fields = line.split()
    fields[1] = str(idprup)
    return f"{head}\n    {'  '.join(fields)}\n{rest}"


def _process(sample: str, spec: dict) -> Process:
    name = spec.get("process")
    if name not in PROCESSES:
        raise ConfigError(f"samples.{sample}.process: unknown process {name!r} for the embedded "
                          f"backend (known: {', '.join(sorted(PROCESSES))})")
    return PROCESSES[name]


@register_hard_backend("embedded")
def generate_embedded(config: dict, sample: str, shard: int, out_path: str | Path,
                      manifest: SeedManifest) -> dict:
    """Generate ``run.events_per_shard`` filtered hard events of ``sample`` into ``out_path``."""
    spec = config["samples"][sample]
    process = _process(sample, spec)
    n_events = int(spec.get("events_per_shard") or config["run"]["events_per_shard"])
    yields = spec.get("yields") or {}
    unknown = set(yields) - {c.name for c in process.channels}
    if unknown:
        raise ConfigError(f"samples.{sample}.yields: unknown channels {sorted(unknown)} "
                          f"(known: {', '.join(c.name for c in process.channels)})")
    weights = [float(yields.get(c.name, c.yield_)) for c in process.channels]
    event_filter = Filter(process.tagged, spec.get("pt_range"), spec.get("eta_max"))
    start = time.perf_counter()
    generators = []
    for channel in process.channels:
        seed = manifest.seed(f"hard.{channel.name}", "hard")
        settings = channel_settings(channel, spec, seed, sample)
        pythia = new_pythia(settings, f"samples.{sample} (channel {channel.name})")
        writer = pythia8mc.LHEF3FromPythia8(pythia, 10, False)
        writer.setEventPtr(pythia.process)
        writer.setInit()
        generators.append((pythia, writer, {"tried": 0, "accepted": 0, "settings": settings}))

    out_path = Path(out_path)
    # Events go to a scratch file first: <init> (cross-sections) can only be written at the end.
    body = scratch_file(out_path, "body")
    try:
        with naming_output(out_path), open(body, "w") as events:
            for index, k in enumerate(channel_schedule(weights, n_events)):
                pythia, writer, counts = generators[k]
                for _ in range(MAX_TRIES_PER_EVENT):
                    if not pythia.next():
                        continue
                    counts["tried"] += 1
                    if event_filter(pythia.process):
                        break
                else:
                    raise GeneratorError(
                        f"samples.{sample}: no event of channel {process.channels[k].name} passed "
                        f"the pT/eta filter in {MAX_TRIES_PER_EVENT} tries (event {index})")
                counts["accepted"] += 1
                writer.setEvent()
                events.write(_set_process_id(writer.getEventString(), k + 1))
        channels = []
        for channel, (pythia, _, counts) in zip(process.channels, generators):
            info = pythia.infoPython()
            efficiency = counts["accepted"] / counts["tried"] if counts["tried"] else 0.0
            channels.append((channel, {
                "channel": channel.name, "events": counts["accepted"], "tried": counts["tried"],
                "filter_efficiency": efficiency,
                "cross_section_pb": info.sigmaGen() * MB_TO_PB * efficiency,
                "cross_section_error_pb": info.sigmaErr() * MB_TO_PB * efficiency,
                "settings": counts["settings"]}))
        with atomic_path(out_path) as tmp:
            with reproducible_gzip(tmp) as lhe, open(body) as events:
                lhe.write('<LesHouchesEvents version="3.0">\n<header>\n'
                          f"<!-- resim embedded hard scatter: sample {sample}, shard {shard}, "
                          f"{process.description}, Pythia {pythia_version()} -->\n"
                          f"{provenance_block(sample, shard, config_hash(config))}</header>\n")
                lhe.write(_init_block(channels))
                for chunk in iter(lambda: events.read(1 << 20), ""):
                    lhe.write(chunk)
                lhe.write("</LesHouchesEvents>\n")
    finally:
        body.unlink(missing_ok=True)
    tried = sum(s["tried"] for _, s in channels)
    stats = {
        "backend": "embedded", "sample": sample, "shard": shard, "process": spec["process"],
        "events": n_events, "tried": tried,
        "filter_efficiency": n_events / tried if tried else 0.0,
        "cross_section_pb": sum(s["cross_section_pb"] for _, s in channels),
        "cross_section_error_pb": math.sqrt(sum(s["cross_section_error_pb"] ** 2 for _, s in channels)),
        "channels": [s for _, s in channels],
        "pdf": pdf_of(generators[0][0]),
        "versions": {"pythia8mc": pythia_version()}}
    # Timing goes to the log (and Snakemake's benchmark files), not into the output, whose
    # bytes must depend on the config alone.
    log.info("embedded: %d %s events for shard %d (filter efficiency %.3f) in %.1f s, PDF %s",
             n_events, sample, shard, stats["filter_efficiency"], time.perf_counter() - start,
             stats["pdf"])
    return stats
