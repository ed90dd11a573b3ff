"""Unit tests of resim_workflow (targets, splits, view groups, re-run digests) and of the
workflow's parts of the config schema."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from resim.config import load_config, validate
from resim.errors import ConfigError
from resim_workflow import digests, runs, splits
from resim_workflow.startup import check_config


@pytest.fixture()
def config(repo_root):
    return load_config(repo_root / "config" / "tiny.yaml")


def with_splits(config, **splits):
    config = copy.deepcopy(config)
    config["dataset"]["splits"].update(splits)
    return config


# --- views -----------------------------------------------------------------------------------


def test_one_simulate_job_per_shard_runs_every_view(config):
    config["views"]["rehad2"] = {"fork": "hadron", "parent": "rehad"}
    config["views"]["fsr_up"] = {"fork": "hard", "settings": {"TimeShower:renormMultFac": 0.5}}
    config["dataset"]["view_order"] = None
    assert runs.views(config) == ["nominal", "rehad", "rehad2", "fsr_up"]
    assert runs.view_files(config, "qcd", 1) == ["results/views/qcd/1.h5"]


@pytest.mark.parametrize("views, message", [
    ({"nominal": {"fork": "hard"}, "x": {"fork": "shower"}}, "views.x.parent"),
    ({"nominal": {"fork": "hard"}, "x": {"fork": "shower", "parent": "nope"}}, "unknown view 'nope'"),
    ({"nominal": {"fork": "hard"}, "a": {"fork": "shower", "parent": "b"},
      "b": {"fork": "hadron", "parent": "a"}}, "cycle"),
    ({"nominal": {"fork": "shower", "parent": "seed"}, "seed": {"fork": "hard"}}, "views.nominal"),
    ({"nominal": {"fork": "hard"}, "x": {"fork": "rewind"}}, "views.x.fork: unknown fork point"),
])
def test_bad_view_trees_name_the_key(views, message):
    with pytest.raises(ConfigError, match=message):
        runs.views({"views": views})


# --- shards and splits -----------------------------------------------------------------------


@pytest.mark.parametrize("spec, expected", [
    (3, [3]), ("0-2", [0, 1, 2]), ([5, "1-2"], [1, 2, 5]), (" 4 - 4 ", [4]),
])
def test_parse_shards(spec, expected):
    assert splits.parse_shards(spec, "k") == expected


@pytest.mark.parametrize("spec, message", [
    ("2-1", "empty"), ("a-b", "not a shard range"), ([1, "0-1"], "twice"), (True, "not a shard"),
])
def test_parse_shards_rejects(spec, message):
    with pytest.raises(ConfigError, match=f"dataset.splits.test.qcd: .*{message}"):
        splits.parse_shards(spec, "dataset.splits.test.qcd")


def test_splits_resolve_in_config_order(config):
    assert splits.split_shards(config)["finetune"] == {"qcd": [1], "higgs": [1]}
    assert splits.split_members(config, "test") == [("qcd", 3), ("higgs", 3)]
    assert runs.pair_files(config, "pretrain") == ["results/dataset/qcd/0.h5",
                                                 "results/dataset/higgs/0.h5"]


def test_a_shard_in_two_splits_is_rejected(config):
    bad = with_splits(config, finetune={"qcd": [0, 1], "higgs": 1})
    with pytest.raises(ConfigError, match=r"dataset.splits.finetune.qcd: shard 0 of 'qcd' is also "
                                          r"in split 'pretrain'"):
        splits.split_shards(bad)


def test_split_errors_name_the_key(config):
    with pytest.raises(ConfigError, match=r"dataset.splits.test.qcd: shard 7 does not exist"):
        splits.split_shards(with_splits(config, test={"qcd": [3, 7], "higgs": 3}))
    with pytest.raises(ConfigError, match=r"dataset.splits.test.wjets: unknown sample"):
        splits.split_shards(with_splits(config, test={"wjets": 0, "qcd": 3, "higgs": 3}))
    with pytest.raises(ConfigError, match=r"shards 3 of sample 'higgs' are in no split"):
        splits.split_shards(with_splits(config, test={"qcd": 3}))
    no_splits = copy.deepcopy(config)
    del no_splits["dataset"]["splits"]
    with pytest.raises(ConfigError, match="dataset.splits: missing"):
        splits.split_shards(no_splits)


def test_a_sample_outside_pretrain_never_reaches_the_backbone(config):
    """The W jets of the out-of-distribution task: fine-tuning and test only."""
    config["samples"]["wjets"] = dict(config["samples"]["qcd"], shards=2)
    config = with_splits(config, finetune={"qcd": 1, "higgs": 1, "wjets": 0},
                         test={"qcd": 3, "higgs": 3, "wjets": 1})
    assert all(s != "wjets" for s, _ in splits.split_members(config, "pretrain"))
    assert ("wjets", 0) in splits.split_members(config, "finetune")


def test_compact():
    assert splits.compact([5, 0, 1, 2, 7, 8]) == "0-2, 5, 7-8"


# --- targets ---------------------------------------------------------------------------------


def test_final_targets(config):
    targets = runs.final_targets(config)
    assert "results/plots/dataset/test" in targets
    assert "results/train/rs3l/checkpoint.pt" in targets
    assert "results/evaluate/h_vs_qcd/rejection.csv" in targets
    assert targets[-1] == "results/summary.md"
    assert runs.view_files(config, "qcd", 2) == ["results/views/qcd/2.h5"]  # every view, one file


def test_finetune_runs_cover_modes_and_reps(config):
    config["finetune"].update(modes=["fixed", "supervised"], reps=2)
    # <labelled-set size>/<backbone>/<mode>-<rep>; the supervised baseline has no backbone
    assert runs.finetune_runs(config, "h_vs_qcd") == ["all/rs3l/fixed-0", "all/rs3l/fixed-1",
                                                    "all/supervised-0", "all/supervised-1"]
    assert runs.finetune_dirs(config, "h_vs_qcd")[0] == "results/finetune/h_vs_qcd/all/rs3l/fixed-0"


def test_export_targets_follow_the_export_section(config):
    assert not any(t.startswith("results/export") for t in runs.final_targets(config))  # default
    config["export"].update(formats=["rs3l", "jetclass"], splits=["finetune", "test"])
    assert runs.export_targets(config) == [
        "results/export/rs3l/finetune", "results/export/rs3l/test",
        "results/export/jetclass/finetune", "results/export/jetclass/test"]
    assert set(runs.export_targets(config)) <= set(runs.final_targets(config))


def test_no_tasks_no_summary(config):
    config["finetune"]["tasks"] = {}
    targets = runs.final_targets(config)
    assert "results/summary.md" not in targets
    assert not any(t.startswith("results/evaluate") for t in targets)


# --- re-run digests --------------------------------------------------------------------------


def test_stage_digest_follows_only_the_sections_a_stage_reads(config):
    before = {stage: digests.stage_digest(config, stage, "qcd") for stage in digests.STAGE_SECTIONS}
    assert before == {stage: digests.stage_digest(copy.deepcopy(config), stage, "qcd")
                      for stage in digests.STAGE_SECTIONS}
    changed = copy.deepcopy(config)
    changed["finetune"]["epochs"] = 7
    changed["samples"]["higgs"]["shards"] = 9  # another sample's entry
    changed["dataset"]["splits"]["test"] = {"qcd": 3, "higgs": "3-8"}
    after = {stage: digests.stage_digest(changed, stage, "qcd") for stage in digests.STAGE_SECTIONS}
    # anomaly too: its supervised benchmark trains with the finetune section's recipe
    assert {s for s in before if before[s] != after[s]} == {"finetune", "evaluate", "anomaly"}
    changed["views"]["rehad"]["settings"] = {"StringZ:aLund": 0.7}
    assert digests.stage_digest(changed, "simulate", "qcd") != before["simulate"]
    assert digests.stage_digest(changed, "hard", "qcd") == before["hard"]


def test_editing_a_view_or_the_order_resimulates_but_splits_do_not(config):
    config["views"]["seed"] = {"fork": "hard"}
    before = digests.stage_digest(config, "simulate", "qcd")
    config["views"]["seed"]["settings"] = {"TimeShower:renormMultFac": 0.25}
    after_view = digests.stage_digest(config, "simulate", "qcd")
    config["dataset"]["view_order"] = ["nominal", "seed", "rehad"]
    after_order = digests.stage_digest(config, "simulate", "qcd")
    config["dataset"]["splits"]["test"] = {"qcd": 5}
    assert len({before, after_view, after_order}) == 3
    assert digests.stage_digest(config, "simulate", "qcd") == after_order


# --- schema ----------------------------------------------------------------------------------


def test_schema_fills_workflow_defaults(config):
    del config["workflow"]
    assert validate(config)["workflow"] == {"check_backends": True, "pretrain_run": "rs3l"}


@pytest.mark.parametrize("patch, key", [
    ({"workflow": {"check_backend": True}}, r"workflow: .*'check_backend' was unexpected"),
    ({"workflow": {"check_backends": "yes"}}, "workflow.check_backends"),
    ({"workflow": {"pretrain_run": "a/b"}}, "workflow.pretrain_run"),
    ({"dataset": {"splits": {"pretrain": {"qcd": 0}, "finetune": {"qcd": 1},
                             "validation": {"qcd": 2}, "tests": {"qcd": 3}}}},
     "dataset.splits"),
    ({"dataset": {"splits": {"pretrain": {"qcd": "0..2"}, "finetune": {"qcd": 1},
                             "validation": {"qcd": 2}, "test": {"qcd": 3}}}},
     "dataset.splits.pretrain.qcd"),
    ({"wrokflow": {}}, "'wrokflow' was unexpected"),
])
def test_schema_rejects_with_the_key_name(repo_root, tmp_path, patch, key):
    config = yaml.safe_load((repo_root / "config" / "tiny.yaml").read_text())
    for section, value in patch.items():
        config[section] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=key):
        load_config(path)


PRESETS = ["config.yaml", *sorted(f"config/{p.name}" for p in
                                  (Path(__file__).resolve().parents[1] / "config").glob("*.yaml"))]


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_are_valid(repo_root, preset):
    """Every preset passes what the workflow checks when it starts (config/herwig.yaml once kept
    a renamed view mix that only `snakemake` refused)."""
    config = load_config(repo_root / preset)
    check_config(config, [repo_root / preset])
    assert runs.final_targets(config)


def test_paper_preset_keeps_w_jets_out_of_pretraining(repo_root):
    """Seed 000: the backbone sees H + QCD (50/50); W jets only fine-tune and test the OOD task."""
    config = load_config(repo_root / "config" / "rs3l-paper.yaml")
    resolved = splits.split_shards(config)
    assert set(resolved["pretrain"]) == {"qcd", "higgs"}
    assert len(resolved["pretrain"]["qcd"]) == len(resolved["pretrain"]["higgs"])
    assert "wjets" in resolved["finetune"] and "wjets" in resolved["test"]
    assert set(config["finetune"]["tasks"]) == {"h_vs_qcd", "w_vs_qcd"}
    assert runs.views(config) == ["nominal", "seed", "fsr_up", "fsr_down", "herwig"]


def test_console_scripts_of_the_running_python_come_first_on_path(monkeypatch):
    import os
    import sys
    from pathlib import Path

    from resim_workflow.startup import expose_console_scripts

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    expose_console_scripts()
    expose_console_scripts()  # idempotent: no growing PATH when the Snakefile is parsed again
    assert os.environ["PATH"] == f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin"
