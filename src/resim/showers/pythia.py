"""Pythia 8 as a shower backend ("pythia"), and the re-hadronisation machinery.

Views of the ``hard`` fork each run one Pythia reading the same LHE file (``Beams:frameType =
4``), with the view's settings. ``Pythia.nextBatch`` hands back whole batches as awkward arrays;
a user hook (:class:`_EachEvent`) runs at the start of every event inside it: it skips the
LHE events the batch leaves out (``LHAeventSkip``, no showering) and re-seeds the generator
with the event's own seed, so an event's shower and hadronisation do not depend on the events
before it (measured: the same particles bit for bit with batches of 100, of 2, or skipping).

Re-hadronisation (the ``shower`` fork) needs a different way out, because ``nextBatch`` calls
``next()`` itself. A :class:`Hadroniser` is a Pythia with every level off
(``ProcessLevel:all = off`` etc.), whose ``next()`` does nothing but hand back its event
record. A user hook's ``onBeginEvent`` (run at the start of every ``next()``) restores the next
saved parton-level event, re-seeds the generator for that event, and hadronises it with
``forceHadronLevel(False)`` (keeping the junctions the shower recorded; letting Pythia search
for them again fails on ~8 % of events); ``nextBatch`` then records the event. Measured on this
machine (Z+jet, 300 events, CPU time): 1.45 ms per event, against 1.19 ms for the bare
``forceHadronLevel`` loop that leaves the particles inside Pythia, ~2.5 ms with a Python loop
over the particles, and 2.8 ms with ``nextBatch(1)`` per event; same particles bit for bit.
"""

from __future__ import annotations

import logging

import awkward as ak
import numpy as np
import pythia8mc

from ..contracts import Branch, LHEBatch
from ..errors import GeneratorError
from .registry import register_shower
from ..hard.pythia import new_pythia, pythia_version
from ..hard.processes import dark_settings
from ..seeds import SeedManifest, event_seeds
from .records import ChargeTable, final_state, first_splits
from .tau_decays import forced_channels, hadronic_settings, tau_channels

log = logging.getLogger(__name__)

#: CMS CP5 tune (CMS-GEN-17-001, Eur. Phys. J. C 80 (2020) 4) on top of Pythia's Monash
#: defaults, with the PDF its MPI parameters were tuned for: NNPDF3.1 NNLO (alpha_s 0.118), which
#: the wheel ships as ``PDF:pSet = 20`` (the LUXqed variant of that fit). On Pythia's default PDF
#: (NNPDF2.3 LO, alpha_s 0.130) the same MPI parameters give 1.4x the minimum-bias charged
#: multiplicity CMS measures (tests/test_tune.py).
CP5 = (
    "Tune:pp = 14", "Tune:ee = 7",
    "MultipartonInteractions:ecmPow = 0.03344", "MultipartonInteractions:bProfile = 2",
    "MultipartonInteractions:pT0Ref = 1.41", "MultipartonInteractions:coreRadius = 0.7634",
    "MultipartonInteractions:coreFraction = 0.63", "ColourReconnection:range = 5.176",
    "SigmaTotal:zeroAXB = off", "SpaceShower:alphaSorder = 2", "SpaceShower:alphaSvalue = 0.118",
    "SigmaProcess:alphaSvalue = 0.118", "SigmaProcess:alphaSorder = 2",
    "MultipartonInteractions:alphaSvalue = 0.118", "MultipartonInteractions:alphaSorder = 2",
    "TimeShower:alphaSorder = 2", "TimeShower:alphaSvalue = 0.118",
    "SigmaTotal:mode = 0", "SigmaTotal:sigmaEl = 21.89", "SigmaTotal:sigmaTot = 100.309",
    # after Tune:pp, which resets the PDF to Monash's
    "PDF:pSet = 20",
)
TUNES = {"CP5": CP5, "default": ()}


def setting_line(key: str, value: object) -> str:
    """``{"PartonLevel:ISR": False}`` -> ``"PartonLevel:ISR = off"``."""
    if isinstance(value, bool):
        value = "on" if value else "off"
    elif isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    return f"{key} = {value}"


#: Particles with c*tau > 10 mm (K0S, Lambda, Sigma, Xi, Omega) are left to the detector, as
#: CMS and Delphes productions do: the detector's K0S/Lambda energy fractions then act, and their
#: decay products do not become displaced tracks. ``shower.settings`` can override this.
STABLE_LONG_LIVED = ("ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 10")


def tune_settings(config: dict) -> list[str]:
    """What every Pythia that simulates beyond the hard process shares, views and the pile-up
    pool alike: the tune (with its PDF), long-lived particles left stable and, with
    ``shower.tau_decays: hadronic``, the tau decay channels switched off."""
    shower = config.get("shower") or {}
    taus = hadronic_settings() if shower.get("tau_decays", "all") == "hadronic" else []
    return [*TUNES[shower.get("tune", "CP5")], *STABLE_LONG_LIVED, *taus]


def view_settings(config: dict, spec: dict, sample: str | None = None) -> list[str]:
    """Pythia settings of a view: the tune, long-lived particles left stable, the ``shower``
    section, the sample's own shower settings (``sample``: its dark model, if any, then
    ``samples.<sample>.shower_settings``), then the view's own ``settings``."""
    shower = config.get("shower") or {}
    settings = tune_settings(config)
    settings.append(setting_line("PartonLevel:ISR", bool(shower.get("isr", False))))
    settings.append(setting_line("PartonLevel:MPI", bool(shower.get("mpi", True))))
    settings.extend(settings_lines(shower.get("settings")))
    settings.extend(sample_shower_settings(config, sample))
    settings.extend(settings_lines(spec.get("settings")))
    return settings


def sample_shower_settings(config: dict, sample: str | None) -> list[str]:
    """What every view of ``sample`` adds: a dark sample's Hidden Valley sector (its shower,
    hadronisation and decays happen here, not in the hard process), then its
    ``shower_settings``."""
    spec = (config.get("samples") or {}).get(sample) if sample is not None else None
    if spec is None:
        return []
    return [*dark_settings(sample, spec), *settings_lines(spec.get("shower_settings"))]


def settings_lines(extra: dict | list | None) -> list[str]:
    """A config ``settings`` entry ({"Key": value} or a list of "Key = value") as lines."""
    if isinstance(extra, dict):
        return [setting_line(k, v) for k, v in extra.items()]
    return [str(line) for line in extra or ()]


def _last_values(settings: list[str]) -> set[str]:
    """The effective "Key = value" lines (the last of each key wins, as in Pythia)."""
    last = {}
    for line in settings:
        key, _, value = line.partition("=")
        last[key.strip().lower()] = f"{key.strip()} = {value.strip()}"
    return set(last.values())


class PartonEvents(list):
    """Saved parton-level events. Pythia's records point into their generator's particle data,
    so the list keeps that generator alive (restoring an orphaned record crashes). ``taus``:
    per event, the decay channel each of its taus took in the view that saved it
    (:func:`~resim.showers.tau_decays.tau_channels`), for the re-hadronised twins to take."""

    def __init__(self, events: list, owner: pythia8mc.Pythia, taus: list | None = None):
        super().__init__(events)
        self.owner = owner
        self.taus = taus if taus is not None else [None] * len(events)

    def take(self, positions: np.ndarray) -> PartonEvents:
        return PartonEvents([self[i] for i in positions], self.owner,
                            [self.taus[i] for i in positions])


class _EachEvent(pythia8mc.UserHooks):
    """At the start of each ``next()``: skip the LHE events left out, seed this event. With
    ``keep_partons``, also copy the parton-level event (after showers, MPI, beam remnants and
    colour reconnection, before hadronisation) for the view's ``shower`` forks."""

    def __init__(self, keep_partons: bool):
        super().__init__()
        self.pythia = None
        self.keep_partons = keep_partons
        self.queue: list[tuple[int, int]] = []  # (events to skip first, seed), last one next
        self.saved: list = []  # one per event begun

    def onBeginEvent(self) -> None:  # noqa: N802 (Pythia's names)
        skip, seed = self.queue.pop()
        if skip:
            self.pythia.LHAeventSkip(skip)
        self.pythia.rndm.init(seed)
        self.saved.append(None)

    def canVetoPartonLevel(self) -> bool:  # noqa: N802
        return self.keep_partons

    def doVetoPartonLevel(self, event) -> bool:  # noqa: N802
        # the last call of an event wins: Pythia redoes the parton level if hadronisation fails
        self.saved[-1] = pythia8mc.Event(event)
        return False


class _RestoreAndHadronise(pythia8mc.UserHooks):
    """At the start of each ``next()``: restore a saved event, re-seed, hadronise."""

    def __init__(self):
        super().__init__()
        self.pythia = None
        self.queue: list[tuple[pythia8mc.Event, int, dict | None]] = []
        self.ok: list[bool] = []

    def onBeginEvent(self) -> None:  # noqa: N802 (Pythia's name)
        saved, seed, taus = self.queue.pop()
        event = self.pythia.event
        event.assign(saved)
        # assign() copies the parent Pythia's particle-data pointer; without pointing the record
        # back at this instance, decays draw from the parent's random stream (irreproducible).
        event.init("", self.pythia.particleData)
        event.restorePtrs()
        self.pythia.rndm.init(int(seed))
        with forced_channels(self.pythia.particleData, taus):
            self.ok.append(bool(self.pythia.forceHadronLevel(False)))


class Hadroniser:
    """Hadronises saved parton-level events with one view's settings, one seed per event."""

    def __init__(self, settings: list[str], context: str):
        self._hook = _RestoreAndHadronise()
        # HadronLevel:all = off too: next() then only hands the event (hadronised by the hook's
        # forceHadronLevel, which ignores the switch) to nextBatch without a second pass over it.
        self.pythia = new_pythia([*settings, "ProcessLevel:all = off", "PartonLevel:all = off",
                                  "HadronLevel:all = off", "Random:setSeed = on",
                                  "Next:numberCount = 0"],
                                 context, user_hooks=self._hook)
        self._hook.pythia = self.pythia
        self.charge = ChargeTable(self.pythia.particleData)

    def hadronise(self, saved: list, seeds: np.ndarray) -> tuple[ak.Array, np.ndarray]:
        """Records (``nextBatch`` layout, None where ``saved`` is None or hadronisation failed)
        and the mask of events whose hadronisation failed (junctions and the like). Each tau
        decays through the channel it took in the view that saved the event (``saved``'s
        ``taus`` when it is a :class:`PartonEvents`)."""
        todo = [i for i, event in enumerate(saved) if event is not None]
        taus = getattr(saved, "taus", [None] * len(saved))
        self._hook.queue = [(saved[i], seeds[i], taus[i]) for i in reversed(todo)]
        self._hook.ok = []
        records = self.pythia.nextBatch(len(todo), "none") if todo else None
        ok = np.array(self._hook.ok, dtype=bool)
        if len(ok) != len(todo):
            raise GeneratorError(f"{len(todo)} events to hadronise, {len(ok)} hadronised")
        failed = np.zeros(len(saved), dtype=bool)
        failed[np.array(todo, dtype=np.int64)[~ok]] = True
        return _place(records, todo, ok, len(saved)), failed


def _place(records: ak.Array | None, todo: list[int], ok: np.ndarray, n: int) -> ak.Array:
    """Spread ``records`` (one per entry of ``todo``) over n slots; None elsewhere and where
    ``ok`` is False."""
    if records is None:
        return ak.Array([None] * n)
    records = ak.mask(records, ok)
    slot = np.full(n, -1, dtype=np.int64)
    slot[np.array(todo, dtype=np.int64)] = np.arange(len(todo))
    return records[ak.mask(slot, slot >= 0)]


def _check_in_step(pythia: pythia8mc.Pythia, batch: LHEBatch, id1: np.ndarray,
                   id2: np.ndarray, ok: np.ndarray, view: str) -> None:
    """Pythia reads the LHE file itself: its incoming partons must be those of our reader."""
    lhe = np.array([e.incoming for e in batch.events], dtype=np.int64).reshape(-1, 2)
    bad = ok & ((id1 != lhe[:, 0]) | (id2 != lhe[:, 1]))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GeneratorError(f"view {view}: Pythia is out of step with the LHE file at event "
                             f"{batch.events[i].index} (incoming {id1[i]} {id2[i]}, file says "
                             f"{lhe[i, 0]} {lhe[i, 1]})")
    if (~ok).any() and pythia.infoPython().atEndOfFile():
        raise GeneratorError(f"view {view}: Pythia reached the end of the LHE file before event "
                             f"{batch.events[-1].index}")


@register_shower("pythia")
class PythiaShower:
    """Pythia 8 showering an LHE file with one view's settings and seed."""

    supports_partons = True

    def __init__(self, config: dict, view: str, spec: dict, manifest: SeedManifest,
                 keep_partons: bool = False):
        self.view, self.keep_partons = view, keep_partons
        self.settings = view_settings(config, spec, manifest.sample)
        if {"PartonShowers:model = 2", "PartonLevel:ISR = off"} <= _last_values(self.settings):
            log.warning("views.%s: Vincia with ISR off does not radiate off partons colour-"
                        "connected to the beams (initial-final antennae belong to its ISR)", view)
        self.seed = manifest.seed(view, "shower")
        self.pythia = None
        self._hook = _EachEvent(keep_partons)
        self._next_index = 0  # the LHE event Pythia reads next

    @property
    def info(self) -> dict:
        return {"backend": "pythia", "settings": self.settings, "seed": self.seed,
                "versions": {"pythia8mc": pythia_version()}}

    def open(self, lhe_path) -> None:
        settings = ["Beams:frameType = 4", f"Beams:LHEF = {lhe_path}", "Next:numberCount = 0",
                    "Random:setSeed = on", f"Random:seed = {self.seed}", *self.settings]
        self.pythia = new_pythia(settings, f"views.{self.view} (LHE file {lhe_path})",
                                 user_hooks=self._hook)
        self._hook.pythia = self.pythia
        self._next_index = 0
        self.charge = ChargeTable(self.pythia.particleData)

    def _queue(self, batch: LHEBatch) -> np.ndarray:
        """Tell the hook, per event of ``batch``, how many LHE events to skip before it and
        its seed; returns the events' indices."""
        index = np.array([e.index for e in batch.events], dtype=np.int64)
        skip = np.diff(index, prepend=self._next_index - 1) - 1
        if len(index) and skip.min() < 0:
            raise GeneratorError(f"view {self.view}: events must come in file order (event "
                                 f"{index[np.argmin(skip)]} after {self._next_index - 1})")
        self._hook.queue = list(zip(skip.tolist(), event_seeds(self.seed, index).tolist()))[::-1]
        self._hook.saved = []
        if len(index):
            self._next_index = int(index[-1]) + 1
        return index

    def shower(self, batch: LHEBatch) -> Branch:
        if self.pythia is None:
            raise RuntimeError("PythiaShower.open() must come before shower()")
        self._queue(batch)
        records = self.pythia.nextBatch(len(batch), "none")
        ok = ~ak.to_numpy(ak.is_none(records, axis=0))
        id1 = ak.to_numpy(ak.fill_none(records.info.id1, 0)).astype(np.int64)
        id2 = ak.to_numpy(ak.fill_none(records.info.id2, 0)).astype(np.int64)
        _check_in_step(self.pythia, batch, id1, id2, ok, self.view)
        particles, failed = final_state(records, self.charge)
        saved = None
        if self.keep_partons:
            saved = PartonEvents([event if good else None
                                  for event, good in zip(self._hook.saved, ok)], self.pythia,
                                 tau_channels(records))
        extra = {"shower_failed": int((~ok).sum())}
        split = first_splits(records, batch.truth)
        return Branch(particles, failed, split, saved, {**self.info, **extra})

    def close(self) -> None:
        self.pythia = None
