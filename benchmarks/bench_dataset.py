"""Dataset stage speed and memory, measured against Pythia in the same run.

1. Speed: hard events (``resim.hard``) and the nominal view (``resim.forks.run_views``: Pythia
   shower + hadronisation) are timed as the reference; then detector + jets + matching +
   features + HDF5 write (``simulate_views`` + ``pair_files`` + ``particle_features``) on the
   same events. Goal: dataset time <= 0.15 x Pythia time.
2. Memory: the same batch replayed as a 1k- and a 10k-event shard (distinct event ids), each in
   a fresh subprocess; peak RSS (``resource``) of the dataset stage alone. Goal: flat.

Usage: python benchmarks/bench_dataset.py [--events 400] [--memory 1000 10000]
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import resource
import tempfile
import time
from pathlib import Path

import yaml
from peak_memory import add_arguments, report_peaks, run_child

REPO = Path(__file__).resolve().parents[1]


def bench_config(events: int) -> dict:
    from resim.config import validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["run"]["events_per_shard"] = events
    config["views"] = {"nominal": {"fork": "hard", "backend": "pythia"}}
    config["dataset"]["view_order"] = None
    return validate(config)


def make_batches(config: dict, workdir: Path) -> tuple[list, float]:
    """The nominal view of one shard of the higgs sample, and Pythia's time for it."""
    from resim.forks import run_views
    from resim.hard import generate

    lhe = workdir / "higgs.lhe.gz"
    start = time.perf_counter()
    generate(config, "higgs", 0, lhe)
    batches = list(run_views(config, "higgs", 0, lhe, "nominal",
                             batch_size=config["run"]["batch_size"]))
    return batches, time.perf_counter() - start


def dataset_stage(config: dict, batches, workdir: Path) -> float:
    """simulate + pair + features of every stored jet; returns seconds."""
    from resim.dataset.pair import pair_files
    from resim.dataset.reader import PairedDataset
    from resim.dataset.simulate import simulate_views
    from resim.features import particle_features

    start = time.perf_counter()
    view_file, paired = workdir / "views" / "nominal.h5", workdir / "dataset.h5"
    simulate_views(config, "higgs", 0, view_file, iter(batches))
    pair_files(config, "higgs", 0, [view_file], paired)
    ds = PairedDataset(paired)
    for lo in range(0, len(ds), 1000):
        jets = ds.read("nominal", slice(lo, lo + 1000))
        particle_features(jets.constituents, jets.n_constituents, jets.jet)
    return time.perf_counter() - start


def replayed(batch, copies: int):
    """``copies`` batches of the same particles with distinct event ids (a larger shard)."""
    n = len(batch)
    for k in range(copies):
        yield {"nominal": dataclasses.replace(batch, event_id=batch.event_id + k * n)}


def memory_child(batch_file: str, events: int) -> None:
    with open(batch_file, "rb") as f:
        config, batch = pickle.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        copies = max(1, events // len(batch))
        dataset_stage(config, list(replayed(batch, 1)), Path(tmp) / "warm")  # compile numba
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        from resim.dataset.pair import pair_files
        from resim.dataset.simulate import simulate_views

        view_file = Path(tmp) / "v.h5"
        simulate_views(config, "higgs", 0, view_file, replayed(batch, copies))
        pair_files(config, "higgs", 0, [view_file], Path(tmp) / "p.h5")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{events} {before} {peak}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    add_arguments(parser, [1000, 10000])
    args = parser.parse_args()
    if run_child(args, memory_child):
        return

    config = bench_config(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        batches, t_pythia = make_batches(config, tmp)
        dataset_stage(config, batches[:1], tmp / "warm")  # numba compilation is not per event
        t_dataset = dataset_stage(config, batches, tmp / "run")
        n = sum(len(b["nominal"]) for b in batches)
        print(f"events: {n}")
        print(f"pythia (hard + shower + hadronisation): {1e3 * t_pythia / n:.2f} ms/event")
        print(f"dataset (detector + jets + features + write): {1e3 * t_dataset / n:.2f} ms/event")
        print(f"ratio dataset / pythia: {t_dataset / t_pythia:.3f} (goal <= 0.15)")

        batch_file = tmp / "batch.pkl"
        with open(batch_file, "wb") as f:
            pickle.dump((config, batches[0]["nominal"]), f)
        report_peaks(__file__, {n: [str(batch_file), str(n)] for n in args.memory},
                     "dataset stage")


if __name__ == "__main__":
    main()
