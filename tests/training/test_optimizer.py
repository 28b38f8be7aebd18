"""SparseRowAdamW against torch's AdamW, and the sparse-aware gradient norm of the trainer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from luxical_st.training.optimizer import SparseRowAdamW, sparse_gradients
from luxical_st.training.trainer import gradient_norm


def bag_pair(rows: int = 12, width: int = 5) -> tuple[nn.EmbeddingBag, nn.EmbeddingBag]:
    """Two identical EmbeddingBags, the second with sparse gradients."""
    torch.manual_seed(0)
    dense = nn.EmbeddingBag(rows, width, mode="sum")
    sparse = nn.EmbeddingBag(rows, width, mode="sum", sparse=True)
    sparse.weight.data.copy_(dense.weight.data)
    return dense, sparse


def run_steps(bag: nn.EmbeddingBag, optimizer: torch.optim.Optimizer, batches: list[torch.Tensor]) -> None:
    for ids in batches:
        offsets = torch.arange(0, len(ids), 3)
        weights = torch.linspace(0.5, 1.5, len(ids))
        target = torch.ones(len(offsets), bag.embedding_dim)
        loss = ((bag(ids, offsets, per_sample_weights=weights) - target) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_sparse_steps_equal_adamw_when_every_row_is_touched(weight_decay):
    dense, sparse = bag_pair()
    generator = torch.Generator().manual_seed(1)
    # every batch touches all 12 rows, some twice (duplicates must be summed, as dense does)
    batches = [
        torch.cat([torch.randperm(12, generator=generator), torch.tensor([3, 3, 7])]) for _ in range(6)
    ]
    settings = {"lr": 0.05, "betas": (0.9, 0.9), "eps": 1e-8, "weight_decay": weight_decay}
    run_steps(dense, torch.optim.AdamW(dense.parameters(), **settings), batches)
    run_steps(sparse, SparseRowAdamW(sparse.parameters(), **settings), batches)
    torch.testing.assert_close(sparse.weight, dense.weight, rtol=1e-5, atol=1e-6)


def test_untouched_rows_and_their_moments_stay_put():
    _, sparse = bag_pair()
    optimizer = SparseRowAdamW(sparse.parameters(), lr=0.05, betas=(0.9, 0.9))
    run_steps(sparse, optimizer, [torch.tensor([0, 1, 2, 3, 4, 5])])
    before = sparse.weight.detach().clone()
    moments = optimizer.state[sparse.weight]["exp_avg"].clone()
    run_steps(sparse, optimizer, [torch.tensor([6, 7, 8])])
    torch.testing.assert_close(sparse.weight[:6], before[:6], rtol=0, atol=0)
    torch.testing.assert_close(optimizer.state[sparse.weight]["exp_avg"][:6], moments[:6], rtol=0, atol=0)
    assert not torch.equal(sparse.weight[6:9], before[6:9])
    assert optimizer.state[sparse.weight]["step"].item() == 2


def test_dense_parameters_in_the_same_optimizer_match_adamw():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    twin = nn.Linear(4, 3)
    twin.load_state_dict(layer.state_dict())
    inputs = torch.randn(8, 4)
    for model, optimizer_cls in ((layer, torch.optim.AdamW), (twin, SparseRowAdamW)):
        optimizer = optimizer_cls(model.parameters(), lr=0.01)
        for _ in range(3):
            optimizer.zero_grad()
            model(inputs).square().sum().backward()
            optimizer.step()
    torch.testing.assert_close(twin.weight, layer.weight)


def test_sparse_state_survives_a_state_dict_round_trip():
    _, sparse = bag_pair()
    optimizer = SparseRowAdamW(sparse.parameters(), lr=0.05)
    run_steps(sparse, optimizer, [torch.tensor([0, 1, 2])])
    restored = SparseRowAdamW(sparse.parameters(), lr=0.05)
    restored.load_state_dict(optimizer.state_dict())
    state = restored.state[sparse.weight]
    torch.testing.assert_close(state["exp_avg"], optimizer.state[sparse.weight]["exp_avg"])
    assert state["step"].item() == 1


def test_amsgrad_is_refused_for_sparse_gradients():
    _, sparse = bag_pair()
    with pytest.raises(ValueError, match="amsgrad"):
        run_steps(
            sparse, SparseRowAdamW(sparse.parameters(), lr=0.05, amsgrad=True), [torch.tensor([0, 1, 2])]
        )


def test_gradient_norm_counts_sparse_duplicates_like_dense():
    dense, sparse = bag_pair()
    ids = torch.tensor([0, 3, 3, 5, 0, 9])
    for bag in (dense, sparse):
        bag(ids, torch.tensor([0, 3])).square().sum().backward()
    expected = dense.weight.grad.norm()
    torch.testing.assert_close(gradient_norm([sparse.weight]), expected)
    torch.testing.assert_close(gradient_norm([dense.weight]), expected)


def test_sparse_gradients_is_scoped():
    dense, _ = bag_pair()
    container = nn.Sequential(dense)
    with sparse_gradients([container]):
        assert dense.sparse
    assert not dense.sparse
