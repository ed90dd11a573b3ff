"""Re-run triggers: a digest of the config sections each stage reads.

A digest is a rule parameter: Snakemake re-runs a job whose parameters changed, so editing
``pretrain`` re-trains without regenerating events, and an unchanged config re-runs nothing;
downstream stages follow because their inputs become newer.
"""

from __future__ import annotations

from typing import Any

from resim.config import SHAPING_SECTIONS, config_hash, config_section
from train import study

#: Config sections each stage reads.
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


def stage_digest(config: dict, stage: str, sample: str | None = None,
                 backbone: str | None = None) -> str:
    """A digest of the config sections ``stage`` reads: only ``sample``'s entry of ``samples``
    and only ``backbone``'s pre-training run where given. Fine-tuning's study axes (sizes,
    repetitions, modes) choose which jobs exist, not what one does: they are left out."""
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
