"""BERT-like particle transformer backbone (the paper's cross-check of the DGCNN).

The same embedding as the DGCNN, then post-norm self-attention layers over the real particles
of each jet (padding masked out of the keys), then the same jet head (sum pool + MLP).
"""

from __future__ import annotations

from torch import Tensor, nn

from .common import JetBackbone, JetHead, elu_mlp, flatten_jets, trim_padding


class ParticleTransformer(JetBackbone):
    """(features (B, N, F), mask (B, N) bool) → (B, out) jet representation."""

    def __init__(self, input_dim: int, hidden: int, embed_layers: int, layers: int, heads: int,
                 feedforward: int, dropout: float, head: list[int], head_order: str):
        super().__init__()
        self.embed = elu_mlp([input_dim] + [hidden] * embed_layers, final_activation=True)
        layer = nn.TransformerEncoderLayer(hidden, heads, feedforward, dropout, activation="gelu",
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = JetHead(hidden, head, head_order)

    def _encode(self, features: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        features, mask = trim_padding(features, mask)
        x = self.encoder(self.embed(features), src_key_padding_mask=~mask)
        return *flatten_jets(x, mask), mask
