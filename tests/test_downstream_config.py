"""Seed 001's downstream tasks in the workflow: bad settings stop ``snakemake -n`` naming their
key; the shared-shower preset plans the dark-jet samples and the anomaly detection."""

from __future__ import annotations

import pytest
import yaml
from test_config_failfast import with_changes
from test_workflow_snakemake import snakemake

from resim.config import load_config, validate
from resim.errors import ConfigError
from train.anomaly import checks  # noqa: F401 (registers the anomaly section's checks)
from resim_workflow import runs, splits

DARK = {"process": "dijet_dark", "dark_model": "C", "pt_range": [100.0, None], "eta_max": 3.0}

#: (key, bad value, what the error says, starting with the key)
CASES = [
    ("samples.darkZ", {**DARK, "dark_model": "Z"},
     "samples.darkZ.dark_model: unknown dark model 'Z' (known: A, B, C, D)"),
    ("finetune.lora_rank", 0, "finetune.lora_rank"),
    ("finetune.tasks.tau_vs_qcd", {"signal": ["tau"], "background": ["q"]},
     "finetune.tasks.tau_vs_qcd.signal: labels ['tau'] are in no sample's jets"),
]


@pytest.fixture(scope="module")
def tiny(repo_root) -> dict:
    return yaml.safe_load((repo_root / "config" / "tiny.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case[0])
def test_each_mistake_names_its_key(tiny, case):
    with pytest.raises(ConfigError) as error:
        validate(with_changes(tiny, [case]), source="my.yaml")
    assert case[2] in str(error.value)


def test_anomaly_section_must_name_dark_samples(tiny):
    config = with_changes(tiny, [("samples.darkC", DARK, None),
                                 ("anomaly.benchmark", "qcd", None)])
    with pytest.raises(ConfigError, match="anomaly.benchmark: 'qcd' is not one of the scored"):
        validate(config)


def test_a_dark_sample_needs_pythia_views(tiny):
    config = with_changes(tiny, [("samples.darkC", DARK, None),
                                 ("views.hw", {"fork": "hard", "backend": "herwig"}, None)])
    with pytest.raises(ConfigError, match="views.hw.backend: 'herwig' cannot shower the dark"):
        validate(config)


def test_a_dark_sample_in_a_split_is_refused(tiny):
    config = validate(with_changes(tiny, [("samples.darkC", DARK, None),
                                          ("dataset.splits.test.darkC", 0, None)]))
    with pytest.raises(ConfigError, match="dataset.splits.test.darkC: 'darkC' is a dark-jet"):
        splits.split_shards(config)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case[0])
def test_dry_run_fails_naming_the_key(repo_root, tmp_path, tiny, case):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(with_changes(tiny, [case])))
    result = snakemake(repo_root, tmp_path, str(config), "-n")
    assert result.returncode != 0
    assert case[2] in result.output
    assert not (tmp_path / "results").exists()


def test_shared_shower_plans_dark_jets_and_anomaly_detection(repo_root, tmp_path):
    preset = repo_root / "config" / "shared-shower.yaml"
    config = load_config(preset)
    dark = runs.anomaly_samples(config)
    assert dark == ["darkA", "darkB", "darkC", "darkD"]
    assert "lora" in config["finetune"]["modes"]
    result = snakemake(repo_root, tmp_path, str(preset), "-n", "--quiet", "rules")
    assert result.returncode == 0, result.output
    assert "anomaly_detection" in result.output
    shards = config["samples"]["darkA"]["shards"]
    listing = snakemake(repo_root, tmp_path, str(preset), "-n", "--summary").output
    for name in dark:
        for shard in range(shards):
            assert f"results/dataset/{name}/{shard}.h5" in listing
    assert "results/anomaly/roc.png" in listing
    assert "results/finetune/tau_vs_qcd/all/shared-shower/lora-0" in listing
