"""Peak memory of one job at several sizes, each in a fresh process (shared by benchmarks).

A benchmark runs itself with ``--memory-child ...`` per size; the child prints
``"<size> <RSS before> <peak RSS>"`` (KiB, ``resource.getrusage``) as its last line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable


def add_arguments(parser: argparse.ArgumentParser, sizes: list[int]) -> None:
    """``--memory SIZE...`` (the sizes to measure) and the hidden ``--memory-child A B``."""
    parser.add_argument("--memory", type=int, nargs="*", default=sizes,
                        help="peak memory of a job of each size, in fresh processes")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)


def run_child(args: argparse.Namespace, child: Callable[[str, int], None]) -> bool:
    """In a ``--memory-child`` process: run ``child(A, int(B))`` and say so (the caller stops)."""
    if not args.memory_child:
        return False
    child(args.memory_child[0], int(args.memory_child[1]))
    return True


def report_peaks(script: str, children: dict[int, list[str]], what: str) -> None:
    """Run ``script --memory-child *args`` for each size; print each peak and the ratio."""
    peaks = {}
    for size, args in children.items():
        out = subprocess.run([sys.executable, script, "--memory-child", *args],
                             capture_output=True, text=True, check=True)
        _, before, peak = out.stdout.split()[-3:]
        peaks[size] = int(peak) / 1024
        print(f"peak RSS, {what} of {size:>6} events: {peaks[size]:.0f} MB "
              f"(before it {int(before) / 1024:.0f} MB)")
    if len(peaks) >= 2:
        lo, hi = min(peaks), max(peaks)
        print(f"memory ratio {hi} / {lo} events: {peaks[hi] / peaks[lo]:.2f} (goal: ~1, flat)")
