"""The taggers of ``rs3l finetune``: a backbone and a head, built for a mode or loaded back."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from resim.errors import ConfigError

from ..checkpoint import load_checkpoint
from .heads import MODES, Tagger
from .lora import add_lora, lora_rank_of
from ..model_shape import representation_dim
from ..models import checkpoint_network, get_model


def output_dim(backbone: nn.Module) -> int:
    """Width of the backbone's representation: the last linear layer's output features."""
    linears = [m for m in backbone.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError("the backbone has no linear layer to read its output width from")
    return linears[-1].out_features


def build_tagger(mode: str, backbone_path: str | Path | None, model_cfg: dict | None,
                 head: str, lora_rank: int = 1) -> Tagger:
    """The tagger of ``mode``: pre-trained backbone (fixed, floating, lora: frozen under
    rank-``lora_rank`` adapters) or a fresh one (supervised).

    The supervised baseline takes its architecture from the checkpoint when one is given, else
    from ``model_cfg`` (the ``pretrain.model`` section), so that it matches the backbone.
    """
    if mode not in MODES:
        raise ConfigError(f"finetune mode {mode!r}: must be one of {', '.join(MODES)}")
    if mode == "supervised":
        backbone = (checkpoint_network(backbone_path, load_checkpoint(
            backbone_path, kind="pretraining"), weights=False) if backbone_path
            else get_model(model_cfg))
    else:
        if backbone_path is None:
            raise ConfigError(f"finetune mode {mode!r} needs --backbone (a pre-training checkpoint)")
        checkpoint = load_checkpoint(backbone_path, kind="pretraining")
        backbone = checkpoint_network(backbone_path, checkpoint)
        if mode == "lora":
            add_lora(backbone, lora_rank)
        if mode == "fixed" and is_mpm(checkpoint):
            return _tagger(backbone, head, "fixed", "mean")
    return _tagger(backbone, head, mode, "output")


def is_mpm(checkpoint: dict) -> bool:
    """Whether a pre-training checkpoint is masked particle modelling's (its jet head untrained)."""
    return ((checkpoint.get("config") or {}).get("pretrain") or {}).get("objective") == "mpm"


def _tagger(backbone: nn.Module, head: str, mode: str, representation: str) -> Tagger:
    """A tagger reading ``representation`` of ``backbone`` (``mean``: the per-particle
    encodings averaged, ``hidden`` wide; ``output``: the jet representation)."""
    dim = (representation_dim(backbone.model_config, "mean") if representation == "mean"
           else output_dim(backbone))
    return Tagger(backbone, dim, head=head, frozen=(mode == "fixed"), representation=representation)


def load_tagger(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[Tagger, dict]:
    """A tagger written by ``rs3l finetune`` (``model.pt``), in eval mode, and its record."""
    record = load_checkpoint(path, map_location=map_location, kind="tagger")
    backbone = checkpoint_network(path, record, weights=False)
    if record["mode"] == "lora":
        add_lora(backbone, lora_rank_of(record["state_dict"]))
    tagger = _tagger(backbone, record["head"], record["mode"], record.get("representation", "output"))
    tagger.load_state_dict(record["state_dict"])
    return tagger.eval(), record


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
