"""Pile-up overlay cost against the rest of the chain per view, measured in the same run.

One QCD shard of the default config, nominal view: the chain without pile-up (LHE -> Pythia
shower and hadronisation -> detector -> jets) is the reference; then the same view batches
through overlay + detector + subtraction + jets at ``--mu`` (default 150, seed 001's), with the
default cone and with every pool particle simulated (``cone: null``), without and with CHS.
Printed: CPU ms per event, the overlay's extra cost / the chain's cost (goal <= 1), and how
often each pool event is reused. CPU time (this process), not wall time.

Usage: python benchmarks/bench_pileup.py [--events 200] [--mu 150] [--pool 2000]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
clock = time.process_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--mu", type=float, default=150.0)
    parser.add_argument("--pool", type=int, default=2000, help="pool events")
    args = parser.parse_args()

    from resim.config import validate
    from resim.dataset.simulate import _Reconstruction
    from resim.forks import run_views
    from resim.hard import generate
    from resim.pileup.pool import generate_pool
    from resim.seeds import SeedManifest

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["run"]["events_per_shard"] = args.events
    config["views"] = {"nominal": config["views"]["nominal"]}
    config["dataset"]["view_order"] = None
    config["pileup"] = {"mu": args.mu, "pool_events": args.pool}
    config = validate(config)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = clock()
        generate_pool(config, 0, tmp / "pool.h5")
        t_pool = clock() - start
        generate(config, "qcd", 0, tmp / "qcd.lhe.gz")
        start = clock()
        batches = [views["nominal"] for views in run_views(config, "qcd", 0, tmp / "qcd.lhe.gz",
                                                           batch_size=100)]
        t_shower = clock() - start
        n = sum(len(b) for b in batches)

        def detect(section: dict) -> float:
            run = copy.deepcopy(config)
            run["pileup"].update(section)
            reconstruct = _Reconstruction(run, SeedManifest(1, "qcd", 0), None, [tmp / "pool.h5"])
            reconstruct(batches[0])  # warm-up: numba, pool in memory
            begin = clock()
            for batch in batches:
                reconstruct(batch)
            return clock() - begin

        t_reco = detect({"mu": 0})
        chain = t_shower + t_reco
        print(f"{n} qcd events, nominal view; pool of {args.pool} minimum-bias events "
              f"({1e3 * t_pool / args.pool:.1f} ms/event incl. Pythia's SoftQCD init)")
        print(f"chain without pile-up: {1e3 * chain / n:.2f} ms/event "
              f"(shower + hadronisation {1e3 * t_shower / n:.2f}, detector + jets "
              f"{1e3 * t_reco / n:.2f})")
        for label, section in (("cone 2.0", {}), ("cone 2.0, CHS", {"mitigation": "chs"}),
                               ("every particle", {"cone": None})):
            t = detect(section)
            extra = t - t_reco
            print(f"mu = {args.mu:g}, {label:<15}: detector + jets {1e3 * t / n:6.2f} ms/event; "
                  f"overlay costs {extra / chain:.2f}x the chain without it (goal <= 1)")
        print(f"pool reuse: each pool event serves on average {args.mu / args.pool:.3f} of the "
              f"hard events ({args.mu * n / args.pool:.1f} times in this shard)")


if __name__ == "__main__":
    main()
