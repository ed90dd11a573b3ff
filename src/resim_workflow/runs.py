"""The study's axes as jobs, and the files each rule reads.

The axes themselves (backbones and their repetitions, labelled-set sizes, baselines) are defined
by :mod:`train.study`; here they become run folders and targets of :mod:`.layout`:
``results/finetune/<task>/<size>/<backbone>/<mode>-<rep>`` for a tagger on a backbone,
``.../<size>/supervised-<rep>`` for the baseline trained from scratch (one network), or
``.../<size>/<backbone>/supervised-<rep>`` for the baseline of each network.
"""

from __future__ import annotations

import glob

from resim.errors import ConfigError
from resim.forks.chain import view_order
from resim.formats.jetclass import is_jetclass_task
from resim.hard.processes import is_dark
from resim.pileup import pileup_on
from train import study

from . import layout
from .splits import SPLITS, shards, split_members

#: Fine-tuning modes of ``rs3l finetune`` (supervised: same network, trained from scratch).
MODES = (*study.BACKBONE_MODES, "supervised")


def views(config: dict) -> list[str]:
    """The views in the order one ``simulate`` job per (sample, shard) runs them.

    The order (and every check on it) is the engine's own, :func:`resim.forks.chain.view_order`, so
    the workflow and ``resim simulate`` always agree; a bad order fails at ``snakemake -n``.
    """
    return view_order(config)


# ---------------------------------------------------------------------------------------------
# what each data rule reads


def pileup_pool_files(config: dict) -> list[str]:
    """The pile-up pool shards every ``simulate`` job reads (none when pile-up is off)."""
    if not pileup_on(config):
        return []
    return [layout.pool_path(k) for k in range(int(config["pileup"].get("pool_shards", 1)))]


def view_files(config: dict, sample: str, shard: int) -> list[str]:
    """The view files ``resim pair`` combines for one (sample, shard): one, every view."""
    return [layout.view_path(sample, shard)]


def pair_files(config: dict, split: str) -> list[str]:
    """The per-shard paired files ``resim merge`` combines into one split."""
    return [layout.pair_path(sample, shard) for sample, shard in split_members(config, split)]


def labelled_files(config: dict, task: str, split: str) -> list[str]:
    """The files a task's fine-tuning (``finetune``), validation or test jets come from: the
    paired split, or, for a task of JetClass labels, the files ``finetune.jetclass.<split>``
    names (globs expanded, sorted; a glob matching nothing is a ConfigError)."""
    spec = ((config.get("finetune") or {}).get("tasks") or {}).get(task) or {}
    if not is_jetclass_task(spec):
        return [layout.split_path(split)]
    patterns = ((config.get("finetune") or {}).get("jetclass") or {}).get(split) or []
    files = []
    for pattern in patterns:
        matched = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matched:
            raise ConfigError(f"finetune.jetclass.{split}: {pattern!r} matches no file")
        files += matched
    return files


# ---------------------------------------------------------------------------------------------
# training and evaluation


def backbones(config: dict) -> list[str]:
    """Names of the pre-training runs, each in its folder :data:`layout.TRAIN`."""
    return study.backbone_names(config)


def tasks(config: dict) -> list[str]:
    """Fine-tuning tasks (``finetune.tasks``: a mapping or a list of names)."""
    return list((config.get("finetune") or {}).get("tasks") or [])


def finetune_runs(config: dict, task: str) -> list[str]:
    """Run folders of ``task`` relative to its folder :data:`layout.FINETUNE`: every size,
    backbone, mode and repetition."""
    section = config.get("finetune") or {}
    modes = section.get("modes", list(MODES))
    reps = range(int(section.get("reps", 1)))
    runs = []
    for size in study.train_sizes(config):
        runs += [layout.path(layout.TAGGER_RUN, size=size, backbone=name, mode=mode, rep=rep)
                 for name in backbones(config)
                 for mode in modes if mode in study.BACKBONE_MODES for rep in reps]
        if "supervised" in modes:
            runs += [supervised_run(size, name, label, rep)
                     for name, label in study.baselines(config).items() for rep in reps]
    return runs


def supervised_run(size: int | str, backbone: str, label: str, rep: int) -> str:
    """A supervised baseline's run folder: ``<size>/supervised-<rep>`` for the one network of
    every backbone (label ""), else below the first backbone with the network it trains."""
    pattern = layout.NETWORK_BASELINE_RUN if label else layout.BASELINE_RUN
    return layout.path(pattern, size=size, backbone=backbone, rep=rep)


def baseline_network(config: dict) -> str:
    """The backbone whose network the single supervised baseline trains (every backbone's)."""
    return next(iter(study.baselines(config)))


def finetune_dirs(config: dict, task: str) -> list[str]:
    return [layout.finetune_dir(task, run) for run in finetune_runs(config, task)]


def anomaly_samples(config: dict) -> list[str]:
    """The dark-jet samples ``rs3l anomaly`` scores (``anomaly.samples``, else every one)."""
    listed = (config.get("anomaly") or {}).get("samples")
    if listed is not None:
        return list(listed)
    return [name for name, spec in config["samples"].items() if is_dark(spec)]


def anomaly_backbone(config: dict) -> str:
    """The backbone the autoencoder reads (``anomaly.pretrain_run``, else the first)."""
    return (config.get("anomaly") or {}).get("pretrain_run") or backbones(config)[0]


def anomaly_dark_files(config: dict) -> dict[str, list[str]]:
    """Dark sample -> its per-shard paired files."""
    return {name: [layout.pair_path(name, shard) for shard in shards(config, name)]
            for name in anomaly_samples(config)}


def final_targets(config: dict) -> list[str]:
    """Everything ``rule all`` asks for: validation plots, backbones, evaluation, summary,
    the anomaly detection when the config has dark-jet samples, the exports it asks for."""
    targets = [layout.path(layout.DATASET_PLOTS, split=split) for split in SPLITS]
    targets += [layout.backbone_path(name) for name in backbones(config)]
    task_names = tasks(config)
    targets += [f"{layout.evaluate_dir(task)}/rejection.csv" for task in task_names]
    if task_names:
        targets.append(layout.SUMMARY)
    if anomaly_samples(config):
        targets.append(layout.ANOMALY_METRICS)
    return targets + export_targets(config)


def export_targets(config: dict) -> list[str]:
    """The ``export`` rule's outputs, ``results/export/<format>/<split>``: none unless
    ``export.formats`` names a layout."""
    section = config["export"]
    return [layout.path(layout.EXPORT, fmt=fmt, split=split) for fmt in section["formats"]
            for split in section["splits"]]
