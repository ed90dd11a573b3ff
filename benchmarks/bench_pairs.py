"""Usable pairs per CPU-second: the cascade against simulating every view of every event.

One shard of the default config (``config.yaml``, its views and view order) goes through the
whole chain, hard scatter -> views -> detector -> jets -> paired HDF5, twice in the same run:

- *full*: every view simulates every event (what ``jets.require_all_views: false`` does), then
  the pairing keeps the objects selected in every view;
- *cascade*: each view simulates only the events that still hold an object selected in every
  view before it (the default with ``require_all_views: true``).

Both pair tables must be byte-identical (the cascade only removes work). Printed: CPU seconds
per stage, complete pairs, pairs per CPU-second, simulated view-events per complete pair, and
the ratios cascade / full. Goals (one 400-event QCD shard): >= 2.5x the pairs per CPU-second,
<= 24.6 view-events per pair. A 10-event warm-up runs first, so neither run pays the process's
one-off imports and compiled-kernel loads; the per-job set-up (opening every view's generator,
the same in both runs) is timed on its own, and the ratio without it is the most that removing
view work can give. ``--memory 1000 10000``: peak RSS of a cascade shard of each size,
each in a fresh subprocess (goal: flat).

Usage: python benchmarks/bench_pairs.py [--sample qcd] [--events 400] [--memory 1000 10000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import yaml
from peak_memory import add_arguments, report_peaks, run_child

REPO = Path(__file__).resolve().parents[1]


def bench_config(events: int) -> dict:
    from resim.config import validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["run"]["events_per_shard"] = events
    return validate(config)


def chain(config: dict, sample: str, lhe: Path, workdir: Path, cascade: bool) -> dict:
    """simulate + pair one shard; CPU seconds, pairs and simulated view-events."""
    from resim.dataset.pair import pair_files
    from resim.dataset.simulate import simulate_shard

    start = time.process_time()
    flows = simulate_shard(config, sample, 0, lhe, workdir / "views.h5", cascade=cascade)
    t_simulate = time.process_time() - start
    pairing = pair_files(config, sample, 0, [workdir / "views.h5"], workdir / "pairs.h5")
    t_pair = time.process_time() - start - t_simulate
    simulated = {v: f["events"] - f["skipped"] for v, f in flows.items()}
    return {"simulate": t_simulate, "pair": t_pair, "pairs": pairing["pairs"],
            "simulated": simulated, "file": workdir / "pairs.h5"}


def setup_seconds(config: dict, sample: str, lhe: Path) -> float:
    """CPU seconds to open and close every view's generator: a job's fixed cost."""
    from resim.forks import ViewChain
    from resim.seeds import SeedManifest

    start = time.process_time()
    with ViewChain(config, sample, 0, lhe, SeedManifest(int(config["run"]["seed"]), sample, 0)):
        pass
    return time.process_time() - start


def same_tables(a: Path, b: Path) -> bool:
    """Every dataset of the two paired files holds the same bytes."""
    with h5py.File(a) as fa, h5py.File(b) as fb:
        names: list[str] = []
        fa.visit(lambda name: names.append(name) if isinstance(fa[name], h5py.Dataset) else None)
        return all(name in fb and np.array_equal(fa[name][()], fb[name][()]) for name in names)


def memory_child(sample: str, events: int) -> None:
    from resim.hard import generate

    config = bench_config(events)
    with tempfile.TemporaryDirectory() as tmp:
        lhe = Path(tmp) / "hard.lhe.gz"
        generate(config, sample, 0, lhe)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        chain(config, sample, lhe, Path(tmp), cascade=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{events} {before} {peak}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="qcd")
    parser.add_argument("--events", type=int, default=400)
    add_arguments(parser, [])
    args = parser.parse_args()
    if run_child(args, memory_child):
        return

    from resim.forks import view_order
    from resim.hard import generate

    config = bench_config(args.events)
    print(f"{args.sample}, {args.events} hard events, views in order: "
          f"{', '.join(view_order(config))}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lhe = tmp / "hard.lhe.gz"
        start = time.process_time()
        generate(config, args.sample, 0, lhe)
        t_hard = time.process_time() - start
        from resim.dataset.simulate import simulate_shard

        simulate_shard(config, args.sample, 0, lhe, tmp / "warm-up.h5", events=range(10))
        t_setup = setup_seconds(config, args.sample, lhe)
        runs = {}
        for name, cascade in (("full", False), ("cascade", True)):
            (tmp / name).mkdir()
            runs[name] = chain(config, args.sample, lhe, tmp / name, cascade)
        print(f"hard scatter: {t_hard:.1f} s CPU (both runs read the same LHE file); per-job "
              f"set-up (every view's generator opened): {t_setup:.1f} s CPU")
        for name, run in runs.items():
            run["cpu"] = cpu = t_hard + run["simulate"] + run["pair"]
            events = sum(run["simulated"].values())
            run["per_cpu"], run["per_pair"] = run["pairs"] / cpu, events / max(run["pairs"], 1)
            print(f"{name:>8}: simulate {run['simulate']:.1f} s, pair {run['pair']:.2f} s CPU; "
                  f"{run['pairs']} pairs; {run['per_cpu']:.3f} pairs/CPU-s; {events} view-events "
                  f"= {run['per_pair']:.1f} per pair; per view "
                  + ", ".join(f"{v} {n}" for v, n in run["simulated"].items()))
        full, cascade = runs["full"], runs["cascade"]
        print(f"pair tables byte-identical: {same_tables(full['file'], cascade['file'])}")
        print(f"pairs per CPU-second, cascade / full: {cascade['per_cpu'] / full['per_cpu']:.2f}x "
              f"(goal >= 2.5x); without the per-job set-up and the hard scatter "
              f"{(full['cpu'] - t_hard - t_setup) / full['pairs'] * cascade['pairs'] / (cascade['cpu'] - t_hard - t_setup):.2f}x")
        print(f"view-events per pair: full {full['per_pair']:.1f}, cascade "
              f"{cascade['per_pair']:.1f} (goal <= 24.6)")

    report_peaks(__file__, {n: [args.sample, str(n)] for n in args.memory}, "cascade shard")


if __name__ == "__main__":
    main()
