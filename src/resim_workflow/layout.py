"""The results layout: every file the workflow writes or reads, named once.

Patterns hold Snakemake wildcards (``{sample}``, ``{shard}``, ...): the rules use them as they
are, and :func:`path` fills them for one job. File names *inside* a stage's folder (a run's
``metrics.json``, a task's ``rejection.md``) are that stage's own contract, written by its
command; this module says where the folders are.
"""

from __future__ import annotations

from resim.hard import stats_path

RESULTS = "results"

#: The validated, effective config every job reads (written at workflow start).
CONFIG = f"{RESULTS}/config.yaml"

#: Hard events of one (sample, shard), and their statistics beside them (``resim hard``'s).
HARD = f"{RESULTS}/hard/{{sample}}/{{shard}}.lhe.gz"
HARD_STATS = str(stats_path(HARD))

#: One shard of the minimum-bias pool that every simulate job overlays.
POOL = f"{RESULTS}/pileup/pool/{{pshard}}.h5"

#: Every view of one (sample, shard): the simulate job's output.
VIEWS = f"{RESULTS}/views/{{sample}}/{{shard}}.h5"

#: The paired jets of one (sample, shard), and a dataset split (the shards merged).
PAIRED = f"{RESULTS}/dataset/{{sample}}/{{shard}}.h5"
SPLIT = f"{RESULTS}/dataset/{{split}}.h5"
DATASET_PLOTS = f"{RESULTS}/plots/dataset/{{split}}"

#: A pre-training run's folder (one backbone) and its checkpoint.
TRAIN = f"{RESULTS}/train/{{name}}"
CHECKPOINT = f"{TRAIN}/checkpoint.pt"

#: A task's fine-tuning runs: a tagger on a backbone, the supervised baseline of the one
#: network every backbone shares, or the baseline of each network (below its first backbone).
FINETUNE = f"{RESULTS}/finetune/{{task}}"
TAGGER_RUN = "{size}/{backbone}/{mode}-{rep}"
BASELINE_RUN = "{size}/supervised-{rep}"
NETWORK_BASELINE_RUN = "{size}/{backbone}/supervised-{rep}"

#: A task's evaluation folder (tables, plots, ``metrics.json``) and the run's summary.
EVALUATE = f"{RESULTS}/evaluate/{{task}}"
SUMMARY = f"{RESULTS}/summary.md"

#: The dark-jet anomaly detection's folder and its metrics.
ANOMALY = f"{RESULTS}/anomaly"
ANOMALY_METRICS = f"{ANOMALY}/metrics.json"

#: ``resim export`` of a merged split into a field's layout (config ``export``)
EXPORT = f"{RESULTS}/export/{{fmt}}/{{split}}"


def path(pattern: str, **wildcards) -> str:
    """``pattern`` with its wildcards filled: ``path(PAIRED, sample="qcd", shard=0)``."""
    return pattern.format(**wildcards)


def hard_path(sample: str, shard: int) -> str:
    return path(HARD, sample=sample, shard=shard)


def view_path(sample: str, shard: int) -> str:
    return path(VIEWS, sample=sample, shard=shard)


def pair_path(sample: str, shard: int) -> str:
    return path(PAIRED, sample=sample, shard=shard)


def split_path(split: str) -> str:
    return path(SPLIT, split=split)


def pool_path(shard: int | str) -> str:
    return path(POOL, pshard=shard)


def train_dir(name: str) -> str:
    return path(TRAIN, name=name)


def backbone_path(name: str) -> str:
    return path(CHECKPOINT, name=name)


def finetune_dir(task: str, run: str) -> str:
    """A fine-tuning run's folder, ``run`` relative to its task's folder."""
    return f"{path(FINETUNE, task=task)}/{run}"


def evaluate_dir(task: str) -> str:
    return path(EVALUATE, task=task)
