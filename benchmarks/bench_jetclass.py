"""JetClass files into padded training batches: resim's reader against weaver-core's, one run.

Writes JetClass files of one class each (``label_QCD``, ``label_Hbb``; ``--jets`` per file,
``--particles`` mean multiplicity, LZ4 level 4 as JetClass) and reads every jet once into
shuffled, padded batches of ``--batch`` jets with the 15 features:

- *resim*: :func:`train.jetclass.stream_batches` (uproot + awkward, whole clusters of each file
  per window, :func:`resim.features.real_features`, padded per batch), batches (B, 100, 15) +
  mask + labels;
- *weaver*: weaver-core's ``SimpleIterDataset`` (training mode: shuffled; every file loaded at
  once, its fastest setting) with the data config ``resim export`` writes, cut to the same
  outputs (the 15 features as expressions and the mask, 100 slots), through a torch
  ``DataLoader`` as ``weaver --data-train`` does, no workers.

Printed: jets/s of each (best of ``--repeat`` alternated runs) and the ratio (goal >= 2x).
``--memory 2 8``: peak RSS of the resim reader over files of 2 and 8 × ``--jets`` jets in all,
each in a fresh process (goal: flat, bounded by the window, not the file). A first pass over a
small file warms both (imports, numba kernels).

Usage: python benchmarks/bench_jetclass.py [--jets 20000] [--batch 512] [--memory 2 8]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from peak_memory import add_arguments, report_peaks, run_child

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def synthetic_jets(n: int, particles: int, two_prong: bool, seed: int):
    """(constituents (n, 100, 8), n_constituents, jet (n, 7)) of random jets, pT-ordered."""
    from resim.contracts import CONSTITUENT_FIELDS, JET_FIELDS, MAX_CONSTITUENTS

    rng = np.random.default_rng(seed)
    count = np.clip(rng.poisson(particles, n), 3, MAX_CONSTITUENTS)
    pt = -np.sort(-(rng.pareto(1.5, (n, MAX_CONSTITUENTS)) * 5 + 0.5), axis=1)
    eta = rng.normal(0, 0.2, (n, MAX_CONSTITUENTS)) + (0.2 if two_prong else 0.0)
    phi = rng.normal(0, 0.2, (n, MAX_CONSTITUENTS))
    pid = rng.choice([211, -211, 22, 0, 11, -13], (n, MAX_CONSTITUENTS),
                     p=[.3, .3, .25, .1, .03, .02])
    charge = np.select([np.isin(pid, (211, -11, -13)), np.isin(pid, (-211, 11, 13))], [1, -1], 0)
    d0 = rng.normal(0, 0.05, (n, MAX_CONSTITUENTS)) * (charge != 0)
    fields = {"PT": pt, "Eta": eta, "Phi": phi, "E": pt * np.cosh(eta), "Charge": charge,
              "PID": pid, "D0": d0, "DZ": d0}
    constituents = np.stack([fields[k] for k in CONSTITUENT_FIELDS], -1).astype(np.float32)
    mask = np.arange(MAX_CONSTITUENTS)[None, :] < count[:, None]
    constituents[~mask] = 0
    px, py = (pt * np.cos(phi) * mask).sum(1), (pt * np.sin(phi) * mask).sum(1)
    pz, e = (pt * np.sinh(eta) * mask).sum(1), (fields["E"] * mask).sum(1)
    jet_pt = np.hypot(px, py)
    jet = {"pt": jet_pt, "eta": np.arcsinh(pz / jet_pt), "phi": np.arctan2(py, px),
           "mass": np.sqrt(np.maximum(e ** 2 - px ** 2 - py ** 2 - pz ** 2, 0)), "E": e,
           "n_constituents": count, "n2": np.full(n, 0.3)}
    return constituents, count.astype(np.int16), np.stack([jet[k] for k in JET_FIELDS], -1
                                                           ).astype(np.float32)


def write_files(directory: Path, jets: int, particles: int) -> list[Path]:
    """HToBB_000.root and ZJetsToNuNu_000.root, ``jets`` each, JetClass branches only."""
    import uproot

    from resim.detector.card import impact_parameter_resolution
    from resim.formats import jetclass as jc

    paths = []
    for k, (name, label) in enumerate((("HToBB", "H_bb"), ("ZJetsToNuNu", "q"))):
        path = directory / f"{name}_000.root"
        with uproot.recreate(path, compression=uproot.LZ4(4)) as f:
            tree = None
            for start in range(0, jets, 10_000):
                m = min(10_000, jets - start)
                constituents, n, jet = synthetic_jets(m, particles, label == "H_bb",
                                                      seed=k * 1000 + start)
                branches = jc.to_branches(
                    constituents, n, jet, labels=jc.jetclass_label([label], np.zeros(m, int)),
                    parton=np.zeros((m, 5), np.float32), extra={},
                    ip_sigma=impact_parameter_resolution,
                    # neither reader reads them: zeros spare the benchmark their computation
                    substructure={k: np.zeros(m) for k in jc.SUBSTRUCTURE})
                for extra in ("jet_mass", "jet_n2"):  # what public JetClass files hold
                    del branches[extra]
                if tree is None:
                    tree = f.mktree(jc.TREE, jc.branch_types(branches))
                tree.extend(branches)
        paths.append(path)
    return paths


def read_resim(paths: list[Path], batch: int) -> int:
    from train.jetclass import JetClassDataset, stream_batches

    jets = 0
    for features, mask, labels in stream_batches(JetClassDataset(paths), batch, seed=1):
        jets += len(labels)
    return jets


def read_weaver(paths: list[Path], batch: int, config: Path) -> int:
    import torch
    from weaver.utils.dataset import SimpleIterDataset

    data = SimpleIterDataset({"jetclass": [str(p) for p in paths]}, str(config), for_training=True,
                             fetch_by_files=True, fetch_step=len(paths), async_load=False)
    jets = 0
    for x, y, _ in torch.utils.data.DataLoader(data, batch_size=batch, num_workers=0):
        jets += len(y["_label_"])
    return jets


def weaver_yaml(directory: Path) -> Path:
    from resim.export.jetclass import weaver_config

    from resim.contracts import MAX_CONSTITUENTS

    # the same outputs as resim's batches: the 15 features and the mask, 100 slots
    config = weaver_config(["label_QCD", "label_Hbb"], None)
    config["inputs"] = {k: {**config["inputs"][k], "length": MAX_CONSTITUENTS}
                        for k in ("pf_features", "pf_mask")}
    path = directory / "data.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _vm_hwm() -> int:
    """Peak RSS of this process in KiB: VmHWM starts afresh at exec, unlike ru_maxrss, which
    a child inherits from the benchmark that started it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(directory: str, factor: int) -> None:
    import train.jetclass  # noqa: F401  (imports are not the reader's memory)

    before = _vm_hwm()
    paths = sorted(Path(directory).glob(f"x{factor}/*.root"))
    read_resim(paths, 512)
    print(factor, before, _vm_hwm())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=20_000, help="jets per file (2 files)")
    parser.add_argument("--particles", type=int, default=40, help="mean particles per jet")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each reader (best kept)")
    add_arguments(parser, [2, 8])
    args = parser.parse_args()
    if run_child(args, memory_child):
        return
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-jetclass-") as tmp:
        tmp = Path(tmp)
        (tmp / "warm").mkdir()
        warm = write_files(tmp / "warm", 1000, args.particles)
        paths = write_files(tmp, args.jets, args.particles)
        size = sum(p.stat().st_size for p in paths) / 2 ** 20
        config = weaver_yaml(tmp)
        read_resim(warm, args.batch), read_weaver(warm, args.batch, config)
        # alternated, best of --repeat: the machine is shared, and the best run is the one
        # least disturbed by others (both readers get the same chance)
        best = {"resim": np.inf, "weaver-core": np.inf}
        readers = {"resim": lambda: read_resim(paths, args.batch),
                   "weaver-core": lambda: read_weaver(paths, args.batch, config)}
        for _ in range(args.repeat):
            for name, read in readers.items():
                start = time.perf_counter()
                jets = read()
                best[name] = min(best[name], time.perf_counter() - start)
        rates = {name: jets / seconds for name, seconds in best.items()}
        for name, seconds in best.items():
            print(f"{name:>12}: {jets} jets in {seconds:.2f} s, {rates[name]:,.0f} jets/s")
        print(f"files: 2 x {args.jets} jets, {size:.1f} MB; batch {args.batch}")
        print(f"ratio resim / weaver-core: {rates['resim'] / rates['weaver-core']:.2f} (goal >= 2)")
        if args.memory:
            for factor in args.memory:
                (tmp / f"x{factor}").mkdir()
                write_files(tmp / f"x{factor}", factor * args.jets // 2, args.particles)
            report_peaks(__file__, {f * args.jets: [str(tmp), str(f)] for f in args.memory},
                         "the resim reader, files")


if __name__ == "__main__":
    main()
