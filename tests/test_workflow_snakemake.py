"""The Snakemake workflow as a user runs it: dry runs of every preset, lint, config errors,
fail-fast backend check, and (slow) the tiny preset end to end with its report."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SNAKEMAKE = [sys.executable, "-m", "snakemake"]

#: Console-script modules every rule calls; the end-to-end test needs all of them.
STAGE_MODULES = ("resim.hard.cli", "resim.forks", "resim.dataset.cli",
                 "train.pretrain.run", "train.finetune.run", "train.evaluate.cli",
                 "train.report")


def snakemake(repo: Path, workdir: Path, configfile: str, *args: str, env: dict | None = None,
              timeout: float = 600) -> subprocess.CompletedProcess:
    """Run snakemake on the repository's Snakefile with ``workdir`` as working directory."""
    # Snakemake prints its messages (errors included) on stdout; tests read both streams.
    cmd = [*SNAKEMAKE, "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir),
           f"--configfile={configfile}", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    result.output = result.stdout + result.stderr
    return result


def preset(repo: Path, name: str) -> str:
    return str(repo / name)


def tiny_with(repo: Path, tmp_path: Path, **sections) -> str:
    config = yaml.safe_load((repo / "config" / "tiny.yaml").read_text())
    for key, value in sections.items():
        config[key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize("name", [
    "config.yaml", "config/tiny.yaml", "config/shared-shower.yaml",
    pytest.param("config/rs3l-paper.yaml", marks=pytest.mark.slow),  # 20k jobs: ~30 s to plan
])
def test_dry_run_of_every_preset(repo_root, tmp_path, name):
    """Plans every job without any backend installed (the backend check skips dry runs)."""
    result = snakemake(repo_root, tmp_path, preset(repo_root, name), "-n", "--quiet", "rules")
    assert result.returncode == 0, result.output
    assert "simulate" in result.output
    assert not (tmp_path / "results").exists()


def test_lint_is_clean(repo_root, tmp_path):
    result = snakemake(repo_root, tmp_path, preset(repo_root, "config/tiny.yaml"), "--lint")
    assert result.returncode == 0, result.output
    assert "Congratulations" in result.output


def test_unknown_key_stops_the_workflow_with_its_name(repo_root, tmp_path):
    bad = tiny_with(repo_root, tmp_path, workflow={"check_backend": False})
    result = snakemake(repo_root, tmp_path, bad, "-n")
    assert result.returncode != 0
    assert "'check_backend' was unexpected" in result.output


def test_bad_split_stops_the_workflow_with_its_key(repo_root, tmp_path):
    config = yaml.safe_load((repo_root / "config" / "tiny.yaml").read_text())
    config["dataset"]["splits"]["finetune"]["qcd"] = [0, 1]
    bad = tiny_with(repo_root, tmp_path, dataset=config["dataset"])
    result = snakemake(repo_root, tmp_path, bad, "-n")
    assert result.returncode != 0
    assert "dataset.splits.finetune.qcd: shard 0 of 'qcd' is also in split 'pretrain'" in result.output


def test_missing_backend_stops_before_any_job(repo_root, tmp_path):
    """Delphes selected but absent: the run stops at start naming the executable; -n still plans."""
    config = tiny_with(repo_root, tmp_path, detector={"backend": "delphes"})
    env = dict(os.environ, RESIM_DELPHES_DIR=str(tmp_path / "no-delphes-here"))
    target = "results/hard/qcd/0.lhe.gz"
    result = snakemake(repo_root, tmp_path, config, "--cores", "1", target, env=env)
    assert result.returncode != 0
    assert "DelphesHepMC3" in result.output and "detector.backend" in result.output
    assert "envs/delphes.yaml" in result.output
    assert not (tmp_path / "results" / "hard").exists() and not (tmp_path / "logs").exists()
    dry = snakemake(repo_root, tmp_path, config, "-n", target, env=env)
    assert dry.returncode == 0, dry.output


def test_finetune_jobs_depend_on_the_backbone(repo_root, tmp_path):
    """Fixed/floating fine-tuning reads the backbone checkpoint; supervised does not."""
    result = snakemake(repo_root, tmp_path, preset(repo_root, "config/tiny.yaml"),
                       "-n", "--printshellcmds",
                       "results/finetune/h_vs_qcd/all/rs3l/fixed-0/model.pt",
                       "results/finetune/h_vs_qcd/all/supervised-0/model.pt")
    assert result.returncode == 0, result.output
    commands = [line for line in result.output.splitlines() if "rs3l finetune" in line]
    assert len(commands) == 2
    fixed, supervised = sorted(commands)
    assert "--backbone results/train/rs3l/checkpoint.pt" in fixed
    assert "--backbone" not in supervised


@pytest.mark.parametrize("name, anomaly", [("config/shared-shower-small.yaml", True),
                                           ("config/tiny.yaml", False)])
def test_summary_reads_the_anomaly_stage_when_the_run_has_one(repo_root, tmp_path, name, anomaly):
    result = snakemake(repo_root, tmp_path, preset(repo_root, name), "-n", "--printshellcmds",
                       "results/summary.md")
    assert result.returncode == 0, result.output
    command = next(line for line in result.output.splitlines() if "rs3l summary" in line)
    assert ("--anomaly results/anomaly/metrics.json" in command) is anomaly


def test_export_is_planned_only_when_the_config_asks(repo_root, tmp_path):
    """export.formats empty (the default): no export job; two formats of one split: one
    `resim export` each, reading the merged split, writing results/export/<format>/<split>."""
    off = snakemake(repo_root, tmp_path, preset(repo_root, "config/tiny.yaml"), "-n",
                    "--quiet", "rules")
    assert off.returncode == 0, off.output
    assert "export" not in job_counts(off.output)
    on = tiny_with(repo_root, tmp_path, export={"formats": ["jetclass", "rs3l"],
                                                "splits": ["test"], "max_jets": 5000})
    plan = snakemake(repo_root, tmp_path, on, "-n", "--printshellcmds")
    assert plan.returncode == 0, plan.output
    assert job_counts(plan.output)["export"] == 2
    commands = sorted(line.split("Shell command:")[-1].strip()
                      for line in plan.output.splitlines() if "resim export --" in line)
    assert commands == [
        f"resim export --format {fmt} --out results/export/{fmt}/test --name test"
        f" --max-jets 5000 --config results/config.yaml results/dataset/test.h5"
        f" > logs/export/{fmt}/test.log 2>&1" for fmt in ("jetclass", "rs3l")]


def job_counts(output: str) -> dict[str, int]:
    """The job-stats table of a dry run: rule -> number of jobs."""
    rows = (line.split() for line in output.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def tree_digest(root: Path, patterns: tuple[str, ...]) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for pattern in patterns for p in sorted(root.glob(pattern))}


@pytest.mark.slow
def test_tiny_workflow_end_to_end(repo_root, tmp_path):
    """config/tiny.yaml through every stage; a second run does nothing; the report builds."""
    missing = [m for m in STAGE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"stage modules not in the tree yet: {', '.join(missing)}")
    tiny = preset(repo_root, "config/tiny.yaml")
    run = snakemake(repo_root, tmp_path, tiny, "--cores", "2",
                    "--show-failed-logs", timeout=900)
    assert run.returncode == 0, run.output[-8000:]
    results = tmp_path / "results"
    assert (results / "summary.md").stat().st_size > 0
    assert list((results / "plots" / "dataset" / "test").glob("*.png"))
    assert (results / "evaluate" / "h_vs_qcd" / "rejection.csv").exists()

    again = snakemake(repo_root, tmp_path, tiny, "--cores", "2")
    assert again.returncode == 0 and "Nothing to be done" in again.output

    # A lost shard's file is made again alone, byte-identical.
    data = ("results/hard/*/*.lhe.gz", "results/views/*/*.h5")
    before = tree_digest(tmp_path, data)
    (results / "views" / "qcd" / "0.h5").unlink()
    plan = snakemake(repo_root, tmp_path, tiny, "results/views/qcd/0.h5", "-n",
                     "--quiet", "rules")
    assert job_counts(plan.output) == {"simulate": 1, "total": 1}, plan.output
    redo = snakemake(repo_root, tmp_path, tiny, "--cores", "2", "results/views/qcd/0.h5")
    assert redo.returncode == 0, redo.output[-3000:]
    assert tree_digest(tmp_path, data) == before

    report = snakemake(repo_root, tmp_path, tiny, "--report",
                       str(tmp_path / "report.html"))
    assert report.returncode == 0, report.output[-3000:]
    assert (tmp_path / "report.html").stat().st_size > 10_000


def test_slurm_profile_sizes_every_job_rule(repo_root, tmp_path):
    """Every rule that runs a command has SLURM resources; no entry names a rule that is gone."""
    result = snakemake(repo_root, tmp_path, preset(repo_root, "config/tiny.yaml"), "--list-rules")
    assert result.returncode == 0, result.output
    rules = set(result.stdout.split())
    targets = {"all", "dataset"}  # collect inputs, run nothing
    profile = yaml.safe_load((repo_root / "workflow/profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["slurm-status-command"] == "squeue"
    assert set(profile["set-resources"]) == rules - targets
    assert set(profile["set-threads"]) <= rules
    for rule in ("pretrain", "finetune", "evaluate"):
        assert profile["set-resources"][rule]["gpu"] == 1
