"""LoRA fine-tuning: only the adapters and the head change; the pre-trained weights do not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from resim.errors import ConfigError
from train.finetune.heads import Tagger
from train.finetune.lora import add_lora, base_weights, lora_rank_of
from train.models import get_model
from train.finetune.taggers import output_dim


def _batch(n: int = 16, particles: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(n, particles, 15, generator=g)
    mask = torch.arange(particles)[None, :] < torch.randint(3, particles + 1, (n, 1), generator=g)
    target = (features[:, 0, 0] > 0).float()  # learnable from the inputs
    return features, mask, target


@pytest.mark.parametrize("backbone", ["transformer", "dgcnn"])
def test_lora_trains_adapters_and_head_only(backbone):
    torch.manual_seed(0)
    model = get_model({"network": backbone, "hidden": 16, "head": [8, 8],
                       **({"layers": 1, "heads": 2, "feedforward": 16} if backbone == "transformer"
                          else {"edgeconv_layers": 1, "k": 4})})
    features, mask, target = _batch()
    before_out = model.eval()(features, mask).detach().clone()
    n_adapters = add_lora(model, rank=1)
    base = {k: v.clone() for k, v in base_weights(model).items()}
    # B starts at zero: the adapted backbone is the pre-trained one
    torch.testing.assert_close(model(features, mask), before_out)
    tagger = Tagger(model, output_dim(model), head="mlp")
    trainable = [p for p in tagger.parameters() if p.requires_grad]
    n_head = sum(p.numel() for p in tagger.head.parameters())
    assert sum(p.numel() for p in trainable) == n_adapters + n_head
    assert n_adapters < 0.5 * sum(v.numel() for v in base.values())
    optimizer = torch.optim.Adam(trainable, lr=1e-2)
    adapters_before = {k: v.clone() for k, v in model.state_dict().items() if k.endswith(".0.B")}
    tagger.train()
    for _ in range(5):
        loss = nn.functional.binary_cross_entropy_with_logits(tagger(features, mask), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = base_weights(model)
    assert after.keys() == base.keys()
    for key, value in base.items():  # bit for bit
        assert torch.equal(after[key], value), key
    moved = [k for k, v in adapters_before.items() if not torch.equal(model.state_dict()[k], v)]
    assert moved  # the adapters did train
    assert not torch.allclose(model.eval()(features, mask), before_out)
    assert lora_rank_of(tagger.state_dict()) == 1


def test_attention_projections_are_adapted():
    """The attention's fused q/k/v projection and its output projection get adapters (PyTorch
    reads these weights directly, without calling a module)."""
    model = get_model({"network": "transformer", "hidden": 16, "head": [8], "layers": 1,
                       "heads": 2, "feedforward": 16})
    add_lora(model, rank=2)
    names = [k for k in model.state_dict() if k.endswith(".0.A")]
    assert any("self_attn.parametrizations.in_proj_weight" in k for k in names)
    assert any("self_attn.out_proj.parametrizations.weight" in k for k in names)
    assert lora_rank_of(model.state_dict()) == 2


def test_rank_below_one_is_a_config_error():
    with pytest.raises(ConfigError, match="finetune.lora_rank"):
        add_lora(nn.Sequential(nn.Linear(3, 3)), rank=0)


def test_adapted_output_is_w_plus_ba():
    layer = nn.Linear(4, 3)
    w = layer.weight.detach().clone()
    add_lora(layer, rank=2)
    delta = layer.parametrizations.weight[0]
    with torch.no_grad():
        delta.B.copy_(torch.arange(6.0).reshape(3, 2))
    x = torch.from_numpy(np.eye(4, dtype=np.float32))
    expected = x @ (w + delta.B @ delta.A).T + layer.bias
    torch.testing.assert_close(layer(x), expected)
