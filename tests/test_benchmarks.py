"""The speed scripts under benchmarks/ still run against the current packages.

They are run by hand, never by the suite's timing; a refactor that changes a signature they call
broke bench_train unnoticed once (found only on a GPU machine). These run each at its smallest
size and check that it measured something, not how fast.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, f"benchmarks/{script}", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def rate(output: str, label: str) -> float:
    """The jets/s a line starting with ``label`` reports."""
    match = re.search(rf"^{re.escape(label)}.*?([\d.]+) jets/s", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return float(match.group(1))


@pytest.mark.slow
def test_bench_train_measures_training_and_loader():
    result = bench("bench_train.py", "--pairs", "200", "--steps", "2", "--reference-steps", "1",
                   "--loader-batches", "3", "--study-jets", "100")
    assert result.returncode == 0, result.stderr
    assert rate(result.stdout, "training, DGCNN") > 0
    assert rate(result.stdout, "training, textbook") > 0
    assert rate(result.stdout, "loader, 0 workers") > 0
    assert "CPU time of laptop-study.yaml" in result.stdout


def test_bench_train_refuses_too_few_pairs_for_a_timed_step():
    result = bench("bench_train.py", "--pairs", "120", "--steps", "2")
    assert result.returncode == 2
    assert "at least two are needed" in result.stderr


def test_bench_evaluate_agrees_with_scipy():
    result = bench("bench_evaluate.py", "--jets", "500", "--resamples", "5")
    assert result.returncode == 0, result.stderr
    difference = re.search(r"largest difference ([\d.e+-]+)", result.stdout)
    assert difference, result.stdout
    assert float(difference.group(1)) < 1e-12
