"""The DGCNN's maths written the textbook way, to verify it and to benchmark it against.

Per jet, in a Python loop, the full pairwise-distance matrix of its real particles gives the
kNN graph; each layer is PyG's ``EdgeConv(Sequential(Linear(2C, C), ELU()), aggr="max")``
evaluated on every edge. Weights are shared with the :class:`~train.models.dgcnn.DGCNN` it
checks, so both must give the same output.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import EdgeConv

from .common import flatten_jets
from .dgcnn import DGCNN


def naive_knn_edge_index(x: Tensor, batch: Tensor, k: int) -> Tensor:
    """(2, E) = (neighbour, centre) edges: per jet, the k nearest (itself included) of its nodes."""
    edges = []
    for jet in torch.unique(batch):
        nodes = (batch == jet).nonzero().squeeze(1)
        dist = torch.cdist(x[nodes], x[nodes])
        nbr = dist.topk(min(k, len(nodes)), dim=1, largest=False).indices
        centre = nodes.unsqueeze(1).expand_as(nbr)
        edges.append(torch.stack([nodes[nbr].reshape(-1), centre.reshape(-1)]))
    return torch.cat(edges, dim=1)


def textbook_edgeconv(lin: nn.Linear) -> EdgeConv:
    """PyG's EdgeConv with the edge function ELU(lin([x_i, x_j − x_i])), a copy of ``lin``."""
    conv = EdgeConv(nn.Sequential(nn.Linear(lin.in_features, lin.out_features), nn.ELU()),
                    aggr="max")  # EdgeConv re-initialises its nn: copy the weights afterwards
    conv.nn[0].load_state_dict(lin.state_dict())
    return conv


class TextbookDGCNN(nn.Module):
    """PyG ``EdgeConv`` on a naively built kNN graph, with the parameters of ``model``."""

    def __init__(self, model: DGCNN):
        super().__init__()
        self.model = model
        self.convs = nn.ModuleList(textbook_edgeconv(conv.lin) for conv in model.convs)

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        x, batch = flatten_jets(features, mask)
        x = self.model.embed(x)
        for conv in self.convs:
            x = conv(x, naive_knn_edge_index(x.detach(), batch, self.model.k))
        return self.model.head(x, batch, mask.shape[0])
