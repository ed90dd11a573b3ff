"""Hard scatter: one LHE file per (sample, shard), from the backend the sample names.

``generate`` dispatches on ``config["samples"][sample]["backend"]`` through
:mod:`resim.hard.registry` ("embedded": Pythia 8 in :mod:`resim.hard.pythia`; "madgraph":
:mod:`resim.hard.madgraph`), then writes the statistics and the seed manifest beside the LHE.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..checks import register_check
from ..errors import ConfigError
from ..io import atomic_write_text, published_together
from ..seeds import SeedManifest
from .registry import get_hard_backend, register_hard_backend

__all__ = ["generate", "register_hard_backend", "stats_path"]


def stats_path(out_path: str | Path) -> Path:
    """``results/hard/S/N.lhe.gz`` -> ``results/hard/S/N.json``."""
    out_path = Path(out_path)
    name = out_path.name
    for suffix in (".lhe.gz", ".lhe"):
        if name.endswith(suffix):
            return out_path.with_name(name[: -len(suffix)] + ".json")
    return out_path.with_name(name + ".json")


def generate(config: dict, sample: str, shard: int, out_path: str | Path) -> dict:
    """Generate the hard events of one shard into ``out_path`` (LHE, gzip when it ends .gz).

    Returns the statistics (events, filter efficiency, cross-section, seeds, versions), also
    written atomically to :func:`stats_path` (the seed manifest is its ``seeds`` entry).
    """
    samples = config.get("samples") or {}
    if sample not in samples:
        raise ConfigError(f"samples.{sample}: unknown sample (known: {', '.join(sorted(samples))})")
    spec = samples[sample]
    shards = spec.get("shards")
    if shards is not None and not 0 <= int(shard) < int(shards):
        raise ConfigError(f"samples.{sample}.shards: shard {shard} is outside 0..{int(shards) - 1}")
    backend = get_hard_backend(spec.get("backend", "embedded"), f"samples.{sample}.backend")
    manifest = SeedManifest(int(config["run"]["seed"]), sample, int(shard))
    # the events and their statistics are one result: a failure leaves neither
    with published_together(out_path, stats_path(out_path)):
        stats = backend(config, sample, int(shard), Path(out_path), manifest)
        stats["seeds"] = {**manifest.to_dict(),
                          **({"backend": stats["seeds"]} if "seeds" in stats else {})}
        atomic_write_text(stats_path(out_path), json.dumps(stats, indent=2, sort_keys=True) + "\n")
    return stats


@register_check("pt ranges")
def _pt_range_problems(config: dict):
    """A sample's ``pt_range`` must select something (null: no maximum)."""
    for sample, spec in config["samples"].items():
        low, high = spec.get("pt_range") or (0, None)
        if high is not None and high <= low:
            yield (f"samples.{sample}.pt_range: [{low}, {high}] selects nothing "
                   "(the maximum must be above the minimum; null: no maximum)")
