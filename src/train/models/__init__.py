"""Backbones: ``get_model(model_cfg)`` builds one, ``load_backbone(path)`` restores a trained one.

A backbone maps ``(features (B, N, 15) float32, mask (B, N) bool) -> (B, 8)``. ``model_cfg`` is
the ``pretrain.model`` config section: ``network`` picks the kind of network, the other keys
override its defaults below; the resolved dict is kept as ``model.model_config`` and in checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from resim.errors import ConfigError

from .dgcnn import DGCNN
from .transformer import ParticleTransformer
from ..model_shape import SHARED_DEFAULTS as _SHARED

#: network kind (``pretrain.model.network``) → (class, default keyword arguments).
BACKBONES: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
    "dgcnn": (DGCNN, {**_SHARED, "edgeconv_layers": 3, "k": 24}),
    "transformer": (ParticleTransformer, {**_SHARED, "layers": 4, "heads": 8, "feedforward": 512,
                                          "dropout": 0.1}),
}


def resolve_model_config(model_cfg: dict[str, Any] | None) -> dict[str, Any]:
    """``model_cfg`` with every default filled in; unknown network or key → ConfigError."""
    cfg = dict(model_cfg or {})
    name = cfg.pop("network", "dgcnn")
    if name not in BACKBONES:
        raise ConfigError(f"pretrain.model.network: unknown network {name!r}; "
                          f"known: {', '.join(BACKBONES)}")
    defaults = BACKBONES[name][1]
    unknown = sorted(set(cfg) - set(defaults))
    if unknown:
        raise ConfigError(f"pretrain.model: keys {unknown} do not apply to network {name!r} "
                          f"(it takes {sorted(defaults)})")
    return {"network": name, **defaults, **cfg}


def get_model(model_cfg: dict[str, Any] | None) -> nn.Module:
    """Build the backbone described by ``model_cfg`` (the ``pretrain.model`` section)."""
    resolved = resolve_model_config(model_cfg)
    cls = BACKBONES[resolved["network"]][0]
    model = cls(**{key: value for key, value in resolved.items() if key != "network"})
    model.model_config = resolved
    return model


def checkpoint_network(path: str | Path, checkpoint: dict[str, Any],
                       weights: bool = True) -> nn.Module:
    """The backbone a checkpoint describes (its weights loaded unless ``weights`` is False).

    A checkpoint names its own network: one this code cannot build (another project's, another
    version's) is a CheckpointError about the checkpoint, not a ``pretrain.model`` config key
    the user never wrote."""
    from ..checkpoint import CheckpointError

    described = checkpoint["model_config"]
    if isinstance(described, dict) and "backbone" in described:  # written before the rename
        described = {"network": described["backbone"],
                     **{k: v for k, v in described.items() if k != "backbone"}}
    name = described.get("network", "?") if isinstance(described, dict) else "?"
    try:
        model = get_model(described)
    except ConfigError as err:
        reason = str(err).removeprefix("pretrain.model: ").removeprefix("pretrain.model.network: ")
        raise CheckpointError(f"checkpoint {path} holds a network this resim cannot build "
                              f"({name!r}): {reason}") from None
    if weights:
        missing, unexpected = _mismatch(model, checkpoint["state_dict"])
        if missing or unexpected:
            raise CheckpointError(f"checkpoint {path}: its weights do not fit its {name} network "
                                  f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        model.load_state_dict(checkpoint["state_dict"])
    return model


def _mismatch(model: nn.Module, state: dict) -> tuple[list[str], list[str]]:
    mine = model.state_dict()
    missing = [k for k in mine if k not in state]
    unexpected = [k for k in state if k not in mine or state[k].shape != mine[k].shape]
    return missing, unexpected


def load_backbone(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """The backbone stored in a pre-training checkpoint, weights loaded, in eval mode."""
    from ..checkpoint import load_checkpoint

    checkpoint = load_checkpoint(path, map_location=map_location, kind="pretraining")
    return checkpoint_network(path, checkpoint).eval()


__all__ = ["BACKBONES", "checkpoint_network", "get_model", "load_backbone",
           "resolve_model_config"]
