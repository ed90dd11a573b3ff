"""Backbones: EdgeConv vs PyG's textbook EdgeConv, invariances, padding, small jets, checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resim.errors import ConfigError
from train.checkpoint import CheckpointError, save_checkpoint
from train.models import get_model, load_backbone
from train.models.dgcnn import ProjectedEdgeConv
from train.models.knn import knn_table_dense, table_to_edge_index
from train.models.reference import TextbookDGCNN, textbook_edgeconv

SMALL = {"hidden": 32, "k": 8}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def padded_jets(n_per_jet: list[int], n_max: int = 40,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random features (B, n_max, 15), real particles first, padding zero, and the mask."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(n_max)[None, :] < torch.tensor(n_per_jet)[:, None]
    return torch.randn(len(n_per_jet), n_max, 15, generator=g) * mask[..., None], mask


# Jets with 1 particle, fewer than k, exactly k, and more than k particles.
SIZES = [1, 3, 8, 9, 25, 40]


def test_knn_table_is_the_brute_force_neighbourhood():
    x, mask = padded_jets(SIZES, seed=1)
    table = knn_table_dense(x, mask, k=8)
    assert table.shape == (sum(SIZES), 8)
    start = 0
    for n in SIZES:
        pts = x[SIZES.index(n), :n]
        for i in range(n):
            expected = (pts - pts[i]).norm(dim=1).argsort()[: min(8, n)] + start
            assert set(table[start + i].tolist()) == set(expected.tolist())
        start += n


def test_projected_edgeconv_equals_textbook_edgeconv():
    torch.manual_seed(0)
    conv = ProjectedEdgeConv(16)
    textbook = textbook_edgeconv(conv.lin)
    x, mask = padded_jets(SIZES, seed=2)
    nodes = nn.Linear(15, 16)(x[mask])
    table = knn_table_dense(nn.Linear(15, 16)(x).detach(), mask, k=8)
    ours = conv(nodes, table)
    theirs = textbook(nodes, table_to_edge_index(table))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    # Same gradients too (the winner gather must route them like max does).
    grads = [torch.autograd.grad(out.square().sum(), [lin.weight, lin.bias]) for out, lin in
             ((conv(nodes, table), conv.lin),
              (textbook(nodes, table_to_edge_index(table)), textbook.nn[0]))]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_dgcnn_equals_textbook_dgcnn_on_a_naive_knn_graph():
    torch.manual_seed(1)
    model = get_model({"network": "dgcnn", **SMALL})
    x, mask = padded_jets(SIZES, seed=3)
    torch.testing.assert_close(model(x, mask), TextbookDGCNN(model)(x, mask), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backbone", ["dgcnn", "transformer"])
@pytest.mark.parametrize("head_order", ["pool_mlp", "mlp_pool"])
def test_permutation_and_padding_invariance(backbone, head_order):
    torch.manual_seed(2)
    model = get_model({"network": backbone, "hidden": 32, "head_order": head_order}).eval()
    x, mask = padded_jets(SIZES, seed=4)
    with torch.no_grad():
        reference = model(x, mask)
        assert reference.shape == (len(SIZES), 8) and torch.isfinite(reference).all()
        # Shuffle every jet's slots, padding interleaved with real particles.
        perm = torch.stack([torch.randperm(x.shape[1]) for _ in SIZES])
        shuffled = model(x.gather(1, perm[..., None].expand_as(x)), mask.gather(1, perm))
        torch.testing.assert_close(shuffled, reference, rtol=1e-4, atol=1e-5)
        # More padding, filled with garbage: padded particles must not matter.
        pad = torch.randn(len(SIZES), 60, 15) * 100
        padded = model(torch.cat([x.masked_fill(~mask[..., None], 7.0), pad], 1),
                       torch.cat([mask, torch.zeros(len(SIZES), 60, dtype=torch.bool)], 1))
        torch.testing.assert_close(padded, reference, rtol=1e-4, atol=1e-5)
        # A jet does not see the other jets of its batch.
        alone = model(x[2:3], mask[2:3])
        torch.testing.assert_close(alone, reference[2:3], rtol=1e-4, atol=1e-5)


def test_rs3l_architecture_shapes():
    model = get_model({})
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes[:4] == [(128, 15), (128,), (128, 128), (128,)]  # embedding 15 -> 128 -> 128
    assert shapes[4:10] == [(128, 256), (128,)] * 3  # three EdgeConv Linear(2*128 -> 128)
    assert [s for s in shapes[10:] if len(s) == 2] == [(64, 128), (32, 64), (32, 32), (8, 32)]
    assert model.k == 24 and model.model_config["head_order"] == "pool_mlp"


def test_model_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="pretrain.model.network: unknown network 'gnn'"):
        get_model({"network": "gnn"})
    with pytest.raises(ConfigError, match="heads"):
        get_model({"network": "dgcnn", "heads": 4})


def test_load_backbone_restores_weights(tmp_path):
    torch.manual_seed(3)
    model = get_model({"network": "transformer", "hidden": 32, "layers": 1})
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 50)
    save_checkpoint(tmp_path / "c.pt", model=model, epoch=1, optimizer=optimizer,
                    scheduler=scheduler, config={}, metrics=[])
    loaded = load_backbone(tmp_path / "c.pt")
    x, mask = padded_jets(SIZES)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, mask), model.eval()(x, mask))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt is not a PyTorch checkpoint"):
        load_backbone(tmp_path / "bad.pt")


def test_a_checkpoint_of_another_kind_is_named_for_what_it_is(tmp_path):
    import h5py

    from train.finetune.taggers import load_tagger

    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["x"] = [1]
    with pytest.raises(CheckpointError, match="data.h5 is not a PyTorch checkpoint: an HDF5 file"):
        load_backbone(tmp_path / "data.h5")
    model = get_model({"network": "dgcnn", "hidden": 16, "edgeconv_layers": 1, "k": 4})
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 50)
    save_checkpoint(tmp_path / "c.pt", model=model, epoch=1, optimizer=optimizer,
                    scheduler=scheduler, config={}, metrics=[])
    with pytest.raises(CheckpointError, match="c.pt is a pre-training checkpoint .* not a tagger"):
        load_tagger(tmp_path / "c.pt")
    # a fine-tuned tagger records its mode: given as a backbone, it is refused by name
    tagger = torch.load(tmp_path / "c.pt", weights_only=True)
    torch.save({**tagger, "mode": "fixed"}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="model.pt is a tagger .* not a pre-training"):
        load_backbone(tmp_path / "model.pt")


def test_knn_through_pyg_lib_gives_the_same_table(monkeypatch):
    """The pyg-lib path (used when importable) builds the same neighbour sets as the torch one."""
    import torch_geometric.nn
    import torch_geometric.typing

    from train.models.knn import knn_table
    from train.models.reference import naive_knn_edge_index

    def fake_pyg_knn(x, y, k, batch_x, batch_y, batch_size=None):  # pyg-lib's (centre, nbr) layout
        nbr, centre = naive_knn_edge_index(x, batch_x, k)
        return torch.stack([centre, nbr])

    x, mask = padded_jets(SIZES, seed=5)
    flat, batch = x[mask], torch.arange(len(SIZES)).repeat_interleave(torch.tensor(SIZES))
    dense = knn_table(flat, mask, batch, 8)
    monkeypatch.setattr(torch_geometric.typing, "WITH_KNN", True)
    monkeypatch.setattr(torch_geometric.nn, "knn", fake_pyg_knn)
    via_pyg = knn_table(flat, mask, batch, 8)
    assert via_pyg.shape == dense.shape
    assert [set(r) for r in via_pyg.tolist()] == [set(r) for r in dense.tolist()]


def test_neighbour_max_without_gradients_takes_the_same_maximum():
    from train.models.dgcnn import neighbour_max

    torch.manual_seed(3)
    values = torch.randn(50, 16, requires_grad=True)
    table = torch.randint(0, 50, (50, 8))
    with torch.no_grad():
        fast = neighbour_max(values, table)
    assert torch.equal(fast, neighbour_max(values, table).detach())
    assert torch.equal(fast, values.detach()[table].amax(dim=1))
