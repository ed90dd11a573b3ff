"""tau decays: which channels a run keeps, and the channel each tau of a shared shower took.

Pythia decays tau leptons at hadron level, after string fragmentation, from the same random
stream. A re-hadronised view (``shower`` fork) would therefore redraw every tau's decay, and a
pair would share the tau's momentum but not its decay (measured: the twins agreed on leptonic vs
hadronic for 53 % of taus, as independent draws do). A tau decay is no part of hadronisation:
the twin decays each tau of the shared parton-level event through the channel its partner took
(:func:`tau_channels` reads them from the partner's record, :func:`forced_channels` makes the
twin's Pythia take them), and only the kinematics of the decay and the rest of the hadron level
are drawn anew.

``shower.tau_decays: hadronic`` keeps the channels with 1 or 3 charged hadrons (seed 001 §3):
the leptonic ones and those with 5 prongs are switched off in every view.
"""

from __future__ import annotations

import contextlib
import functools
import itertools

import awkward as ak
import numpy as np
import pythia8mc

TAU = 15
PRONGS = frozenset({1, 3})
#: Particles decaying faster than this (mm) decay in the generator (``STABLE_LONG_LIVED``).
TAU0_MAX = 10.0


def _charged_hadrons(data, pid: int, depth: int = 0) -> frozenset[int]:
    """The numbers of charged hadrons ``pid`` can end up as: itself if it reaches the detector,
    else any sum over the products of one of its decay channels (eta, omega: 0 or 2)."""
    apid = abs(pid)
    entry = data.particleDataEntryPtr(apid)
    channels = [entry.channel(i) for i in range(entry.sizeChannels())]
    channels = [c for c in channels if c.bRatio() > 0]
    if depth > 3 or not channels or not data.mayDecay(apid) or data.tau0(apid) > TAU0_MAX:
        return frozenset({int(data.isHadron(apid) and data.charge(pid) != 0)})
    counts = set()
    for channel in channels:
        parts = [_charged_hadrons(data, channel.product(j), depth + 1)
                 for j in range(channel.multiplicity())]
        counts.update(sum(c) for c in itertools.product(*parts))
    return frozenset(counts)


@functools.lru_cache(maxsize=1)
def _pythia() -> pythia8mc.Pythia:
    """Pythia's default particle data (uninitialised: cheap), kept alive for its tables."""
    return pythia8mc.Pythia("", False)


@functools.lru_cache(maxsize=1)
def _table() -> tuple[tuple[tuple[int, ...], frozenset[int]], ...]:
    """Pythia's tau- decay channels: (sorted products, possible charged-hadron counts)."""
    data = _pythia().particleData
    entry = data.particleDataEntryPtr(TAU)
    table = []
    for i in range(entry.sizeChannels()):
        channel = entry.channel(i)
        products = [channel.product(j) for j in range(channel.multiplicity())]
        counts = frozenset(sum(c) for c in itertools.product(
            *[_charged_hadrons(data, p) for p in products]))
        table.append((tuple(sorted(products)), counts))
    return tuple(table)


def hadronic_settings() -> list[str]:
    """Pythia lines switching off every tau decay channel that can give other than 1 or 3
    charged hadrons (the leptonic ones, the 5-prong ones)."""
    return [f"{TAU}:{i}:onMode = off" for i, (_, counts) in enumerate(_table())
            if not counts <= PRONGS]


@functools.lru_cache(maxsize=1)
def _channel_of() -> dict[tuple[int, ...], int]:
    return {products: i for i, (products, _) in enumerate(_table())}


def tau_channels(records: ak.Array) -> list[dict[int, int] | None]:
    """Per event of a ``nextBatch`` result: {tau id (15 or -15): channel index} of its decayed
    taus, None for an event without any (or a failed one). Two taus of one sign that took
    different channels cannot both be forced: that sign is left out."""
    out: list[dict[int, int] | None] = [None] * len(records)
    ok = ~ak.to_numpy(ak.is_none(records, axis=0))
    prt = records.prt[ok]
    ids = prt.id
    decayed = (abs(ids) == TAU) & (prt.daughter1 > 0)
    if not ak.any(decayed):
        return out
    first = prt.daughter1[decayed]
    last = ak.where(prt.daughter2[decayed] > 0, prt.daughter2[decayed], first)
    # a tau whose daughter is a tau only radiated (a copy): its last copy carries the decay
    real = abs(ids[first]) != TAU
    events = np.flatnonzero(ok)
    flat_ids = ak.to_numpy(ak.flatten(ids))
    starts = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(ids)))])
    channel_of = _channel_of()
    data = _pythia().particleData
    for k, (tau_ids, d1, d2, keep) in enumerate(zip(ak.to_list(ids[decayed]), ak.to_list(first),
                                                   ak.to_list(last), ak.to_list(real))):
        chosen: dict[int, set[int]] = {}
        for tau, a, b, is_decay in zip(tau_ids, d1, d2, keep):
            if not is_decay:
                continue
            products = flat_ids[starts[k] + a:starts[k] + b + 1].tolist()
            if tau < 0:
                products = [-p if data.hasAnti(p) else p for p in products]
            channel = channel_of.get(tuple(sorted(products)))
            if channel is not None:
                chosen.setdefault(tau, set()).add(channel)
        forced = {tau: next(iter(c)) for tau, c in chosen.items() if len(c) == 1}
        out[events[k]] = forced or None
    return out


@contextlib.contextmanager
def forced_channels(data, channels: dict[int, int] | None):
    """Within the block, tau- (15) decays only through ``channels[15]`` and tau+ through
    ``channels[-15]`` (Pythia's onMode 2 / 3: on for the particle / the antiparticle only);
    a sign not in ``channels`` keeps its modes. Restores the modes afterwards."""
    if not channels:
        yield
        return
    entry = data.particleDataEntryPtr(TAU)
    before = [entry.channel(i).onMode() for i in range(entry.sizeChannels())]
    try:
        for i, mode in enumerate(before):
            particle = i == channels[TAU] if TAU in channels else mode in (1, 2)
            anti = i == channels[-TAU] if -TAU in channels else mode in (1, 3)
            entry.channel(i).onMode({(True, True): 1, (True, False): 2, (False, True): 3,
                                     (False, False): 0}[(particle, anti)])
        yield
    finally:
        for i, mode in enumerate(before):
            entry.channel(i).onMode(mode)
