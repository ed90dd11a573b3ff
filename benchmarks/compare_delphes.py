"""The embedded detector against real Delphes (CMS card, ``ParticleFlowCandidate``), same events.

Per sample (H -> bb from HZ, W -> qq' from WZ, QCD jets from Z + jet; pT 400-600 GeV, |eta| <
0.1 at generation), the hard events (``resim.hard``) and the nominal view (``resim.forks``:
Pythia shower + hadronisation, the shared settings, K0S / Lambda left to the detector) go through
Delphes (``resim.detector.delphes``) and through the embedded detector, in both impact-parameter
modes. Jets: anti-kt R = 0.8 on the candidates, matched to the truth object (``resim.matching``)
as the dataset stage does; the *hadron-level* jet is clustered from the same view's final-state
particles (neutrinos out) and matched to the same object. Only objects with a matched jet at
hadron level and in every detector count.

Printed per jet kind: mass peak (median within +-40 % of the boson mass; for QCD jets the median
mass) and width (half the 16-84 % range, same window), pT and mass response (median of detector
/ hadron-level jet), constituents, composition (pT fractions of charged, photon, neutral-hadron
candidates), N2, tracks with |D0| > 0.1 mm per jet (both impact-parameter modes); the goal is the
largest difference from Delphes the embedded detector may have. Skips (exit 0, a message)
without Delphes.

Usage: python benchmarks/compare_delphes.py [--events 1000] [--workdir DIR]  (≈ 3 min on one core)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]

SAMPLES = {  # name: (process, boson mass or None, label)
    "higgs": ("hz_bb_nunu", 125.0, "H"),
    "wjet": ("wz_qq_nunu", 80.4, "W"),
    "qcd": ("zjet_nunu", None, "QCD"),
}
#: (row, summary key, embedded detector's impact-parameter mode, goal: the largest
#: |embedded - Delphes| accepted, None: reported only)
QUANTITIES = (
    ("mass peak [GeV]", "peak", "cms", 3.0), ("mass width [GeV]", "width", "cms", 3.0),
    ("pT response", "pt_response", "cms", 0.02), ("mass response", "mass_response", "cms", 0.03),
    ("constituents", "n", "cms", 5.0), ("charged pT fraction", "charged", "cms", 0.03),
    ("photon pT fraction", "photon", "cms", 0.03),
    ("neutral hadron pT fraction", "neutral", "cms", 0.03), ("N2", "n2", "cms", 0.02),
    ("|D0| > 0.1 mm tracks, IP mode delphes", "displaced", "delphes", 0.5),
    ("|D0| > 0.1 mm tracks, IP mode cms", "displaced", "cms", None),
)
R = 0.8


def compare_config(events: int) -> dict:
    from resim.config import validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["run"]["events_per_shard"] = events
    config["samples"] = {name: {"process": process, "backend": "embedded", "shards": 1,
                                "pt_range": [400.0, 600.0], "eta_max": 0.1}
                         for name, (process, _, _) in SAMPLES.items()}
    config["views"] = {"nominal": {"fork": "hard", "backend": "pythia"}}
    config["dataset"].pop("view_order", None)
    config["dataset"].pop("splits", None)
    return validate(config)


def hadron_candidates(particles: ak.Array) -> ak.Array:
    """The final-state particles (neutrinos out) in the candidates' layout."""
    apid = abs(particles.pid)
    visible = particles[(apid != 12) & (apid != 14) & (apid != 16)]
    pt = np.hypot(visible.px, visible.py)
    return ak.zip({"PT": pt, "Eta": np.arcsinh(visible.pz / pt),
                   "Phi": np.arctan2(visible.py, visible.px), "E": visible.E,
                   "Charge": visible.charge, "PID": visible.pid,
                   "D0": 0 * pt, "DZ": 0 * pt})


def matched_jets(batch, candidates: ak.Array) -> dict[str, np.ndarray]:
    """Per jet-like truth object: its jet's observables (NaN where no jet matched)."""
    from resim import jets as jetlib
    from resim.matching import match

    jets, index = jetlib.cluster(candidates, R, 20.0)
    m = match(batch.truth, jets, R)
    has = m["jet"] >= 0
    table = jetlib.jet_arrays(candidates, jets, index, m["event"][has], m["jet"][has])[2]
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(jets, axis=1)))])
    flat_index = ak.flatten(index, axis=1)[offsets[m["event"][has]] + m["jet"][has]]
    cands = candidates[m["event"][has]][flat_index]
    total = ak.to_numpy(ak.sum(cands.PT, axis=1))
    kind = {"charged": cands.Charge != 0, "photon": (cands.Charge == 0) & (cands.PID == 22),
            "neutral": (cands.Charge == 0) & (cands.PID != 22)}
    columns = {"pt": table[:, 0], "mass": table[:, 3], "n": table[:, 5], "n2": table[:, 6],
               "displaced": ak.to_numpy(ak.sum((cands.Charge != 0) & (abs(cands.D0) > 0.1),
                                               axis=1)).astype(float)}
    for name, sel in kind.items():
        columns[name] = ak.to_numpy(ak.sum(cands.PT[sel], axis=1)) / total
    out = {}
    for name, values in columns.items():
        full = np.full(len(has), np.nan)
        full[has] = values
        out[name] = full
    out["label"] = m["label"]
    return out


def concat(parts: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def simulate_sample(config: dict, sample: str, workdir: Path, delphes) -> dict[str, dict]:
    """Hadron-level and detector-level jets of every jet-like object of one sample."""
    from resim.detector.embedded import EmbeddedDetector
    from resim.forks import run_views
    from resim.hard import generate
    from resim.seeds import derive_seed

    lhe = workdir / f"{sample}.lhe.gz"
    generate(config, sample, 0, lhe)
    detectors = {"delphes": delphes, "embedded": EmbeddedDetector({"impact_parameters": "cms"}),
                 "embedded_ipd": EmbeddedDetector({"impact_parameters": "delphes"})}
    seed = derive_seed(config["run"]["seed"], sample, 0, "nominal", "detector")
    parts: dict[str, list] = {"hadron": [], **{k: [] for k in detectors}}
    seconds = dict.fromkeys(detectors, 0.0)
    for group in run_views(config, sample, 0, lhe, "nominal",
                           batch_size=config["run"]["batch_size"]):
        batch = group["nominal"]
        parts["hadron"].append(matched_jets(batch, hadron_candidates(batch.particles)))
        for name, detector in detectors.items():
            start = time.perf_counter()
            candidates = detector.simulate(batch, seed, workdir)
            seconds[name] += time.perf_counter() - start
            parts[name].append(matched_jets(batch, candidates))
    print(f"  {sample}: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()),
          file=sys.stderr)
    return {k: concat(v) for k, v in parts.items()}


def summary(jets: dict[str, np.ndarray], hadron: dict[str, np.ndarray], ok: np.ndarray,
            boson_mass: float | None) -> dict[str, float]:
    mass = jets["mass"][ok]
    window = (np.abs(mass / boson_mass - 1) < 0.4) if boson_mass else np.ones(len(mass), bool)
    q16, q50, q84 = np.percentile(mass[window], [16, 50, 84])
    return {
        "peak": q50, "width": (q84 - q16) / 2,
        "pt_response": np.median(jets["pt"][ok] / hadron["pt"][ok]),
        "mass_response": np.median(jets["mass"][ok] / hadron["mass"][ok]),
        **{k: np.mean(jets[k][ok]) for k in ("n", "charged", "photon", "neutral", "displaced")},
        "n2": np.median(jets["n2"][ok]),
    }


def table(results: dict[str, dict[str, dict]]) -> tuple[list[str], int]:
    lines = [f"{'jets':4} {'quantity':38} {'Delphes':>9} {'embedded':>9} {'goal':>10}  {'':4}"]
    failed = 0
    for sample, (_, boson_mass, label) in SAMPLES.items():
        jets = results[sample]
        ok = np.isfinite(jets["hadron"]["mass"]) & (jets["hadron"]["mass"] > 0)
        for name in ("delphes", "embedded", "embedded_ipd"):
            ok &= np.isfinite(jets[name]["mass"])
        ok &= jets["hadron"]["pt"] > 300.0
        rows = {name: summary(jets[name], jets["hadron"], ok, boson_mass)
                for name in ("delphes", "embedded", "embedded_ipd")}
        hadron = summary(jets["hadron"], jets["hadron"], ok, boson_mass)
        lines.append(f"{label} ({ok.sum()} jets; hadron level: mass {hadron['peak']:.1f} GeV, "
                     f"{hadron['n']:.1f} particles, N2 {hadron['n2']:.3f})")
        for quantity, key, mode, goal in QUANTITIES:
            embedded = rows["embedded" if mode == "cms" else "embedded_ipd"]
            d, e = rows["delphes"][key], embedded[key]
            verdict = "" if goal is None else ("ok" if abs(e - d) <= goal else "FAIL")
            failed += verdict == "FAIL"
            goal_text = "report" if goal is None else f"+-{goal:g}"
            lines.append(f"{'':4} {quantity:38} {d:9.3f} {e:9.3f} {goal_text:>10}  {verdict}")
    return lines, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="hard events per sample")
    parser.add_argument("--workdir", type=Path, help="keep the LHE files here (default: temp)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from resim.backends import DELPHES
    from resim.detector.delphes import DelphesDetector

    if DELPHES.locate() is None:
        print("compare_delphes: skipped, Delphes not found "
              f"({DELPHES.missing_message('this comparison')})")
        return 0
    config = compare_config(args.events)
    delphes = DelphesDetector({"delphes": {"block_events": config["run"]["batch_size"]}})
    with tempfile.TemporaryDirectory(prefix="compare-delphes-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = {s: simulate_sample(config, s, workdir, delphes) for s in SAMPLES}
    lines, failed = table(results)
    print("\n".join(lines))
    print(f"{failed} quantities outside their goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
