"""Read Les Houches Event files written by anyone (MadGraph, Pythia, POWHEG, LHEF3 writers).

The reader streams events (gzip or plain text) and checks what it reads: every event has its
header line and the number of particle lines the header promises, every number parses, mother
indices point inside the event, and the file ends with ``</LesHouchesEvents>``. Anything else is
an :class:`LHEError` naming the file, the event number and the line.

Truth objects for jet matching come from the LHE record (see ``resim.contracts.TRUTH_FIELDS``):
outgoing quarks and gluons that do not come from a resonance, resonances (Z, W, H) with their
final decay products as ``daughters``, and taus.
"""

from __future__ import annotations

import contextlib
import gzip
import re
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import awkward as ak
import numpy as np

from .errors import LHEError

RESONANCES = frozenset({23, 24, 25})
PARTONS = frozenset({1, 2, 3, 4, 5, 6, 21})
TAU = 15
#: Hidden Valley dark quarks (Pythia's qv, 4900101...): the partons of dark jets.
DARK_QUARKS = range(4900101, 4900109)

#: Columns of a particle line kept by the reader (IDUP ISTUP MOTHUP1-2 ICOLUP1-2 P1-5).
_N_COLUMNS = 13
_MIN_COLUMNS = 11  # VTIMUP and SPINUP are optional in practice


@dataclass
class LHEEvent:
    """One event: ``index`` counts from 0 in the file; arrays are per particle line."""

    index: int
    line: int  # line number of the <event> tag, from 1
    process_id: int
    weight: float
    scale: float
    pid: np.ndarray  # int32
    status: np.ndarray  # int32
    mothers: np.ndarray  # (n, 2) int32, 1-based, 0 = none
    colours: np.ndarray  # (n, 2) int32
    momenta: np.ndarray  # (n, 5) float64: px, py, pz, E, m

    @property
    def incoming(self) -> tuple[int, int]:
        ids = self.pid[self.status == -1]
        return (int(ids[0]), int(ids[1])) if len(ids) == 2 else (0, 0)


#: Bytes (decompressed) read to tell an LHE file from anything else: the root tag is near the top.
_SNIFF_BYTES = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"
#: What reading a corrupt or truncated gzip stream raises (zlib.error is no OSError).
_GZIP_ERRORS = (EOFError, OSError, zlib.error)


def _sniff(path: Path) -> bool:
    """Check that ``path`` starts like an LHE file; returns whether it is gzip-compressed."""
    if path.exists() and not path.is_dir() and not path.is_file():
        # every view's generator and resim's own reader open the file in turn: a pipe would be
        # empty for all but the first (and opening one without a writer would wait forever)
        raise LHEError(f"{path}: not a regular file (a pipe or process substitution?); the LHE "
                       f"file is read several times: write it to a file first")
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == _GZIP_MAGIC
    except FileNotFoundError:
        raise LHEError(f"{path}: LHE file not found (it does not exist)") from None
    except IsADirectoryError:
        raise LHEError(f"{path}: a directory, not an LHE file") from None
    except OSError as err:
        raise LHEError(f"{path}: cannot read the LHE file: {err.strerror or err}") from None
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as stream:
            head = stream.read(_SNIFF_BYTES)
    except _GZIP_ERRORS as err:
        reason = f"broken or truncated gzip data ({err})"
        raise LHEError(f"{path}: not an LHE file: {reason}") from None
    if not head.strip():
        raise LHEError(f"{path}: not an LHE file: the file is empty")
    if b"\0" in head:
        raise LHEError(f"{path}: not an LHE file: binary data")
    if b"<LesHouchesEvents" not in head:
        raise LHEError(f"{path}: not an LHE file (no <LesHouchesEvents> tag at its start)")
    return gzipped


def _open_text(path: Path):
    if _sniff(path):
        return gzip.open(path, "rt", errors="replace")
    return open(path, errors="replace")


class _Lines:
    """Line iterator that knows its line number and turns gzip truncation into LHEError."""

    def __init__(self, path: Path, handle):
        self.path, self.handle, self.number = path, handle, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        try:
            line = next(self.handle)
        except _GZIP_ERRORS as err:
            raise LHEError(f"{self.path}: compressed stream broken after line {self.number} "
                           f"(truncated file?): {err}") from None
        self.number += 1
        return line


#: LHEF 3 groups an NLO event with its counter-events; a shower needs unweighted single events.
_NO_EVENT_GROUPS = "<eventgroup> (an NLO event with counter-events) is not supported"


def _fail(path: Path, where: str, message: str) -> LHEError:
    return LHEError(f"{path}: {where}: {message}")


def _without_comments(lines: _Lines) -> Iterator[str]:
    """The stripped lines of ``lines`` with XML comments (``<!-- ... -->``, over several lines
    too) taken out: the LHEF standard allows them anywhere in a block."""
    in_comment = False
    for line in lines:
        text = line.strip()
        if in_comment or "<!--" in text:
            kept, rest = [], text
            while rest:
                if in_comment:
                    end = rest.find("-->")
                    if end < 0:
                        rest = ""
                        continue
                    rest, in_comment = rest[end + 3:], False
                else:
                    start = rest.find("<!--")
                    if start < 0:
                        kept.append(rest)
                        rest = ""
                        continue
                    kept.append(rest[:start])
                    rest, in_comment = rest[start + 4:], True
            text = "".join(kept).strip()
        yield text


def _parse_event(path: Path, lines: _Lines, index: int, tag_line: int,
                 collision_energy: float | None = None) -> LHEEvent:
    where = f"event {index} (line {tag_line})"
    header = None
    rows: list[list[str]] = []
    for text in _without_comments(lines):
        if text.startswith("</event"):
            break
        if header is None:
            if not text or text.startswith("#"):
                continue
            header = text.split()
            if len(header) < 6:
                raise _fail(path, f"{where}, line {lines.number}",
                            f"event header needs 6 numbers (NUP IDPRUP XWGTUP SCALUP AQEDUP "
                            f"AQCDUP), got {text!r}")
            try:
                n_particles = int(header[0])
            except ValueError:
                raise _fail(path, f"{where}, line {lines.number}",
                            f"NUP is not an integer: {header[0]!r}") from None
            if n_particles < 1:
                raise _fail(path, f"{where}, line {lines.number}", f"NUP = {n_particles}")
            continue
        if len(rows) < n_particles:
            fields = text.split()
            if len(fields) < _MIN_COLUMNS or text.startswith("<"):
                raise _fail(path, f"{where}, line {lines.number}",
                            f"expected particle line {len(rows) + 1} of {n_particles}, got {text!r}")
            rows.append(fields[:_N_COLUMNS])
        # anything after the particle lines (#comments, <rwgt>, <weights>, <scales>,
        # <clustering>, <mgrwt>) is optional information the shower does not need
    else:
        raise _fail(path, where, f"truncated: file ends at line {lines.number} inside the event")
    if header is None:
        raise _fail(path, where, "empty event")
    if len(rows) != n_particles:
        raise _fail(path, f"{where}, line {lines.number}",
                    f"NUP = {n_particles} but {len(rows)} particle lines before </event>")
    try:
        ints = np.array([[int(f) for f in row[:6]] for row in rows], dtype=np.int32)
        floats = np.array([[float(f) for f in row[6:11]] for row in rows], dtype=np.float64)
        process_id, weight, scale = int(header[1]), float(header[2]), float(header[3])
    except ValueError as err:
        raise _fail(path, where, f"a number does not parse: {err}") from None
    mothers = ints[:, 2:4]
    if (mothers < 0).any() or (mothers > n_particles).any():
        raise _fail(path, where, f"mother index outside 0..{n_particles}")
    if not np.isfinite(floats).all():
        raise _fail(path, where, "non-finite momentum")
    _check_kinematics(path, where, floats, collision_energy)
    return LHEEvent(index=index, line=tag_line, process_id=process_id, weight=weight, scale=scale,
                    pid=ints[:, 0], status=ints[:, 1], mothers=mothers, colours=ints[:, 4:6],
                    momenta=floats)


#: How far a momentum may stray from the mass shell (rounding of the written digits): the
#: relative amount by which |p|^2 may exceed E^2.
_SPACELIKE_TOLERANCE = 1e-6
#: Beyond any collider (GeV): the bound on a momentum when a file's beams do not read.
_MAX_GEV = 1e8


def _check_kinematics(path: Path, where: str, p: np.ndarray, collision_energy: float | None):
    """A physically impossible particle (negative energy, faster than light, more energy than
    the collision has) is named: a generator would shower nonsense or fail deep inside."""
    energy = p[:, 3]
    bad = np.flatnonzero(energy < 0)
    if bad.size:
        raise _fail(path, where, f"particle {bad[0] + 1} has negative energy E = "
                                 f"{energy[bad[0]]:g} GeV")
    # above the beams' energy (or, without beams, beyond any collider): before squaring, which
    # would overflow
    limit = 1.001 * collision_energy if collision_energy else _MAX_GEV
    bad = np.flatnonzero(np.abs(p[:, :4]).max(axis=1) > limit)
    if bad.size:
        raise _fail(path, where, f"particle {bad[0] + 1} has a momentum of "
                                 f"{np.abs(p[bad[0], :4]).max():g} GeV, more than "
                                 + (f"the beams' {collision_energy:g} GeV" if collision_energy
                                    else f"{_MAX_GEV:g} GeV"))
    p2 = (p[:, :3] ** 2).sum(axis=1)
    bad = np.flatnonzero(p2 - energy**2 > _SPACELIKE_TOLERANCE * np.maximum(energy**2, 1.0))
    if bad.size:
        raise _fail(path, where, f"particle {bad[0] + 1} has |p| = {np.sqrt(p2[bad[0]]):g} GeV > "
                                 f"E = {energy[bad[0]]:g} GeV (faster than light)")


def _collision_energy(text: str) -> float | None:
    """EBMUP1 + EBMUP2 from the <init> beam line, if it reads."""
    fields = text.split()
    try:
        return float(fields[2]) + float(fields[3])
    except (IndexError, ValueError):
        return None


def iter_events(path: str | Path) -> Iterator[LHEEvent]:
    """Stream the events of an LHE file (plain or gzip), checking each one."""
    path = Path(path)
    with _open_text(path) as handle:
        lines = _Lines(path, handle)
        seen_root = seen_init = closed = False
        index, energy = 0, None
        for line in lines:
            text = line.lstrip()
            if not seen_root:
                if text.startswith("<LesHouchesEvents"):
                    seen_root = True
                elif text.strip() and not text.startswith("<?xml") and lines.number > 20:
                    break
                continue
            if seen_init and energy is None and text.strip() and not text.startswith(("<", "#")):
                energy = _collision_energy(text)  # the first line of <init>: the beams
            if text.startswith("<init"):
                seen_init = True
            elif text.startswith("<eventgroup"):
                raise _fail(path, f"line {lines.number}", _NO_EVENT_GROUPS)
            elif text.startswith("<event"):
                if not seen_init:
                    raise _fail(path, f"line {lines.number}", "<event> before <init>")
                yield _parse_event(path, lines, index, lines.number, energy)
                index += 1
            elif text.startswith("</LesHouchesEvents>"):
                closed = True
                break
        if not seen_root:
            raise LHEError(f"{path}: not an LHE file (no <LesHouchesEvents> tag)")
        if not closed:
            raise _fail(path, f"after event {index - 1}" if index else "header",
                        f"truncated: no closing </LesHouchesEvents> (file ends at line "
                        f"{lines.number})")


#: The element resim's hard stage writes into an LHE file's <header>: the job that made it.
PROVENANCE_TAG = "resim"
_ATTRIBUTE = re.compile(r'([A-Za-z_]+)\s*=\s*"([^"]*)"')


def provenance_block(sample: str, shard: int, config_hash: str) -> str:
    """The header line naming the (sample, shard) a file was generated for, and the config."""
    return (f"<{PROVENANCE_TAG} sample={quoteattr(sample)} shard=\"{int(shard)}\" "
            f"config_hash={quoteattr(config_hash)}></{PROVENANCE_TAG}>\n")


@dataclass
class LHEHead:
    """What :func:`check_lhe` learnt from the top of a file, up to its first event."""

    path: Path
    version: str
    beams: tuple[int, int]  # IDBMUP: 2212 2212 at the LHC, 11 -11 at an e+e- collider
    energies: tuple[float, float]  # EBMUP, GeV
    provenance: dict[str, str] | None  # resim's <resim sample shard config_hash>, if written


def _beams(path: Path, line: str, number: int) -> tuple[tuple[int, int], tuple[float, float]]:
    fields = line.split()
    try:
        return (int(fields[0]), int(fields[1])), (float(fields[2]), float(fields[3]))
    except (ValueError, IndexError):
        raise _fail(path, f"<init>, line {number}", f"beam line needs IDBMUP1 IDBMUP2 EBMUP1 "
                    f"EBMUP2, got {line.strip()!r}") from None


def check_lhe(path: str | Path, sample: str | None = None, shard: int | None = None) -> LHEHead:
    """Check, before any generator opens it, that ``path`` is an LHE file with events.

    Reads the header, ``<init>`` and the first event's tag only (the events are checked as they
    stream, :func:`iter_events`). A missing, empty, binary, corrupt or foreign file, a file
    without ``<init>`` or without events is an :class:`LHEError` naming it. When ``sample`` and
    ``shard`` are given and resim's hard stage wrote the file, it must have been written for them.
    """
    path = Path(path)
    version = provenance = beams = None
    with _open_text(path) as handle:
        lines = _Lines(path, handle)
        in_init = False
        for text in _without_comments(lines):
            if version is None:
                if text.startswith("<LesHouchesEvents"):
                    version = dict(_ATTRIBUTE.findall(text)).get("version", "?")
            elif text.startswith(f"<{PROVENANCE_TAG} "):
                provenance = dict(_ATTRIBUTE.findall(text))
            elif text.startswith("<init"):
                in_init = True
            elif in_init and beams is None and text and not text.startswith(("#", "<")):
                beams = _beams(path, text, lines.number)
            elif text.startswith("<eventgroup"):
                raise _fail(path, f"line {lines.number}", _NO_EVENT_GROUPS)
            elif text.startswith("<event"):
                break
            elif text.startswith("</LesHouchesEvents"):
                raise LHEError(f"{path}: the LHE file holds no events")
        else:
            if version is not None and beams is not None:
                raise LHEError(f"{path}: the LHE file holds no events (and has no closing "
                               f"</LesHouchesEvents>: truncated?)")
    if version is None:
        raise LHEError(f"{path}: not an LHE file (no <LesHouchesEvents> tag)")
    if beams is None:
        raise LHEError(f"{path}: not a valid LHE file: no <init> block with the beams before "
                       f"the first event")
    head = LHEHead(path, version, *beams, provenance)
    _check_origin(head, sample, shard)
    return head


@contextlib.contextmanager
def generator_input(head: LHEHead) -> Iterator[Path]:
    """The file of ``head`` as a generator that reads LHE by name can take it.

    Pythia takes the name from a setting, where it ends at the first space; it refuses a file
    whose ``<LesHouchesEvents>`` tag has no version (Sherpa writes none) and one with an XML
    comment in ``<init>`` or in an event, both of which the LHEF standard allows. Such a file
    goes to the generator as a link with a plain name (a space in the path) or as a copy with
    ``version="1.0"`` and without those comments (the header as it is), in a private temporary
    directory that goes with the block; any other file goes as it is. The events are the same.
    """
    path = head.path.resolve()
    rewrite = head.version == "?" or _comments_after_init(path)
    if not rewrite and not any(c.isspace() for c in str(path)):
        yield head.path
        return
    with tempfile.TemporaryDirectory(prefix="resim-lhe-") as tmp:
        if rewrite:
            target = Path(tmp) / "events.lhe"
            with _open_text(path) as source, open(target, "w") as copy:
                _normalised_copy(path, source, copy, head.version == "?")
        else:
            target = Path(tmp) / ("events.lhe.gz" if _sniff(path) else "events.lhe")
            target.symlink_to(path)
        yield target


def _comments_after_init(path: Path) -> bool:
    """Whether an XML comment follows the ``<init>`` tag (one pass over the text)."""
    with _open_text(path) as handle:
        after = False
        for line in handle:
            after = after or line.lstrip().startswith("<init")
            if after and "<!--" in line:
                return True
    return False


def _normalised_copy(path: Path, source, copy, add_version: bool) -> None:
    """``source`` into ``copy``: the header as it is, the root tag with a version if asked,
    ``<init>`` and the events without XML comments."""
    lines = _Lines(path, source)
    for line in lines:
        if add_version and line.lstrip().startswith("<LesHouchesEvents"):
            line, add_version = line.replace("<LesHouchesEvents", '<LesHouchesEvents version="1.0"', 1), False
        copy.write(line)
        if line.lstrip().startswith("</header") or line.lstrip().startswith("<init"):
            break
    for text in _without_comments(lines):
        if text:
            copy.write(text + "\n")


def _check_origin(head: LHEHead, sample: str | None, shard: int | None) -> None:
    """A file resim generated for one (sample, shard) must not feed another's job."""
    if head.provenance is None or sample is None:
        return
    made_for = (head.provenance.get("sample"), head.provenance.get("shard"))
    if made_for != (sample, str(int(shard))):
        raise LHEError(f"{head.path}: resim hard wrote it for sample {made_for[0]!r} shard "
                       f"{made_for[1]}, but this job is sample {sample!r} shard {int(shard)}")


def _descendants(event: LHEEvent, i: int) -> list[int]:
    """Final (status 1) descendants of particle ``i`` (0-based), in record order."""
    out = []
    for j in np.flatnonzero((event.mothers[:, 0] == i + 1) | (event.mothers[:, 1] == i + 1)):
        if j == i:
            continue
        out.extend([int(j)] if event.status[j] == 1 else _descendants(event, int(j)))
    return out


def _from_resonance(event: LHEEvent, i: int) -> bool:
    seen = set()
    while True:
        mother = int(event.mothers[i, 0]) - 1
        if mother < 0 or mother in seen:
            return False
        if abs(int(event.pid[mother])) in RESONANCES:
            return True
        seen.add(mother)
        i = mother


def truth_objects(event: LHEEvent) -> list[tuple[int, list[int]]]:
    """The matchable objects of one event: (particle index, final daughters' indices)."""
    objects = []
    for i in range(len(event.pid)):
        pid, status = abs(int(event.pid[i])), int(event.status[i])
        if pid in RESONANCES and status in (1, 2):
            objects.append((i, _descendants(event, i)))
        elif status == 1 and (pid == TAU or pid in DARK_QUARKS
                              or (pid in PARTONS and not _from_resonance(event, i))):
            objects.append((i, []))
    return objects


_KINEMATICS = ("px", "py", "pz", "E")


def _records(pid: list[int], momenta: list[np.ndarray]) -> dict[str, np.ndarray]:
    p = np.array(momenta, dtype=np.float64).reshape(-1, 5)
    return {"pid": np.array(pid, dtype=np.int32), **{k: p[:, j] for j, k in enumerate(_KINEMATICS)}}


def truth_array(events: list[LHEEvent]) -> ak.Array:
    """Truth objects of several events: n_events x var x TRUTH_FIELDS (first_split = 0).

    Built from flat columns so that the type is the same for every batch, empty ones included.
    """
    per_event, per_object = [], []
    obj_pid, obj_p, dau_pid, dau_p = [], [], [], []
    for event in events:
        objects = truth_objects(event)
        per_event.append(len(objects))
        for i, daughters in objects:
            obj_pid.append(int(event.pid[i]))
            obj_p.append(event.momenta[i])
            per_object.append(len(daughters))
            dau_pid.extend(int(event.pid[j]) for j in daughters)
            dau_p.extend(event.momenta[j] for j in daughters)
    daughters = ak.unflatten(ak.zip(_records(dau_pid, dau_p)), np.array(per_object, dtype=np.int64))
    columns = _records(obj_pid, obj_p)
    objects = ak.zip({**columns, "daughters": daughters,
                      "first_split": np.zeros(len(obj_pid), dtype=np.int32)}, depth_limit=1)
    return ak.unflatten(objects, np.array(per_event, dtype=np.int64))


def read_truth(path: str | Path) -> ak.Array:
    """Truth objects of every event of an LHE file (n_events x var x TRUTH_FIELDS)."""
    return truth_array(list(iter_events(path)))


#: An event's opening tag, ``<event>`` or ``<event attr=...>`` (not ``<eventgroup>``, ...).
_EVENT_TAG = re.compile(r"<event[\s>]")


def count_event_tags(path: str | Path) -> int:
    """Number of ``<event>`` blocks, counted from their opening tags alone: cheap, for progress
    messages (:func:`iter_events` checks the events themselves as they stream)."""
    path = Path(path)
    with _open_text(path) as handle:
        return sum(1 for line in _Lines(path, handle) if _EVENT_TAG.match(line.lstrip()))


def count_events(path: str | Path) -> int:
    """Number of (valid) events in an LHE file; raises LHEError on a bad file."""
    return sum(1 for _ in iter_events(path))
