"""The study's axes: backbones (pretrain.runs) and labelled-set sizes, as the workflow plans
them; bad studies fail at `snakemake -n`; the laptop preset plans every backbone and size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from resim.config import validate
from resim.errors import ConfigError
from resim.seeds import derive_seed
from resim_workflow import digests
from resim_workflow import runs as planned
from train import study

REPO = Path(__file__).resolve().parents[1]


def config_with(**sections) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for key, value in sections.items():
        config.setdefault(key, {}).update(value)
    return validate(config)


RUNS = [{"name": "rs3l"}, {"name": "rs3l_seed", "views": "seed", "label": "seed"},
        {"name": "mpm", "objective": "mpm", "epochs": 3, "mpm": {"codes": 16}}]


def test_runs_replace_the_keys_they_name():
    config = config_with(pretrain={"runs": RUNS, "epochs": 7})
    runs = study.backbone_runs(config)
    assert list(runs) == ["rs3l", "rs3l_seed", "mpm"]
    assert runs["rs3l"]["epochs"] == 7 and runs["rs3l"]["views"] == "hard"
    assert runs["rs3l_seed"]["views"] == "seed" and "runs" not in runs["rs3l_seed"]
    mpm = study.run_config(config, "mpm")["pretrain"]
    assert mpm["objective"] == "mpm" and mpm["epochs"] == 3
    assert mpm["mpm"]["codes"] == 16 and mpm["mpm"]["mask_fraction"] == 0.3  # defaults filled
    assert [study.backbone_label(config, n) for n in runs] == ["hard", "seed", "MPM"]


def test_without_runs_the_single_backbone_is_workflow_pretrain_run():
    config = config_with()
    assert planned.backbones(config) == ["rs3l"]
    assert study.run_config(config, "rs3l")["pretrain"]["epochs"] == config["pretrain"]["epochs"]


def test_finetune_layout_has_every_size_backbone_mode_and_rep():
    config = config_with(pretrain={"runs": RUNS[:2]},
                         finetune={"train_sizes": ["all", 300, 100], "reps": 2})
    assert study.train_sizes(config) == [100, 300, "all"]
    runs = planned.finetune_runs(config, "h_vs_qcd")
    assert len(runs) == 3 * (2 * 2 + 1) * 2
    assert "100/rs3l_seed/floating-1" in runs and "all/supervised-0" in runs
    assert not any(r.startswith("100/rs3l/supervised") for r in runs)
    assert planned.finetune_dirs(config, "h_vs_qcd")[0] == "results/finetune/h_vs_qcd/100/rs3l/fixed-0"
    assert "results/train/rs3l_seed/checkpoint.pt" in planned.final_targets(config)


def test_digests_follow_only_what_a_job_reads():
    config = config_with(pretrain={"runs": RUNS[:2]})
    before = {b: digests.stage_digest(config, "pretrain", backbone=b) for b in ("rs3l", "rs3l_seed")}
    finetune = digests.stage_digest(config, "finetune")
    config["pretrain"]["runs"][1]["epochs"] = 99
    config["finetune"].update(train_sizes=[100, "all"], reps=5)
    assert digests.stage_digest(config, "pretrain", backbone="rs3l") == before["rs3l"]
    assert digests.stage_digest(config, "pretrain", backbone="rs3l_seed") != before["rs3l_seed"]
    assert digests.stage_digest(config, "finetune") == finetune  # new sizes re-run nothing old


@pytest.mark.parametrize("change, message", [
    ({"pretrain": {"runs": [{"name": "a"}, {"name": "a", "views": "seed"}]}},
     "two backbones are named 'a'"),
    ({"pretrain": {"runs": [{"name": "a"}, {"name": "b", "views": "herwig"}]}},
     r"pretrain.runs.b.views: 'herwig'"),
    ({"pretrain": {"runs": [{"name": "a", "views": "seed"}, {"name": "b", "views": ["seed"]}]}},
     "label 'seed' is also backbone 'a'"),
    ({"pretrain": {"runs": [{"name": "a", "epochs": 0}]}}, "pretrain.runs.a"),
    ({"finetune": {"views": ["herwig"]}}, "finetune.views"),
    ({"finetune": {"train_sizes": [100, 100]}}, "lists a size twice"),
])
def test_bad_studies_are_config_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        study.check(config_with(**change))


def dry_run(configfile: Path, tmp_path: Path, quiet: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(tmp_path), f"--configfile={configfile}", "-n",
           *(["--quiet", "rules"] if quiet else [])]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    result.output = result.stdout + result.stderr
    return result


@pytest.mark.parametrize("runs, message", [
    ([{"name": "rs3l"}, {"name": "rs3l", "views": "seed"}], "two backbones are named 'rs3l'"),
    ([{"name": "rs3l"}, {"name": "rs3l_herwig", "views": "herwig"}],
     "pretrain.runs.rs3l_herwig.views: 'herwig'"),
])
def test_a_bad_study_fails_at_the_dry_run(tmp_path, runs, message):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["pretrain"]["runs"] = runs
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = dry_run(path, tmp_path)
    assert result.returncode != 0 and message in result.output, result.output[-2000:]


def test_laptop_study_plans_every_backbone_and_size(tmp_path):
    preset = REPO / "config" / "laptop-study.yaml"
    config = validate(yaml.safe_load(preset.read_text()))
    # rs3l is pre-trained twice (its second backbone from other seeds), the others once
    assert planned.backbones(config) == ["rs3l", "rs3l.rep1", "rs3l_seed", "rs3l_rehad", "mpm"]
    # the RS3L row is seed 000's "all" (the four re-showers); re-hadronisation has its own row
    runs, views, forks = study.backbone_runs(config), list(config["views"]), study.view_forks(config)
    assert study.resolve_views(runs["rs3l"]["views"], views, forks) == [
        "seed", "fsr_up", "fsr_down", "vincia"]
    assert study.resolve_views(runs["rs3l_rehad"]["views"], views, forks) == ["rehad"]
    assert study.finetune_views(config, views) == ["seed", "fsr_up", "fsr_down", "vincia"]
    assert study.train_sizes(config) == [100, 300, 1000, 3000, "all"]
    assert config["finetune"]["reps"] == 3 and set(config["views"]) >= {"nominal", "seed", "rehad"}
    result = dry_run(preset, tmp_path, quiet=False)  # every job, with its outputs
    output = result.output
    assert result.returncode == 0, output[-2000:]
    for name in ("rs3l", "rs3l.rep1", "rs3l_seed", "rs3l_rehad", "mpm"):
        assert f"results/train/{name}/checkpoint.pt" in output
    for size in (100, 300, 1000, 3000, "all"):
        for name in ("rs3l", "rs3l.rep1", "rs3l_seed", "rs3l_rehad", "mpm"):
            for mode in ("fixed", "floating"):
                assert f"results/finetune/h_vs_qcd/{size}/{name}/{mode}-2/model.pt" in output
        assert f"results/finetune/h_vs_qcd/{size}/supervised-2/model.pt" in output


def planned_commands(tmp_path: Path, runs: list[dict], sizes: list, targets: list[str]) -> str:
    """The shell commands `snakemake -n` plans for ``targets`` of the tiny config with ``runs``
    as its backbones and ``sizes`` as its labelled-set sizes."""
    config = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    config["pretrain"]["runs"] = runs
    config["finetune"]["train_sizes"] = sizes
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
           str(tmp_path), f"--configfile={path}", "-n", "--printshellcmds", *targets]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-2000:]
    return output


def test_fixed_jobs_read_their_backbone_and_supervised_none(tmp_path):
    output = planned_commands(
        tmp_path, [{"name": "rs3l"}, {"name": "other", "label": "long", "epochs": 2}], [20, "all"],
        ["results/finetune/h_vs_qcd/20/other/fixed-0/model.pt",
         "results/finetune/h_vs_qcd/20/supervised-0/model.pt"])
    commands = sorted(line for line in output.splitlines() if "rs3l finetune" in line)
    assert len(commands) == 2
    fixed, supervised = commands
    assert "--size 20" in fixed and "--backbone results/train/other/checkpoint.pt" in fixed
    assert "--mode supervised" in supervised and "--backbone" not in supervised
    assert "--run rs3l" in supervised  # the backbones' one network, no pre-trained weights
    assert "rs3l pretrain" in output and "--run other" in output


NETWORKS = [{"name": "rs3l"}, {"name": "tf", "model": {"network": "transformer"}},
            {"name": "tf_seed", "views": "seed", "model": {"network": "transformer"}}]


def test_one_supervised_baseline_per_network():
    same = config_with(pretrain={"runs": RUNS})  # contrastive and MPM on one DGCNN
    assert study.baselines(same) == {"rs3l": ""} and planned.baseline_network(same) == "rs3l"
    config = config_with(pretrain={"runs": NETWORKS}, finetune={"train_sizes": [100], "reps": 1})
    assert study.networks(config) == {"rs3l": "dgcnn", "tf": "transformer", "tf_seed": "transformer"}
    assert study.baselines(config) == {"rs3l": "dgcnn", "tf": "transformer"}
    runs = planned.finetune_runs(config, "h_vs_qcd")
    assert {"100/rs3l/supervised-0", "100/tf/supervised-0"} <= set(runs)
    assert not any(r.startswith(("100/supervised", "100/tf_seed/supervised")) for r in runs)
    # two networks of one kind are told apart by the first backbone with each
    wide = NETWORKS[:2] + [{"name": "tf_wide", "model": {"network": "transformer", "hidden": 256}}]
    labels = study.networks(config_with(pretrain={"runs": wide}))
    assert labels == {"rs3l": "dgcnn", "tf": "transformer of tf",
                      "tf_wide": "transformer of tf_wide"}


def test_each_network_baseline_trains_its_network(tmp_path):
    output = planned_commands(tmp_path, NETWORKS[:2], [20],
                              ["results/finetune/h_vs_qcd/20/rs3l/supervised-0/model.pt",
                               "results/finetune/h_vs_qcd/20/tf/supervised-0/model.pt"])
    commands = sorted(line for line in output.splitlines() if "rs3l finetune" in line)
    assert len(commands) == 2 and not any("--backbone" in c for c in commands)
    assert "--run rs3l" in commands[0] and "--out results/finetune/h_vs_qcd/20/rs3l/" in commands[0]
    assert "--run tf" in commands[1] and "--out results/finetune/h_vs_qcd/20/tf/" in commands[1]
    assert "rs3l pretrain" not in output  # a baseline waits for no pre-training


def test_pretraining_repetitions_are_backbones_with_their_own_seeds():
    from train.pretrain.run import train_seed

    one = config_with(pretrain={"runs": RUNS})
    config = config_with(pretrain={"runs": [{**RUNS[0]}, {**RUNS[1], "reps": 1}, RUNS[2]],
                                   "reps": 3}, finetune={"train_sizes": [100], "reps": 2})
    # rep 0 keeps the name (and folder) a study without repetitions has
    assert planned.backbones(config) == ["rs3l", "rs3l.rep1", "rs3l.rep2", "rs3l_seed",
                                    "mpm", "mpm.rep1", "mpm.rep2"]
    assert study.split_rep("rs3l.rep2") == ("rs3l", 2) and study.split_rep("rs3l") == ("rs3l", 0)
    # one row per run: the repetitions share the run's label and network
    assert {study.backbone_label(config, n) for n in ("rs3l", "rs3l.rep2")} == {"hard"}
    assert study.baselines(config) == {"rs3l": ""}
    runs = planned.finetune_runs(config, "h_vs_qcd")
    assert "100/rs3l.rep2/fixed-1" in runs and "100/mpm.rep1/floating-0" in runs
    assert sum(r.startswith("100/supervised") for r in runs) == 2  # not per backbone
    assert "results/train/mpm.rep2/checkpoint.pt" in planned.final_targets(config)
    with pytest.raises(ConfigError, match="no backbone 'rs3l_seed.rep1'"):
        study.run_config(config, "rs3l_seed.rep1")
    # seeds from (run.seed, rep): rep 0 draws what it drew before repetitions existed
    seeds = {n: train_seed(study.run_config(config, n), "init") for n in planned.backbones(config)}
    assert seeds["rs3l"] == seeds["mpm"] == train_seed(study.run_config(one, "rs3l"), "init")
    assert seeds["rs3l"] == derive_seed(config["run"]["seed"], "pretrain", 0, "init", "train")
    assert len({seeds["rs3l"], seeds["rs3l.rep1"], seeds["rs3l.rep2"]}) == 3
    assert seeds["rs3l.rep1"] == seeds["mpm.rep1"]  # paired: same start for every backbone
    # adding repetitions re-trains nothing that exists
    assert digests.stage_digest(config, "pretrain", backbone="rs3l") == digests.stage_digest(
        one, "pretrain", backbone="rs3l")
    assert digests.stage_digest(config, "pretrain", backbone="rs3l.rep1") != digests.stage_digest(
        config, "pretrain", backbone="rs3l")


def test_each_pretraining_repetition_is_a_job_and_its_taggers_read_it(tmp_path):
    output = planned_commands(tmp_path, [{"name": "rs3l", "reps": 2}], [20],
                              ["results/finetune/h_vs_qcd/20/rs3l.rep1/fixed-0/model.pt"])
    assert "--run rs3l.rep1 --out results/train/rs3l.rep1" in output
    assert "--backbone results/train/rs3l.rep1/checkpoint.pt" in output
