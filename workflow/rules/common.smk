# Helpers shared by every stage. The logic lives in resim_workflow (unit-tested): the results
# layout (layout), the splits, the study's jobs and each rule's inputs (runs), the re-run digests
# (digests) and the parse-time checks (startup); this file only binds it to Snakemake's wildcards.
import os
import re
from pathlib import Path

import yaml

from snakemake.logging import logger
from snakemake.settings.types import DeploymentMethod

from resim.backends import check as check_backends
from resim.errors import BackendMissingError
from resim.io import atomic_write_text
from resim_workflow import layout, runs, startup
from resim_workflow.digests import stage_digest
from resim_workflow.splits import SPLITS

# The schema (workflow/schemas/config.schema.yaml, a link to the package's copy, so the CLIs
# validate alike) fills defaults; an unknown key or a bad value, a section given twice in a
# config file, bad splits, views or backbones stop here: one line on stderr naming the key.
startup.check_config(config, workflow.overwrite_configfiles or workflow.configfiles)

startup.expose_console_scripts()  # jobs find resim / rs3l even from a non-activated venv

#: The validated, effective config every job reads (written at workflow start).
CONFIG = layout.CONFIG


wildcard_constraints:
    sample="|".join(map(re.escape, config["samples"])),
    shard=r"\d+",
    pshard=r"\d+",
    split="|".join(SPLITS),
    task=r"[A-Za-z0-9_]+",
    mode="|".join(runs.MODES),
    rep=r"\d+",
    name=r"[A-Za-z0-9_.-]+",


def prepare_run():
    """At workflow start (never in dry runs): publish the effective config, check backends."""
    text = yaml.safe_dump(config, sort_keys=False)  # keep the view order of the config
    path = Path(CONFIG)
    if not path.exists() or path.read_text() != text:
        atomic_write_text(path, text)  # unchanged config: file untouched, nothing re-runs
    if not config["workflow"]["check_backends"]:
        return
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        # --sdm conda: each job gets its tool from envs/<tool>.yaml, not from this PATH
        logger.info("backend check skipped: conda envs (envs/*.yaml) provide the programs")
        return
    problems = check_backends(config)
    if problems:
        raise BackendMissingError(
            "the config selects programs that are not installed; no job was started "
            "(workflow.check_backends: false skips this check):\n  " + "\n  ".join(problems)
        )


def all_targets(wildcards):
    return runs.final_targets(config)


def digest(stage):
    """Rule parameter: changes only when the config sections of ``stage`` change."""

    def get(wildcards):
        return stage_digest(config, stage, wildcards.get("sample"))

    return get


def env_for(tool):
    """Conda env of a rule that runs an external tool when the config selects it."""
    return f"../../envs/{tool}.yaml"


def hard_env(wildcards):
    backend = config["samples"][wildcards.sample].get("backend", "embedded")
    return env_for("madgraph" if backend == "madgraph" else "resim")


def simulate_env(wildcards):
    # One env per job: Herwig 7's env when a view uses it, Delphes' for a Delphes detector.
    if any(spec.get("backend") == "herwig" for spec in config["views"].values()):
        return env_for("herwig")
    if config.get("detector", {}).get("backend") == "delphes":
        return env_for("delphes")
    return env_for("resim")


def pileup_inputs(wildcards):
    return runs.pileup_pool_files(config)


def view_inputs(wildcards):
    return runs.view_files(config, wildcards.sample, int(wildcards.shard))


def split_inputs(wildcards):
    return runs.pair_files(config, wildcards.split)


# --- evaluation (rules/evaluate.smk) ---


def labelled(split):
    """Input function: the task's jets of ``split`` (paired split or finetune.jetclass files)."""
    return lambda wildcards: runs.labelled_files(config, wildcards.task, split)


def backbone_checkpoints(wildcards):
    return [layout.backbone_path(name) for name in runs.backbones(config)]


def pretrain_metrics(wildcards):
    return [f"{layout.train_dir(name)}/metrics.json" for name in runs.backbones(config)]


def finetune_dirs(wildcards):
    return runs.finetune_dirs(config, wildcards.task)


def finetune_inputs(wildcards):
    return [f"{d}/metrics.json" for d in finetune_dirs(wildcards)]


def backbone_args(wildcards, input):
    return " ".join(f"--backbone {path}" for path in input.backbones)


def evaluate_outputs(wildcards):
    return [f"{layout.evaluate_dir(task)}/metrics.json" for task in runs.tasks(config)]


def backbone_plots(plot):
    # one file per backbone; the report shows each under its backbone's name
    return [f"{layout.EVALUATE}/backbones/{name}/{plot}.png" for name in runs.backbones(config)]


# --- anomaly detection (rules/anomaly.smk) ---


def anomaly_dark_inputs(wildcards):
    return [f for files in runs.anomaly_dark_files(config).values() for f in files]


def anomaly_dark_args(wildcards):
    return " ".join(f"--dark {name} {' '.join(files)}"
                    for name, files in runs.anomaly_dark_files(config).items())
