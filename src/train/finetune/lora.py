"""Low-rank adapters (LoRA, Hu et al. 2022) on a backbone's linear layers: the ``lora`` mode.

Seed 001 fine-tunes its pre-trained backbone with LoRA of rank 1 (digest §2.4). Every weight
matrix W of a linear map (each ``nn.Linear``, and the fused query/key/value projection
``in_proj_weight`` of attention) becomes W + B A, with A (rank x in) and B (out x rank);
B starts at zero, so the adapted backbone starts as the pre-trained one. W itself is frozen.

The adapters are torch parametrizations, not wrapper modules: PyTorch's attention and its
fused transformer fast path read ``out_proj.weight`` and ``linear1.weight`` directly rather than
calling those modules, and a parametrized weight is what they read. (PEFT, not installed here,
wraps modules; it would miss those reads.)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from resim.errors import ConfigError


class LowRankDelta(nn.Module):
    """The parametrization W -> W + B A of one weight matrix."""

    def __init__(self, out_features: int, in_features: int, rank: int):
        super().__init__()
        # A as nn.Linear's default initialisation (Kaiming uniform), B zero: W + BA = W at start
        self.A = nn.Parameter(torch.empty(rank, in_features))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(out_features, rank))

    def forward(self, weight: Tensor) -> Tensor:
        return weight + self.B @ self.A


def _targets(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, weight name) of every linear map of ``model``."""
    out = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            out.append((module, "weight"))
        elif isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None:
            out.append((module, "in_proj_weight"))
    return out


def add_lora(model: nn.Module, rank: int) -> int:
    """Freeze ``model`` and put rank-``rank`` adapters on every linear map; returns the number
    of adapter parameters (the only ones of ``model`` that train)."""
    if rank < 1:
        raise ConfigError(f"finetune.lora_rank: {rank} must be at least 1")
    model.requires_grad_(False)
    n = 0
    for module, name in _targets(model):
        out_features, in_features = getattr(module, name).shape
        delta = LowRankDelta(out_features, in_features, min(rank, out_features, in_features))
        parametrize.register_parametrization(module, name, delta)
        n += delta.A.numel() + delta.B.numel()
    return n


def lora_rank_of(state_dict: dict) -> int | None:
    """The adapter rank of a saved LoRA model (None: no adapters)."""
    ranks = [v.shape[0] for k, v in state_dict.items() if k.endswith(".0.A")]
    return max(ranks) if ranks else None


def base_weights(model: nn.Module) -> dict[str, Tensor]:
    """The frozen pre-trained weights under the adapters (and every other frozen parameter)."""
    return {k: v for k, v in model.state_dict().items()
            if not (k.endswith(".0.A") or k.endswith(".0.B"))}
