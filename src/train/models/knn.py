"""k-nearest-neighbour tables of the real particles of padded jets, for dynamic EdgeConv.

Nodes are numbered as in PyG's flat batching (``x[mask]``). A table ``(n_nodes, k')`` lists each
node's neighbours, itself included (distance 0, as PyG's ``DynamicEdgeConv`` does). Padded
particles are never nodes nor neighbours; a jet with fewer than ``k`` particles fills the
remaining slots with the centre itself, which changes neither a max nor the edge set.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import Tensor

#: pyg-lib provides torch_geometric's kNN kernel; torch_geometric itself is imported only then
#: (importing it costs ≈ 1.7 s of every job's start).
WITH_PYG_KNN = importlib.util.find_spec("pyg_lib") is not None


def flat_index(mask: Tensor) -> Tensor:
    """(B, N) long: the row of each real particle in ``x[mask]`` (−1 on padding)."""
    flat = mask.reshape(-1).long().cumsum(0).reshape(mask.shape) - 1
    return flat.masked_fill(~mask, -1)


def knn_table_dense(x: Tensor, mask: Tensor, k: int) -> Tensor:
    """Neighbour table (n_nodes, min(k, N)) from dense latent features ``x`` (B, N, C).

    One batched distance matrix and one ``topk`` for the whole batch; padded columns are +inf
    so they are never picked before a real particle, and picks beyond a small jet are replaced
    by the centre.
    """
    with torch.no_grad():
        sq = (x * x).sum(-1)
        dist = torch.baddbmm(sq.unsqueeze(2) + sq.unsqueeze(1), x, x.transpose(1, 2), alpha=-2.0)
        dist.masked_fill_(~mask.unsqueeze(1), float("inf"))
        nbr = dist.topk(min(k, x.shape[1]), dim=2, largest=False).indices  # (B, N, k')
        flat = flat_index(mask)
        table = torch.gather(flat, 1, nbr.reshape(nbr.shape[0], -1)).reshape(nbr.shape)
        table = torch.where(table >= 0, table, flat.unsqueeze(2))
        return table[mask]


def knn_table(x_flat: Tensor, mask: Tensor, batch: Tensor, k: int) -> Tensor:
    """Neighbour table of the flat node features ``x_flat`` (= dense[mask]) of a padded batch.

    Uses pyg-lib's kernel when it is importable (``torch_geometric.nn.knn``), otherwise the
    batched torch implementation on the dense padded tensor.
    """
    x_flat = x_flat.detach()
    if WITH_PYG_KNN:
        from torch_geometric.nn import knn
        from torch_geometric.utils import to_dense_batch

        centre, nbr = knn(x_flat, x_flat, k, batch, batch, batch_size=mask.shape[0])
        table, filled = to_dense_batch(nbr, centre, max_num_nodes=k, batch_size=len(x_flat))
        self_index = torch.arange(len(x_flat), device=x_flat.device).unsqueeze(1)
        return torch.where(filled, table, self_index)
    dense = x_flat.new_zeros(*mask.shape, x_flat.shape[1])
    dense[mask] = x_flat
    return knn_table_dense(dense, mask, k)


def table_to_edge_index(table: Tensor) -> Tensor:
    """PyG ``edge_index`` (2, E) = (neighbour j, centre i) of a neighbour table."""
    centre = torch.arange(table.shape[0], device=table.device).repeat_interleave(table.shape[1])
    return torch.stack([table.reshape(-1), centre])
