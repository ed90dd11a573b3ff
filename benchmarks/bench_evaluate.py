"""The evaluation's resampled Wasserstein distances: one sort for every resampling against
scipy's weighted ``wasserstein_distance`` called once per resampling (the reference), timed in
the same run on the same scores and resamplings; also their largest difference (they must agree).

Scores: a nominal view and a view that moves each jet's score a little (paired, like the
evaluation's), ``--jets`` balanced jets, ``--resamples`` resamplings (``evaluate.bootstrap``).

Usage: python benchmarks/bench_evaluate.py [--jets 4000 40000] [--resamples 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import wasserstein_distance

from train.evaluate.metrics import bootstrap_wasserstein, bootstrap_weights


def timed(fn) -> tuple[np.ndarray, float]:
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, nargs="+", default=[4000, 40000])
    parser.add_argument("--resamples", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    for n in args.jets:
        nominal = rng.random(n)
        view = np.clip(nominal + rng.normal(0.01, 0.05, n), 0, 1)
        weights = bootstrap_weights(n, args.resamples, rng)
        fast, t_fast = timed(lambda: bootstrap_wasserstein(nominal, view, weights))
        slow, t_slow = timed(lambda: np.array([wasserstein_distance(nominal, view, w, w)
                                               for w in weights]))
        print(f"{n:>7} jets x {args.resamples} resamplings: one sort {t_fast:.3f} s CPU, "
              f"scipy per resampling {t_slow:.3f} s: {t_slow / t_fast:.1f}x; largest "
              f"difference {np.max(np.abs(fast - slow)):.1e} (distance {np.mean(slow):.2e})")


if __name__ == "__main__":
    main()
