"""AdamW that also takes the sparse gradient of the n-gram table, updating only the rows it touched.

A batch of a few hundred documents touches a few thousand of the table's hundreds of thousands
(Luxical-One: 2M) rows. A dense gradient costs a full-table zero-fill, scatter and Adam pass every
step, which on CPU is most of a training step; the sparse one costs only the touched rows
("lazy Adam": untouched rows keep their moments and weights until they appear again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class SparseRowAdamW(torch.optim.AdamW):
    """`torch.optim.AdamW` for dense gradients, lazy row-wise AdamW for sparse ones.

    Dense parameters go through the parent's (fused or foreach) kernel unchanged; a parameter whose
    gradient is a sparse COO tensor (an `EmbeddingBag(sparse=True)` weight) gets the same AdamW
    update restricted to the rows present in its gradient, with bias correction from its own step
    count. The state uses AdamW's keys, so checkpoints save and resume as usual.
    """

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        held: list[tuple[torch.Tensor, torch.Tensor]] = []
        for group in self.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None and parameter.grad.is_sparse:
                    self._sparse_step(group, parameter)
                    held.append((parameter, parameter.grad))
                    parameter.grad = None  # the parent's kernel must not see it
        try:
            return super().step(closure)
        finally:
            for parameter, grad in held:
                parameter.grad = grad

    def _sparse_step(self, group: dict, parameter: torch.Tensor) -> None:
        if group["amsgrad"] or group["maximize"]:
            raise ValueError("sparse gradients support neither amsgrad nor maximize")
        grad = parameter.grad.coalesce()  # type: ignore[union-attr]
        rows, values = grad.indices()[0], grad.values()
        state = self.state[parameter]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
        state["step"] += 1
        step = float(state["step"])
        beta1, beta2 = group["betas"]
        lr, eps, weight_decay = float(group["lr"]), group["eps"], group["weight_decay"]

        # index_select/index_copy_: several times faster than advanced indexing on CPU
        exp_avg = state["exp_avg"].index_select(0, rows).mul_(beta1).add_(values, alpha=1 - beta1)
        exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(beta2)
        exp_avg_sq.addcmul_(values, values, value=1 - beta2)
        state["exp_avg"].index_copy_(0, rows, exp_avg)
        state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)

        denominator = (exp_avg_sq / (1 - beta2**step)).sqrt_().add_(eps)
        update = exp_avg.div_(denominator).mul_(lr / (1 - beta1**step))
        if weight_decay:
            update.add_(parameter.index_select(0, rows), alpha=lr * weight_decay)
        parameter.index_add_(0, rows, update, alpha=-1.0)


@contextmanager
def sparse_gradients(modules: list[nn.Module]) -> Iterator[None]:
    """Give the `EmbeddingBag`s among `modules` sparse gradients for the duration (a training run).

    The flag changes only the backward pass, never the saved model, and is restored afterwards.
    """
    bags = [module for root in modules for module in root.modules() if isinstance(module, nn.EmbeddingBag)]
    previous = [bag.sparse for bag in bags]
    for bag in bags:
        bag.sparse = True
    try:
        yield
    finally:
        for bag, flag in zip(bags, previous, strict=True):
            bag.sparse = flag
