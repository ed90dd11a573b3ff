"""Hard processes of the embedded backend, in Pythia 8's language.

Each process is one or more *channels* (a set of Pythia process switches), mixed within a
shard in fixed proportions (``yields``). ``tagged`` says which outgoing objects the sample's
pT window and |eta| cut apply to: Pythia's ``PhaseSpace:pTHatMin/Max`` already bound the
pT of a 2 -> 2 process, but it cannot cut on pseudorapidity, nor on the pT of a particle that is
not one of the two outgoing legs; :mod:`resim.hard.pythia` applies those cuts as a filter.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checks import register_check
from ..errors import ConfigError

Z_TO_NUNU = ("23:onMode = off", "23:onIfAny = 12 14 16")
QUARK, GLUON = frozenset({"q"}), frozenset({"g", "g_bb", "g_cc", "g_qq"})


@dataclass(frozen=True)
class Channel:
    name: str
    settings: tuple[str, ...]
    yield_: float = 1.0


@dataclass(frozen=True)
class Process:
    """``tagged``: "parton" (outgoing quark/gluon of the 2 -> 2), a PDG id (|id| of a resonance
    of the record), or "all" (both outgoing legs of the 2 -> 2). ``labels``: the jet labels
    (``resim.contracts.LABELS``) its matched jets can carry."""

    channels: tuple[Channel, ...]
    tagged: str | int
    description: str
    labels: frozenset[str] = frozenset()


QQ = Channel("qq", ("HardQCD:gg2qqbar = on", "HardQCD:qqbar2qqbarNew = on"), 3.0)
GG = Channel("gg", ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"), 3.0)
# f fbar -> gamma*/Z -> tau tau as a 2 -> 2, so that pTHatMin bounds the taus' pT
TAUTAU = Channel("tautau", ("WeakSingleBoson:ffbar2ffbar(s:gmZ) = on", "23:onMode = off",
                            "23:onIfAny = 15"), 1.0)

# Z' (Pythia's Zv, 4900023) -> qv qvbar. 500 GeV, far below the TeV masses of the ATLAS search,
# so that its dark jets (pT up to m/2 = 250 GeV) overlap the pT > 100 GeV SM dijets they are
# resampled to; the range bounds the Breit-Wigner tail.
ZPRIME_DARK = Channel("zprime", ("HiddenValley:ffbar2Zv = on", "4900023:m0 = 500.0",
                                 "4900023:mMin = 300.0", "4900023:mMax = 800.0",
                                 "4900023:onMode = off", "4900023:onIfAny = 4900101"))


@dataclass(frozen=True)
class DarkModel:
    """A dark QCD sector in Pythia's Hidden Valley module (SU(``n_colours``), ``n_flavours``
    dark quarks). Dark pions (pseudoscalars) decay to the heaviest SM quark pair they can reach
    (a vector mediator couples them in proportion to the quark mass); dark rhos to two dark pions
    when m_rho > 2 m_pi, else to any light SM quark pair (u, d, s, c, b, democratic). Every decay
    is prompt (tau0 = 0) and showers/hadronises in the SM (meMode 91), so no dark hadron
    reaches the detector."""

    lambda_dark: float       # GeV, HiddenValley:Lambda (running alpha_dark, one loop)
    m_quark: float           # GeV, 4900101/4900102:m0
    m_pion: float            # GeV, 4900111/4900211:m0
    m_rho: float             # GeV, 4900113/4900213:m0
    pion_decay: int          # SM quark of the dark pion's decay
    prob_vector: float = 0.75  # HiddenValley:probVector (Pythia's default, 3 spin states : 1)
    n_colours: int = 3       # HiddenValley:Ngauge
    n_flavours: int = 2      # HiddenValley:nFlav

    def settings(self) -> tuple[str, ...]:
        pions, rhos = ("4900111", "4900211"), ("4900113", "4900213")
        lines = [
            f"HiddenValley:Ngauge = {self.n_colours}", f"HiddenValley:nFlav = {self.n_flavours}",
            "HiddenValley:FSR = on", "HiddenValley:fragment = on",
            "HiddenValley:alphaOrder = 1", f"HiddenValley:Lambda = {self.lambda_dark}",
            # the dark shower stops just above the confinement scale (Pythia requires > Lambda)
            f"HiddenValley:pTminFSR = {1.1 * self.lambda_dark:.6g}",
            f"HiddenValley:probVector = {self.prob_vector}",
            f"4900101:m0 = {self.m_quark}", f"4900102:m0 = {self.m_quark}",
            *(f"{p}:m0 = {self.m_pion}" for p in pions), *(f"{r}:m0 = {self.m_rho}" for r in rhos)]
        q = self.pion_decay
        lines += [f"{p}:oneChannel = 1 1.0 91 {q} -{q}" for p in pions]
        if self.m_rho > 2 * self.m_pion:
            lines += ["4900113:oneChannel = 1 1.0 0 4900211 -4900211",
                      "4900213:oneChannel = 1 1.0 0 4900211 4900111"]
        else:
            for r in rhos:
                lines.append(f"{r}:oneChannel = 1 0.2 91 1 -1")
                lines += [f"{r}:addChannel = 1 0.2 91 {k} -{k}" for k in (2, 3, 4, 5)]
        return tuple(lines)


#: The four dark-jet models (docs/seed001.md documents each number).
#: They span the axes of the ATLAS dark-quark search (JHEP 02 (2024) 128): the confinement
#: scale, the dark-pion mass, and whether the dark rho can decay to dark pions.
DARK_MODELS: dict[str, DarkModel] = {
    "A": DarkModel(lambda_dark=5.0, m_quark=2.0, m_pion=4.0, m_rho=9.0, pion_decay=4),
    "B": DarkModel(lambda_dark=10.0, m_quark=5.0, m_pion=12.0, m_rho=30.0, pion_decay=5),
    "C": DarkModel(lambda_dark=20.0, m_quark=10.0, m_pion=20.0, m_rho=50.0, pion_decay=5),
    "D": DarkModel(lambda_dark=10.0, m_quark=5.0, m_pion=12.0, m_rho=18.0, pion_decay=5),
}


#: Seed 001's supervised benchmark model (its dark jets are the most anomalous).
DEFAULT_DARK_MODEL = "C"


def is_dark(spec: dict) -> bool:
    """Whether a sample is a dark-jet (anomaly signal) sample."""
    return spec.get("process") == "dijet_dark"


def dark_settings(sample: str, spec: dict) -> tuple[str, ...]:
    """The Pythia settings of a sample's dark model (none for an SM sample): the hard process
    and every view's shower and hadronisation must read the same ones."""
    if not is_dark(spec):
        return ()
    model = spec.get("dark_model", DEFAULT_DARK_MODEL)
    if model not in DARK_MODELS:
        raise ConfigError(f"samples.{sample}.dark_model: unknown dark model {model!r} "
                          f"(known: {', '.join(DARK_MODELS)})")
    return DARK_MODELS[model].settings()


PROCESSES: dict[str, Process] = {
    # RS3L (seed 000): the Z decays to neutrinos, so the recoiling parton is the only visible jet.
    "zjet_nunu": Process(
        (Channel("zjet", ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
                          "WeakZ0:gmZmode = 2", *Z_TO_NUNU)),),
        tagged="parton", description="pp -> Z(->nunu) + jet", labels=QUARK | GLUON),
    "hz_bb_nunu": Process(
        (Channel("hz", ("HiggsSM:ffbar2HZ = on", "25:onMode = off", "25:onIfMatch = 5 -5",
                        *Z_TO_NUNU)),),
        tagged=25, description="pp -> HZ, H -> bb, Z -> nunu", labels=frozenset({"H_bb"})),
    # Out-of-distribution W jets: seed 000 does not say how they were made. WZ with Z -> nunu
    # mirrors HZ (the boosted W recoils against an invisible Z, so it is the only visible jet),
    # with W -> q q' (any of the five light flavours) in the same pT/eta window as H and QCD.
    "wz_qq_nunu": Process(
        (Channel("wz", ("WeakDoubleBoson:ffbar2ZW = on", "24:onMode = off",
                        "24:onIfAny = 1 2 3 4 5", *Z_TO_NUNU)),),
        tagged=24, description="pp -> WZ, W -> qq', Z -> nunu", labels=frozenset({"W_qq"})),
    # Shared-shower SSL (seed 001): pairs of quarks (u, d, s: Pythia's HardQCD:nQuarkNew = 3),
    # gluons or taus, mixed 3 : 3 : 1 in every shard, or one kind per sample.
    "dijet_qgtau": Process((QQ, GG, TAUTAU), tagged="all",
                           description="pp -> qq / gg / tau tau pairs (3 : 3 : 1)",
                           labels=QUARK | GLUON | {"tau"}),
    "dijet_qq": Process((QQ,), tagged="all", description="pp -> q qbar pairs", labels=QUARK),
    "dijet_gg": Process((GG,), tagged="all", description="pp -> g g pairs", labels=GLUON),
    "ditau": Process((TAUTAU,), tagged="all", description="pp -> tau tau pairs",
                     labels=frozenset({"tau"})),
    # Anomaly-detection signal (seed 001 §5.5): a Z' decaying to a dark-quark pair, each dark
    # quark showering and hadronising in the dark sector (settings: DARK_MODELS, chosen by
    # samples.<name>.dark_model), the dark hadrons decaying back to SM quarks. Both dark quarks
    # in the SM dijets' window.
    "dijet_dark": Process((ZPRIME_DARK,), tagged="all",
                          description="pp -> Z' -> dark-quark pair (Hidden Valley)",
                          labels=frozenset({"dark"})),
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


@register_check("embedded processes")
def _embedded_process_problems(config: dict):
    """A sample of the embedded backend names one of :data:`PROCESSES`, a dark model only for
    a dark-jet sample, and yields of the process's own channels."""
    for sample, spec in config["samples"].items():
        if spec.get("backend", "embedded") != "embedded":
            continue  # a plug-in backend's processes are its own
        process = PROCESSES.get(spec["process"])
        if process is None:
            yield (f"samples.{sample}.process: unknown process {spec['process']!r} for the "
                   f"embedded backend (known: {', '.join(sorted(PROCESSES))})")
            continue
        if "dark_model" in spec and not is_dark(spec):
            yield (f"samples.{sample}.dark_model: only a dark-jet sample (process dijet_dark) "
                   f"has a dark model, not {spec['process']!r}")
        elif is_dark(spec) and spec.get("dark_model", DEFAULT_DARK_MODEL) not in DARK_MODELS:
            yield (f"samples.{sample}.dark_model: unknown dark model {spec['dark_model']!r} "
                   f"(known: {', '.join(DARK_MODELS)})")
        channels = {c.name for c in process.channels}
        extra = sorted(set(spec.get("yields") or {}) - channels)
        if extra:
            yield (f"samples.{sample}.yields: unknown channels {extra} of {spec['process']!r} "
                   f"(known: {', '.join(sorted(channels))})")


@register_check("task labels")
def _task_label_problems(config: dict):
    """Every label a fine-tuning task names must be one the SM samples' jets can carry (known
    for the embedded processes only: another backend's sample may carry any label)."""
    from ..formats.jetclass import LABELS as JETCLASS_LABELS

    labels: set[str] = set()
    for spec in config["samples"].values():
        if is_dark(spec):
            continue
        process = PROCESSES.get(spec["process"])
        if spec.get("backend", "embedded") != "embedded" or process is None:
            return
        labels |= process.labels
    for task, spec in ((config.get("finetune") or {}).get("tasks") or {}).items():
        for side in ("signal", "background"):
            # JetClass labels name the branches of JetClass files: checked when they are read
            missing = [name for name in spec.get(side, [])
                       if name not in labels and name not in JETCLASS_LABELS]
            if missing:
                yield (f"finetune.tasks.{task}.{side}: labels {missing} are in no sample's jets "
                       f"(the samples' processes give {sorted(labels)})")
