"""Pre-training speed: the DGCNN vs the textbook implementation, and the loader vs training.

1. Training step (forward + backward + Adam) of batches of 100 pairs (200 jets), jets/s, for
   the RS3L DGCNN (batched kNN, projected EdgeConv) and for the same maths written the textbook
   way (per-jet kNN in a Python loop, PyG ``EdgeConv`` evaluating Linear(256 → 128) on every
   edge), same weights, same batches, in this run. Goal: ≥ 3× on CPU.
2. Loader: jets/s the paired loader delivers (read + features), with 0 and ``--workers``
   worker processes, against the training jets/s of (1). Goal: ≥ 10×.
3. The study (``--study CONFIG``, default ``config/laptop-study.yaml``): the rates its jobs run
   at (labelled jets loaded, floating/supervised training, the fixed backbone's embedding and
   its head, evaluation's inference), each on one thread as a Snakemake job gets, and from
   them the CPU time of every stage of that config: where the study's time goes.

    python benchmarks/bench_train.py [--data results/dataset/pretrain.h5] [--device cuda]

Without ``--data`` the default workflow's ``results/dataset/pretrain.h5`` is used when it exists
(real paired jets); otherwise the run says so and a synthetic paired file in the dataset schema
is written to a temporary directory (the pre-training tests' generator), whose multiplicities
follow that generator.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from resim.config import load_config
from resim.dataset.reader import PairedDataset
from train import study
from train.data import PairWindows, iterate_batches, make_loader
from train.finetune.heads import Tagger
from train.finetune.labelled import JetSet
from train.finetune.loop import EmbeddedSet, _epoch_loss, planned_epochs
from train.models import get_model
from train.models.reference import TextbookDGCNN
from train.pretrain.losses import nt_xent
from train.study import resolve_views

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "results" / "dataset" / "pretrain.h5"


def synthetic_file(directory: Path, n: int) -> Path:
    """Synthetic pairs with ≈ 45 particles per jet (≈ 41 in the default workflow's jets)."""
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures_train import write_pairs

    return write_pairs(directory / "pairs.h5", n, seed=1, scale=1.6)


def pair_windows(dataset: PairedDataset, seed: int) -> PairWindows:
    """Batches of 100 pairs of ``dataset``, each nominal jet with one of its augmented views."""
    return PairWindows(dataset, np.arange(len(dataset)), resolve_views("every", dataset.views, {}),
                       batch_size=100, seed=seed, block=64, window=25, shuffle=True)


def loader_rate(dataset: PairedDataset, workers: int, batches: int) -> float:
    """Jets/s (nominal + augmented) delivered by the paired loader."""
    loader = make_loader(pair_windows(dataset, seed=1), workers=workers)
    start, jets = time.perf_counter(), 0
    for batch in iterate_batches(loader, epoch=0, limit=batches):
        jets += 2 * len(batch)
    return jets / (time.perf_counter() - start)


def training_rate(model: torch.nn.Module, batches: list, device: torch.device) -> float:
    """Jets/s of contrastive training steps over ``batches`` (after one warm-up step)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(batch) -> None:
        batch = batch.to(device)
        z = model(torch.cat([batch.x1, batch.x2]), torch.cat([batch.m1, batch.m2]))
        loss = nt_xent(*z.split(len(batch)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(batches[0])
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for batch in batches[1:]:
        step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return sum(2 * len(b) for b in batches[1:]) / (time.perf_counter() - start)


def study_rates(dataset: PairedDataset, n_jets: int, device: torch.device,
                model: dict) -> dict[str, float]:
    """Jets/s of the study's steps with the network ``model``, on ``n_jets`` jets of ``dataset``."""
    rows = np.arange(min(n_jets, len(dataset)))
    targets = (dataset.labels[rows] % 2).astype(np.float32)
    views = [dataset.views[0], *[v for v in dataset.views[1:]]]
    view_of_row = np.arange(len(rows)) % len(views)
    tick = time.perf_counter()
    jets = JetSet(dataset, rows, view_of_row, views, targets, cache_mb=1e9)
    rates = {"load (read + features)": len(rows) / (time.perf_counter() - tick)}
    order = np.arange(len(jets))
    for name, frozen in (("floating / supervised epoch", False), ("fixed: embed once", True)):
        torch.manual_seed(0)
        tagger = Tagger(get_model(model), 8, frozen=frozen).to(device)
        optimizer = torch.optim.Adam([p for p in tagger.parameters() if p.requires_grad], lr=1e-3)
        tick = time.perf_counter()
        if frozen:
            embedded = EmbeddedSet(tagger, jets, 128, device)
            rates[name] = len(jets) / (time.perf_counter() - tick)
            tick = time.perf_counter()
            for _ in range(20):
                _epoch_loss(tagger.classify, embedded, 128, device, order, optimizer)
            rates["fixed: head epoch"] = 20 * len(jets) / (time.perf_counter() - tick)
        else:
            _epoch_loss(tagger, jets, 128, device, order, optimizer)
            rates[name] = len(jets) / (time.perf_counter() - tick)
            tick = time.perf_counter()
            _epoch_loss(tagger, jets, 512, device, order, None)
            rates["inference (validation, evaluation)"] = len(jets) / (time.perf_counter() - tick)
    return rates


def study_budget(config: dict, rates: dict[str, float], pretrain_rate: float,
                 labelled: int, n_val: int, n_test: int, n_views: int) -> dict[str, float]:
    """CPU seconds of each stage of ``config``'s study at ``rates`` (training runs every planned
    epoch: early stopping only lowers these), with ``labelled`` jets for the size ``all``."""
    section, pre = config["finetune"], config["pretrain"]
    sizes = [labelled if s == study.ALL else s for s in study.train_sizes(config)]
    reps, runs = section["reps"], study.backbone_runs(config)
    val = min(n_val, section["max_val_jets"] or n_val)
    out = {"pre-training": sum(
        r["epochs"] * (2 * labelled / pretrain_rate + 2 * val / rates["inference (validation, evaluation)"])
        for r in runs.values())}
    trained = len(runs) + 1  # floating per backbone, and the supervised baseline
    cost = 0.0
    for n in sizes:
        epochs = planned_epochs(section, n)
        per_run = n / rates["load (read + features)"] + epochs * (
            n / rates["floating / supervised epoch"] + val / rates["inference (validation, evaluation)"])
        fixed = n / rates["fixed: embed once"] + epochs * n / rates["fixed: head epoch"]
        cost += reps * (trained * per_run + len(runs) * fixed)
    out["fine-tuning (every size, mode, rep)"] = cost
    models = reps * len(sizes) * (trained + len(runs))
    out["evaluation (one pass per view, shared features)"] = n_test * n_views * (
        1 / rates["load (read + features)"] + (reps * len(sizes) * trained + len(runs))
        / rates["inference (validation, evaluation)"])
    out["(models evaluated)"] = models
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", type=Path, help="paired HDF5 file(s)")
    parser.add_argument("--pairs", type=int, default=3000, help="synthetic pairs without --data")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps (ours)")
    parser.add_argument("--reference-steps", type=int, default=2, help="timed steps (reference)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--loader-batches", type=int, default=24)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--study", type=Path, default=REPO / "config" / "laptop-study.yaml",
                        help="the study config whose time is estimated")
    parser.add_argument("--study-jets", type=int, default=1000, help="jets per study measurement")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
          + ("" if device.type == "cuda" else " (no CUDA device: CPU figures only)"))
    if args.data is None and DEFAULT_DATA.exists():
        args.data = [DEFAULT_DATA]
        print(f"real paired jets of the default workflow: {DEFAULT_DATA}")
    elif args.data is None:
        print(f"{DEFAULT_DATA.relative_to(REPO)} does not exist (run the default workflow up to "
              f"it, or pass --data): synthetic jets only")

    with tempfile.TemporaryDirectory() as tmp:
        dataset = PairedDataset(args.data or synthetic_file(Path(tmp), args.pairs))
        batches = list(iterate_batches(make_loader(pair_windows(dataset, seed=2), workers=0), 0,
                                       limit=args.steps + 1))
        if len(batches) < 2:  # the first step is a warm-up: nothing would be timed
            parser.error(f"{len(dataset)} pairs make {len(batches)} batch of 100: at least two "
                         f"are needed (--pairs or more --data)")
        sizes = torch.cat([torch.cat([b.m1, b.m2]).sum(1) for b in batches]).float()
        print(f"{len(dataset)} pairs, views {dataset.views}; "
              f"particles per jet: mean {sizes.mean():.1f}, max {sizes.max():.0f}")

        torch.manual_seed(0)
        model = get_model({"network": "dgcnn"}).to(device)
        reference = TextbookDGCNN(get_model({"network": "dgcnn"})).to(device)
        reference.model.load_state_dict(model.state_dict())
        ours = training_rate(model, batches, device)
        theirs = training_rate(reference, batches[: args.reference_steps + 1], device)
        print(f"training, DGCNN k=24 (batched kNN, projected EdgeConv): {ours:9.1f} jets/s")
        print(f"training, textbook (per-jet kNN loop, PyG EdgeConv):    {theirs:9.1f} jets/s")
        print(f"  speed-up: {ours / theirs:.1f}x (goal >= 3x on CPU)")
        transformer = get_model({"network": "transformer"}).to(device)
        print(f"training, transformer backbone (for scale):          "
              f"{training_rate(transformer, batches, device):9.1f} jets/s")

        for workers in sorted({0, args.workers}):
            rate = loader_rate(dataset, workers, args.loader_batches)
            print(f"loader, {workers} workers: {rate:9.1f} jets/s = {rate / ours:.1f}x training "
                  f"(goal >= 10x)")

        config = load_config(args.study)
        model = config["pretrain"]["model"]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as a Snakemake job with threads: 1
        one_thread = training_rate(get_model(model).to(device), batches, device)
        rates = study_rates(dataset, args.study_jets, device, model)
        torch.set_num_threads(threads)
        print(f"study steps of {args.study.name}, model {model}, 1 thread, {args.study_jets} jets "
              f"(contrastive pre-training: {one_thread:.1f} jets/s):")
        for name, rate in rates.items():
            print(f"  {name:40s} {rate:9.1f} jets/s")
        # the preset's planned split sizes (see its comments): labelled, validation, test jets
        budget = study_budget(config, rates, one_thread, labelled=3500, n_val=1200, n_test=3500,
                              n_views=len(config["views"]))
        print(f"CPU time of {args.study.name} (every planned epoch, 3500 labelled / 1200 "
              f"validation / 3500 test jets):")
        for name, seconds in budget.items():
            print(f"  {name:50s} {seconds if name.startswith('(') else seconds / 60:8.1f}"
                  + ("" if name.startswith("(") else " CPU-min"))


if __name__ == "__main__":
    main()
