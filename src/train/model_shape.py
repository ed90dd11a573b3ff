"""Torch-free facts about the networks' shapes, read at workflow parse time.

The backbones' shared defaults live here (``train.models`` builds from them) so that a config
check can size what a backbone gives (its output, its per-particle encodings) without
importing torch (``snakemake -n`` stays fast).
"""

from __future__ import annotations

from typing import Any

#: Keyword defaults every backbone shares; ``hidden`` is the width of the per-particle
#: encodings, ``head[-1]`` the width of the jet representation (the output).
SHARED_DEFAULTS: dict[str, Any] = {"input_dim": 15, "hidden": 128, "embed_layers": 2,
                                   "head": [64, 32, 32, 8], "head_order": "pool_mlp"}

#: What the anomaly autoencoder may read of a frozen backbone (``anomaly.representation``):
#: ``output`` the jet representation; ``mean`` / ``pooled`` the per-particle encodings
#: averaged / summed over the jet's particles (before the output MLP).
REPRESENTATIONS = ("output", "mean", "pooled")


def representation_dim(model_cfg: dict | None, kind: str) -> int:
    """Width of representation ``kind`` of the backbone ``model_cfg`` (``pretrain.model``)."""
    cfg = {**SHARED_DEFAULTS, **(model_cfg or {})}
    return int(cfg["head"][-1]) if kind == "output" else int(cfg["hidden"])
