"""Hard processes of the embedded backend, in Pythia 8's language.

Each process is one or more *channels* (a set of Pythia process switches), mixed within a
shard in fixed proportions (``yields``). ``tagged`` says which outgoing objects the sample's
pT window and |eta| cut apply to: Pythia's ``PhaseSpace:pTHatMin/Max`` already bound the
pT of a 2 -> 2 process, but it cannot cut on pseudorapidity, nor on the pT of a particle that is
not one of the two outgoing legs; :mod:`resim.hard.pythia` applies those cuts as a filter.
"""

from __future__ import annotations

from dataclasses import dataclass

Z_TO_NUNU = ("23:onMode = off", "23:onIfAny = 12 14 16")


@dataclass(frozen=True)
class Channel:
    name: str
    settings: tuple[str, ...]
    yield_: float = 1.0


@dataclass(frozen=True)
class Process:
    """``tagged``: "parton" (outgoing quark/gluon of the 2 -> 2), a PDG id (|id| of a resonance
    of the record), or "all" (both outgoing legs of the 2 -> 2)."""

    channels: tuple[Channel, ...]
    tagged: str | int
    description: str


QQ = Channel("qq", ("HardQCD:gg2qqbar = on", "HardQCD:qqbar2qqbarNew = on"), 3.0)
GG = Channel("gg", ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"), 3.0)
# f fbar -> gamma*/Z -> tau tau as a 2 -> 2, so that pTHatMin bounds the taus' pT
TAUTAU = Channel("tautau", ("WeakSingleBoson:ffbar2ffbar(s:gmZ) = on", "23:onMode = off",
                            "23:onIfAny = 15"), 1.0)

PROCESSES: dict[str, Process] = {
    # RS3L (seed 000): the Z decays to neutrinos, so the recoiling parton is the only visible jet.
    "zjet_nunu": Process(
        (Channel("zjet", ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
                          "WeakZ0:gmZmode = 2", *Z_TO_NUNU)),),
        tagged="parton", description="pp -> Z(->nunu) + jet"),
    "hz_bb_nunu": Process(
        (Channel("hz", ("HiggsSM:ffbar2HZ = on", "25:onMode = off", "25:onIfMatch = 5 -5",
                        *Z_TO_NUNU)),),
        tagged=25, description="pp -> HZ, H -> bb, Z -> nunu"),
    # Out-of-distribution W jets: seed 000 does not say how they were made. WZ with Z -> nunu
    # mirrors HZ (the boosted W recoils against an invisible Z, so it is the only visible jet),
    # with W -> q q' (any of the five light flavours) in the same pT/eta window as H and QCD.
    "wz_qq_nunu": Process(
        (Channel("wz", ("WeakDoubleBoson:ffbar2ZW = on", "24:onMode = off",
                        "24:onIfAny = 1 2 3 4 5", *Z_TO_NUNU)),),
        tagged=24, description="pp -> WZ, W -> qq', Z -> nunu"),
    # Shared-shower SSL (seed 001): pairs of quarks (u, d, s: Pythia's HardQCD:nQuarkNew = 3),
    # gluons or taus, mixed 3 : 3 : 1 in every shard, or one kind per sample.
    "dijet_qgtau": Process((QQ, GG, TAUTAU), tagged="all",
                           description="pp -> qq / gg / tau tau pairs (3 : 3 : 1)"),
    "dijet_qq": Process((QQ,), tagged="all", description="pp -> q qbar pairs"),
    "dijet_gg": Process((GG,), tagged="all", description="pp -> g g pairs"),
    "ditau": Process((TAUTAU,), tagged="all", description="pp -> tau tau pairs"),
}


def channel_schedule(yields: list[float], n_events: int) -> list[int]:
    """Which channel makes each event: a weighted round robin, so that every prefix of the
    shard (every batch) holds the channels in their proportions."""
    total = sum(yields)
    counts = [0] * len(yields)
    order = []
    for i in range(n_events):
        deficit = [y * (i + 1) / total - c for y, c in zip(yields, counts)]
        best = max(range(len(yields)), key=lambda k: deficit[k])
        counts[best] += 1
        order.append(best)
    return order
