"""Pre-training speed: the DGCNN vs the textbook implementation, and the loader vs training.

1. Training step (forward + backward + Adam) of batches of 100 pairs (200 jets), jets/s, for
   the RS3L DGCNN (batched kNN, projected EdgeConv) and for the same maths written the textbook
   way (per-jet kNN in a Python loop, PyG ``EdgeConv`` evaluating Linear(256 → 128) on every
   edge), same weights, same batches, in this run. Goal: ≥ 3× on CPU.
2. Loader: jets/s the paired loader delivers (read + features), with 0 and ``--workers``
   worker processes, against the training jets/s of (1). Goal: ≥ 10×.

    python benchmarks/bench_train.py [--data results/dataset/pretrain.h5] [--device cuda]

Without ``--data`` a synthetic paired file in the dataset schema is written to a temporary
directory (the pre-training tests' generator). Jet multiplicities then follow that generator;
with real data they are the data's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from resim.dataset.reader import PairedDataset
from train.data import PairWindows, iterate_batches, make_loader, resolve_views
from train.losses import nt_xent
from train.models import get_model
from train.models.reference import TextbookDGCNN

REPO = Path(__file__).resolve().parents[1]


def synthetic_file(directory: Path, n: int) -> Path:
    """Synthetic pairs with ≈ 45 particles per jet (≈ 41 in the default workflow's jets)."""
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures_train import write_pairs

    return write_pairs(directory / "pairs.h5", n, seed=1, scale=1.6)


def loader_rate(dataset: PairedDataset, workers: int, batches: int) -> float:
    """Jets/s (nominal + augmented) delivered by the paired loader."""
    windows = PairWindows(dataset, np.arange(len(dataset)), resolve_views("all", dataset.views),
                          batch_size=100, seed=1, block=64, window=25, shuffle=True)
    loader = make_loader(windows, workers=workers)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", type=Path, help="paired HDF5 file(s)")
    parser.add_argument("--pairs", type=int, default=3000, help="synthetic pairs without --data")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps (ours)")
    parser.add_argument("--reference-steps", type=int, default=2, help="timed steps (reference)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--loader-batches", type=int, default=24)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")

    with tempfile.TemporaryDirectory() as tmp:
        dataset = PairedDataset(args.data or synthetic_file(Path(tmp), args.pairs))
        windows = PairWindows(dataset, np.arange(len(dataset)), resolve_views("all", dataset.views),
                              batch_size=100, seed=2, block=64, window=25, shuffle=True)
        batches = list(iterate_batches(make_loader(windows, workers=0), 0,
                                       limit=args.steps + 1))
        sizes = torch.cat([torch.cat([b.m1, b.m2]).sum(1) for b in batches]).float()
        print(f"{len(dataset)} pairs, views {dataset.views}; "
              f"particles per jet: mean {sizes.mean():.1f}, max {sizes.max():.0f}")

        torch.manual_seed(0)
        model = get_model({"backbone": "dgcnn"}).to(device)
        reference = TextbookDGCNN(get_model({"backbone": "dgcnn"})).to(device)
        reference.model.load_state_dict(model.state_dict())
        ours = training_rate(model, batches, device)
        theirs = training_rate(reference, batches[: args.reference_steps + 1], device)
        print(f"training, DGCNN k=24 (batched kNN, projected EdgeConv): {ours:9.1f} jets/s")
        print(f"training, textbook (per-jet kNN loop, PyG EdgeConv):    {theirs:9.1f} jets/s")
        print(f"  speed-up: {ours / theirs:.1f}x (goal >= 3x on CPU)")
        transformer = get_model({"backbone": "transformer"}).to(device)
        print(f"training, transformer backbone (for scale):          "
              f"{training_rate(transformer, batches, device):9.1f} jets/s")

        for workers in sorted({0, args.workers}):
            rate = loader_rate(dataset, workers, args.loader_batches)
            print(f"loader, {workers} workers: {rate:9.1f} jets/s = {rate / ours:.1f}x training "
                  f"(goal >= 10x)")


if __name__ == "__main__":
    main()
