"""What a job of the chain checks about its inputs before it starts: is this its shard, its file?

The hard stage names the (sample, shard) it generated for in its LHE header
(:func:`resim.lhe.provenance_block`); a later job given that file for another sample or shard,
or a shard the sample does not have, stops with one line naming both sides. (Dataset files:
:mod:`resim.dataset.provenance`.)
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError
from .lhe import LHEHead, check_lhe


def check_shard(config: dict, sample: str, shard: int) -> None:
    """``sample`` is a key of ``samples``; ``shard`` is in ``0 .. samples.<sample>.shards - 1``."""
    samples = config.get("samples") or {}
    if sample not in samples:
        raise ConfigError(f"samples.{sample}: unknown sample (known: {', '.join(sorted(samples))})")
    shards = samples[sample].get("shards")
    if shards is not None and not 0 <= int(shard) < int(shards):
        raise ConfigError(f"shard {shard} is outside the range of sample {sample!r}: "
                          f"samples.{sample}.shards = {int(shards)} (shards 0..{int(shards) - 1})")


def check_hard_input(config: dict, sample: str, shard: int, lhe_path: str | Path) -> LHEHead:
    """Everything a job that showers ``lhe_path`` for (``sample``, ``shard``) checks first.

    Call it before any generator opens the file: the shard is the sample's, the file is an LHE
    file with events, and, when resim's hard stage wrote it, it was written for this
    (sample, shard). Raises :class:`ConfigError` or :class:`LHEError`.
    """
    check_shard(config, sample, shard)
    return check_lhe(lhe_path, sample, shard)
