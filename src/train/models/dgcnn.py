"""The RS3L backbone: a dynamic graph CNN (DGCNN) as the authors' code builds it.

Embedding 15 → 128 → 128 (ELU); three EdgeConv layers whose k = 24 neighbours are rebuilt
before each layer in the current latent space; edge function Linear(2·128 → 128) + ELU on
[x_i, x_j − x_i]; max aggregation; then the jet head (sum pool, MLP 128 → 64 → 32 → 32 → 8).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .common import JetBackbone, JetHead, elu_mlp, flatten_jets, trim_padding
from .knn import knn_table


def neighbour_max(values: Tensor, table: Tensor) -> Tensor:
    """max over each node's neighbours of ``values`` (n, C), per channel, with a cheap gradient.

    The winning neighbour of every (node, channel) is found without autograd; the result is
    then one differentiable gather, whose backward is a scatter-add of (n, C) instead of the
    (n, k, C) one of a plain ``amax`` or of a scatter-max over edges.
    """
    # inference (evaluation, validation, a frozen backbone): no winner to remember, and a plain
    # max is about half the cost of a max with indices on the CPU
    differentiable = values.requires_grad and torch.is_grad_enabled()
    with torch.no_grad():
        picked = values.index_select(0, table.reshape(-1)).reshape(*table.shape, -1)
        if not differentiable:
            return picked.amax(dim=1)
        winner = table.gather(1, picked.max(dim=1).indices)  # (n, C) node indices
    return values.gather(0, winner)


class ProjectedEdgeConv(nn.Module):
    """EdgeConv with the edge function ELU(W [x_i, x_j − x_i] + b), max-aggregated, made cheap.

    W [x_i, x_j − x_i] = (W1 − W2) x_i + W2 x_j, so both terms are projected once per node
    instead of once per edge, and because ELU is increasing, max_j ELU(a_i + c_j) =
    ELU(a_i + max_j c_j): only the projected neighbour term goes through the max. The
    parameters are those of the textbook ``Linear(2C → C)`` (``self.lin``), so the layer equals
    PyG's ``EdgeConv(Sequential(Linear(2C, C), ELU()), aggr="max")`` on the same graph (tested).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.lin = nn.Linear(2 * channels, channels)

    def forward(self, x: Tensor, table: Tensor) -> Tensor:
        """``x`` (n, C) node features, ``table`` (n, k) neighbour indices (see ``knn``)."""
        w_centre, w_nbr = self.lin.weight.split(self.channels, dim=1)
        proj = x @ torch.cat([w_centre - w_nbr, w_nbr]).T  # (n, 2C): [centre term | neighbour term]
        centre, nbr = proj.split(self.channels, dim=1)
        return F.elu(centre + self.lin.bias + neighbour_max(nbr.contiguous(), table))


class DGCNN(JetBackbone):
    """(features (B, N, F), mask (B, N) bool) → (B, out) jet representation."""

    def __init__(self, input_dim: int, hidden: int, embed_layers: int, edgeconv_layers: int,
                 k: int, head: list[int], head_order: str):
        super().__init__()
        self.k = k
        self.embed = elu_mlp([input_dim] + [hidden] * embed_layers, final_activation=True)
        self.convs = nn.ModuleList(ProjectedEdgeConv(hidden) for _ in range(edgeconv_layers))
        self.head = JetHead(hidden, head, head_order)

    def _encode(self, features: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        features, mask = trim_padding(features, mask)
        x, batch = flatten_jets(features, mask)
        x = self.embed(x)
        for conv in self.convs:
            x = conv(x, knn_table(x, mask, batch, self.k))
        return x, batch, mask
