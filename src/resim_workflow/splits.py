"""Shards of each sample assigned to the dataset splits (``dataset.splits``).

Splits assign whole shards of a sample to one of the dataset splits. Shards are seeded
independently (``resim.seeds.derive_seed`` includes the shard), so splits made of disjoint
shards hold independent events: pre-training and fine-tuning never share an event, and a sample
that appears in no ``pretrain`` entry (the W jets of the out-of-distribution task) never reaches
the backbone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from resim.errors import ConfigError
from resim.hard.processes import is_dark

#: Dataset splits, in the order the workflow builds them.
SPLITS = ("pretrain", "finetune", "validation", "test")

_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


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
                          f"splits {', '.join(SPLITS)} (see docs/configuration.md)")
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
