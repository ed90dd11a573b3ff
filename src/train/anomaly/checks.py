"""The anomaly detection's config checks, registered with :mod:`resim.checks` when this module
is imported (by ``rs3l anomaly`` and by the workflow at parse time): ``anomaly.samples`` are
dark-jet samples, the benchmark is one of them, and the autoencoder has a bottleneck.

Pure Python (no torch), so that ``snakemake -n`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator

from resim.checks import register_check
from resim.hard.processes import is_dark

from ..model_shape import representation_dim
from ..study import backbone_runs, split_rep


@register_check("anomaly samples")
def _anomaly_problems(config: dict) -> Iterator[str]:
    """``anomaly.samples`` are dark-jet samples; the benchmark is one of them."""
    section = config.get("anomaly") or {}
    dark = [name for name, spec in config["samples"].items() if is_dark(spec)]
    listed = section.get("samples")
    for name in listed or []:
        if name not in dark:
            yield (f"anomaly.samples: {name!r} is not a dark-jet sample (process dijet_dark; "
                   f"the config's: {', '.join(dark) or 'none'})")
    benchmark = section.get("benchmark")
    scored = dark if listed is None else listed
    if benchmark is not None and benchmark not in scored:
        yield (f"anomaly.benchmark: {benchmark!r} is not one of the scored dark samples "
               f"({', '.join(scored) or 'none'})")
    if scored:
        yield from _bottleneck_problems(config, section)


def _bottleneck_problems(config: dict, section: dict) -> Iterator[str]:
    """An autoencoder whose latent is not narrower than its input can learn the identity: it
    reconstructs every jet, dark or not, and its score measures nothing."""
    runs = backbone_runs(config)
    name = split_rep(section.get("pretrain_run") or next(iter(runs)))[0]  # a repetition: its run's
    if name not in runs:
        return  # an unknown anomaly.pretrain_run is the workflow's error (it names the backbones)
    kind = section.get("representation", "auto")
    # auto reads the per-particle mean: every configurable backbone has per-particle encodings
    kind = "mean" if kind == "auto" else kind
    dim = representation_dim(runs[name].get("model"), kind)
    latent = int(section.get("latent", 20))
    if latent >= dim:
        yield (f"anomaly.latent: {latent} is not smaller than the autoencoder's input, the "
               f"{dim}-d {kind} representation of backbone {name!r}: no bottleneck, the "
               f"identity is reachable (use a latent below {dim}, or representation: mean)")
