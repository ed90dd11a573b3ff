"""Pure-Python helpers behind the Snakemake workflow: which files exist for a config.

The Snakefile and ``workflow/rules/*.smk`` stay thin: every list of targets, every shard-to-split
assignment and the view order comes from here, so it is unit-tested without Snakemake.
Paths follow the layout of INTERFACES.md (``results/<stage>/...``).

Splits (``dataset.splits``) assign whole shards of a sample to one of the dataset splits.
Shards are seeded independently (``resim.seeds.derive_seed`` includes the shard), so splits
made of disjoint shards hold independent events: pre-training and fine-tuning never share an
event, and a sample that appears in no ``pretrain`` entry (the W jets of the out-of-distribution
task) never reaches the backbone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from train import study

from .config import SHAPING_SECTIONS, config_hash, config_section
from .errors import ConfigError
from .forks import view_order
from .formats.jetclass import is_jetclass_task
from .hard.processes import is_dark

#: Dataset splits, in the order the workflow builds them.
SPLITS = ("pretrain", "finetune", "validation", "test")

#: Fine-tuning modes of ``rs3l finetune`` (supervised: same network, trained from scratch).
MODES = ("fixed", "floating", "lora", "supervised")

#: Config sections each stage reads. A change in one of them re-runs that stage (the digest is
#: a rule parameter); downstream stages follow because their inputs become newer.
STAGE_SECTIONS = {
    "hard": ("run", "samples"),
    "pileup": ("run", "shower", "pileup"),
    "simulate": SHAPING_SECTIONS,
    "pair": ("run", "views", "jets", "dataset"),
    "pretrain": ("pretrain",),
    "finetune": ("finetune",),
    "evaluate": ("evaluate", "finetune"),
    "anomaly": ("anomaly", "finetune", "evaluate"),
}

_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


# ---------------------------------------------------------------------------------------------
# views


def views(config: dict) -> list[str]:
    """The views in the order one ``simulate`` job per (sample, shard) runs them.

    The order (and every check on it) is the engine's own, :func:`resim.forks.view_order`, so
    the workflow and ``resim simulate`` always agree; a bad order fails at ``snakemake -n``.
    """
    return view_order(config)


# ---------------------------------------------------------------------------------------------
# shards and splits


def shards(config: dict, sample: str) -> list[int]:
    """Shard numbers of ``sample``: 0 ... samples.<sample>.shards - 1."""
    return list(range(int(config["samples"][sample].get("shards", 1))))


def parse_shards(spec: Any, key: str) -> list[int]:
    """Shard list from a split entry: an int, ``"a-b"`` (inclusive) or a list of those."""
    items = spec if isinstance(spec, list) else [spec]
    out: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise ConfigError(f"{key}: {item!r} is not a shard number or a range 'first-last'")
        if isinstance(item, int):
            out.append(item)
            continue
        match = _RANGE.match(item)
        if not match:
            raise ConfigError(f"{key}: {item!r} is not a shard range 'first-last' (e.g. '0-9')")
        first, last = int(match[1]), int(match[2])
        if last < first:
            raise ConfigError(f"{key}: range {item!r} is empty (last < first)")
        out.extend(range(first, last + 1))
    if len(set(out)) != len(out):
        raise ConfigError(f"{key}: a shard is listed twice in {spec!r}")
    return sorted(out)


def split_shards(config: dict) -> dict[str, dict[str, list[int]]]:
    """``dataset.splits`` resolved: split -> sample -> sorted shards, checked.

    Every shard of every sample belongs to exactly one split (a shard in two splits would share
    events between pre-training and fine-tuning; a shard in none would be generated for nothing),
    and every split is non-empty. Dark-jet samples are the exception: they are the anomaly
    signal, which no training of the backbone or the autoencoder may see, so they belong to no
    split (``rs3l anomaly`` reads their shards). Errors name the config key.
    """
    splits_cfg = (config.get("dataset") or {}).get("splits")
    if not splits_cfg:
        raise ConfigError("dataset.splits: missing; assign the shards of every sample to the "
                          f"splits {', '.join(SPLITS)} (see config/README.md)")
    samples = config["samples"]
    owner: dict[tuple[str, int], str] = {}
    resolved: dict[str, dict[str, list[int]]] = {}
    for split in SPLITS:
        entry = splits_cfg.get(split) or {}
        if not entry:
            raise ConfigError(f"dataset.splits.{split}: no shards assigned")
        resolved[split] = {}
        for sample, spec in entry.items():
            key = f"dataset.splits.{split}.{sample}"
            if sample not in samples:
                raise ConfigError(f"{key}: unknown sample {sample!r}; known: {', '.join(samples)}")
            if is_dark(samples[sample]):
                raise ConfigError(f"{key}: {sample!r} is a dark-jet (anomaly signal) sample; it "
                                  "belongs to no split (rs3l anomaly reads its shards)")
            numbers = parse_shards(spec, key)
            n_shards = len(shards(config, sample))
            for shard in numbers:
                if shard >= n_shards:
                    raise ConfigError(f"{key}: shard {shard} does not exist "
                                      f"(samples.{sample}.shards is {n_shards})")
                other = owner.setdefault((sample, shard), split)
                if other != split:
                    raise ConfigError(f"{key}: shard {shard} of {sample!r} is also in split "
                                      f"{other!r}; splits must hold independent events")
            resolved[split][sample] = numbers
    for sample in (s for s in samples if not is_dark(samples[s])):
        unused = [s for s in shards(config, sample) if (sample, s) not in owner]
        if unused:
            raise ConfigError(f"dataset.splits: shards {compact(unused)} of sample {sample!r} are "
                              "in no split; assign them or lower samples."
                              f"{sample}.shards")
    return resolved


def compact(numbers: Iterable[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"`` for messages."""
    numbers = sorted(numbers)
    parts: list[str] = []
    start = prev = None
    for n in [*numbers, None]:
        if start is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)


def split_members(config: dict, split: str) -> list[tuple[str, int]]:
    """(sample, shard) pairs of one split, samples in config order."""
    entry = split_shards(config)[split]
    return [(sample, shard) for sample in config["samples"] if sample in entry
            for shard in entry[sample]]


# ---------------------------------------------------------------------------------------------
# paths


def hard_path(sample: str, shard: int) -> str:
    return f"results/hard/{sample}/{shard}.lhe.gz"


def view_path(sample: str, shard: int) -> str:
    return f"results/views/{sample}/{shard}.h5"


def pileup_pool_files(config: dict) -> list[str]:
    """The pile-up pool shards every ``simulate`` job reads (none when ``pileup.mu`` is 0)."""
    section = config.get("pileup") or {}
    if not float(section.get("mu", 0)) > 0:
        return []
    return [f"results/pileup/pool/{k}.h5" for k in range(int(section.get("pool_shards", 1)))]


def pair_path(sample: str, shard: int) -> str:
    return f"results/dataset/{sample}/{shard}.h5"


def split_path(split: str) -> str:
    return f"results/dataset/{split}.h5"


def view_files(config: dict, sample: str, shard: int) -> list[str]:
    """The view files ``resim pair`` combines for one (sample, shard): one, every view."""
    return [view_path(sample, shard)]


def pair_files(config: dict, split: str) -> list[str]:
    """The per-shard paired files ``resim merge`` combines into one split."""
    return [pair_path(sample, shard) for sample, shard in split_members(config, split)]


def labelled_files(config: dict, task: str, split: str) -> list[str]:
    """The files a task's fine-tuning (``finetune``), validation or test jets come from: the
    paired split, or, for a task of JetClass labels, the files ``finetune.jetclass.<split>``
    names (globs expanded, sorted; a glob matching nothing is a ConfigError)."""
    spec = ((config.get("finetune") or {}).get("tasks") or {}).get(task) or {}
    if not is_jetclass_task(spec):
        return [split_path(split)]
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


# The study's axes (backbones, labelled-set sizes) are defined by train.study; here they become
# paths. results/finetune/<task>/<size>/<backbone>/<mode>-<rep> for a tagger on a backbone,
# results/finetune/<task>/<size>/supervised-<rep> for the baseline trained from scratch (one
# network), or .../<size>/<backbone>/supervised-<rep> for the baseline of each network.


def check_config(config: dict, files: Iterable[str | Path] = ()) -> None:
    """Everything that can be wrong with the config, checked when the workflow starts
    (``snakemake -n`` included): its files' YAML (a section given twice), the schema, the
    splits, the views and the study. A problem is one line on stderr, naming the key or line,
    and exit status 2, as the console scripts end; Snakemake would print a multi-line report
    on stdout instead."""
    from .config import read_yaml, validate

    with stop_on_error():
        for path in files:
            read_yaml(path)
        validate(config, source="config (config.yaml, --configfile, --config)")
        split_shards(config)  # dataset.splits: every shard in exactly one split
        views(config)  # views and dataset.view_order: forks, parents and the order
        check_study(config)


@contextlib.contextmanager
def stop_on_error() -> Iterator[None]:
    """A ResimError in the block stops Snakemake as the console scripts stop: one line on
    stderr, exit status 2 (Snakemake's own report is several lines on stdout)."""
    from .cliutil import one_line
    from .errors import ResimError

    try:
        yield
    except ResimError as err:
        print(f"snakemake: error: {one_line(str(err))}", file=sys.stderr)
        raise SystemExit(2) from None


def pool_shard(config: dict, shard: str) -> int:
    """A pool shard a job (or a target on the command line) names, within
    ``pileup.pool_shards``."""
    shards = int((config.get("pileup") or {}).get("pool_shards", 1))
    with stop_on_error():
        if not 0 <= int(shard) < shards:
            raise ConfigError(f"pileup.pool_shards: pool shard {shard} is outside 0..{shards - 1}"
                              f" (results/pileup/pool/{shard}.h5)")
    return int(shard)


def check_study(config: dict) -> None:
    """The study's axes, checked before any job (see :func:`train.study.check`)."""
    study.check(config)


def backbones(config: dict) -> list[str]:
    """Names of the pre-training runs, each in ``results/train/<name>/``."""
    return study.backbone_names(config)


def backbone_path(name: str) -> str:
    return f"results/train/{name}/checkpoint.pt"


def tasks(config: dict) -> list[str]:
    """Fine-tuning tasks (``finetune.tasks``: a mapping or a list of names)."""
    return list((config.get("finetune") or {}).get("tasks") or [])


def finetune_runs(config: dict, task: str) -> list[str]:
    """Run folders of ``task`` relative to ``results/finetune/<task>/``: every size, backbone,
    mode and repetition."""
    section = config.get("finetune") or {}
    modes = section.get("modes", list(MODES))
    reps = range(int(section.get("reps", 1)))
    runs = []
    for size in study.train_sizes(config):
        runs += [f"{size}/{name}/{mode}-{rep}" for name in backbones(config)
                 for mode in modes if mode in study.BACKBONE_MODES for rep in reps]
        if "supervised" in modes:
            runs += [supervised_run(size, name, label, rep)
                     for name, label in study.baselines(config).items() for rep in reps]
    return runs


def supervised_run(size: int | str, backbone: str, label: str, rep: int) -> str:
    """A supervised baseline's run folder: ``<size>/supervised-<rep>`` for the one network of
    every backbone (label ""), else below the first backbone with the network it trains."""
    return f"{size}/supervised-{rep}" if not label else f"{size}/{backbone}/supervised-{rep}"


def baseline_network(config: dict) -> str:
    """The backbone whose network the single supervised baseline trains (every backbone's)."""
    return next(iter(study.baselines(config)))


def finetune_dirs(config: dict, task: str) -> list[str]:
    return [f"results/finetune/{task}/{run}" for run in finetune_runs(config, task)]


def anomaly_samples(config: dict) -> list[str]:
    """The dark-jet samples ``rs3l anomaly`` scores (``anomaly.samples``, else every one)."""
    listed = (config.get("anomaly") or {}).get("samples")
    if listed is not None:
        return list(listed)
    return [name for name, spec in config["samples"].items() if is_dark(spec)]


def anomaly_backbone(config: dict) -> str:
    """The backbone the autoencoder reads (``anomaly.backbone``, else the first)."""
    return (config.get("anomaly") or {}).get("backbone") or backbones(config)[0]


def anomaly_dark_files(config: dict) -> dict[str, list[str]]:
    """Dark sample -> its per-shard paired files."""
    return {name: [pair_path(name, shard) for shard in shards(config, name)]
            for name in anomaly_samples(config)}


ANOMALY_METRICS = "results/anomaly/metrics.json"


def final_targets(config: dict) -> list[str]:
    """Everything ``rule all`` asks for: validation plots, backbones, evaluation, summary,
    the anomaly detection when the config has dark-jet samples, the exports it asks for."""
    targets = [f"results/plots/dataset/{split}" for split in SPLITS]
    targets += [backbone_path(name) for name in backbones(config)]
    task_names = tasks(config)
    targets += [f"results/evaluate/{task}/rejection.csv" for task in task_names]
    if task_names:
        targets.append("results/summary.md")
    if anomaly_samples(config):
        targets.append(ANOMALY_METRICS)
    return targets + export_targets(config)


def export_targets(config: dict) -> list[str]:
    """The ``export`` rule's outputs, ``results/export/<format>/<split>``: none unless
    ``export.formats`` names a layout."""
    section = config["export"]
    return [f"results/export/{fmt}/{split}" for fmt in section["formats"]
            for split in section["splits"]]


# ---------------------------------------------------------------------------------------------
# re-run triggers


def stage_digest(config: dict, stage: str, sample: str | None = None,
                 backbone: str | None = None) -> str:
    """A digest of the config sections ``stage`` reads: only ``sample``'s entry of ``samples``
    and only ``backbone``'s pre-training run where given. Fine-tuning's study axes (sizes,
    repetitions, modes) choose which jobs exist, not what one does: they are left out.

    Used as a rule parameter: Snakemake re-runs a job whose parameters changed, so editing
    ``pretrain`` re-trains without regenerating events, and an unchanged config re-runs nothing.
    """
    parts: dict[str, Any] = {}
    for section in STAGE_SECTIONS[stage]:
        value = config_section(config, section, sample)
        if section == "pretrain" and backbone is not None:
            # the run's section and the repetition, not how many repetitions there are: adding
            # a repetition re-trains nothing that exists
            base, rep = study.split_rep(backbone)
            value = {k: v for k, v in study.backbone_runs(config)[base].items()
                     if k not in ("reps", "rep")}
            value = {**value, "rep": rep} if rep else value
        if section == "finetune" and value and stage == "finetune":
            value = {k: v for k, v in value.items() if k not in ("train_sizes", "reps", "modes")}
        parts[section] = value
    return config_hash(parts)


def expose_console_scripts() -> None:
    """Put the directory of the running interpreter first on PATH.

    Rules call the ``resim`` / ``rs3l`` console scripts installed beside the Python that runs
    Snakemake; started as ``.venv/bin/snakemake`` without an activated venv, they would not be
    found otherwise. Jobs (local or sbatch, which exports the environment) inherit PATH.
    """
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = os.pathsep.join([scripts, path]) if path else scripts
