"""Lesson 2.6, exercise 1: weight decay is a shrink factor on every weight.

Take one SGD step with weight_decay=lambda and check it equals (1 - lr*lambda) * w - lr * g,
and also equals a plain SGD step on the loss plus (lambda/2) * ||w||^2. Then let only the
decay act (a loss that ignores w) for 1,000 steps and check the weights are multiplied by
(1 - lr*lambda)^1000, about 1/e for lr = 0.1 and lambda = 0.01.
"""

from __future__ import annotations

import math

import torch

LR, LAMBDA = 0.1, 0.01


def data_loss(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A plain mean squared error: the part of the loss that comes from the data."""
    return ((x @ w - y) ** 2).mean()


def sgd_step(w0: torch.Tensor, x: torch.Tensor, y: torch.Tensor, decay: float) -> torch.Tensor:
    """One torch.optim.SGD step from w0 with this weight_decay; returns the new weights."""
    w = w0.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([w], lr=LR, weight_decay=decay)
    data_loss(w, x, y).backward()
    optimizer.step()
    return w.detach()


def penalised_step(w0: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One plain SGD step (no weight_decay) on the loss plus (lambda/2) * ||w||^2."""
    w = w0.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([w], lr=LR)
    (data_loss(w, x, y) + LAMBDA / 2 * w.pow(2).sum()).backward()
    optimizer.step()
    return w.detach()


def main() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 5), torch.randn(64)
    w0 = torch.randn(5)

    w = w0.clone().requires_grad_(True)
    data_loss(w, x, y).backward()
    by_formula = (1 - LR * LAMBDA) * w0 - LR * w.grad  # shrink, then the usual step
    with_decay = sgd_step(w0, x, y, LAMBDA)
    with_penalty = penalised_step(w0, x, y)
    print(f"SGD(weight_decay) vs formula:  {(with_decay - by_formula).abs().max().item():.1e}")
    print(f"SGD(weight_decay) vs penalty:  {(with_decay - with_penalty).abs().max().item():.1e}")
    assert torch.allclose(with_decay, by_formula, atol=1e-6)
    assert torch.allclose(with_decay, with_penalty, atol=1e-6)

    # Only the decay acts: a loss that does not depend on w gives w.grad = 0 every step.
    w = w0.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([w], lr=LR, weight_decay=LAMBDA)
    for _ in range(1000):
        optimizer.zero_grad()
        (0 * w).sum().backward()  # a zero gradient from the data
        optimizer.step()
    kept = w.detach() / w0  # what share of itself each weight kept
    factor = (1 - LR * LAMBDA) ** 1000
    print(f"after 1000 steps every weight kept {kept.min().item():.4f} to {kept.max().item():.4f}")
    print(f"of itself; (1 - lr*lambda)^1000 = {factor:.4f} and 1/e = {math.exp(-1):.4f}")
    assert torch.allclose(kept, torch.full_like(kept, factor), rtol=1e-3)
    print("weight decay multiplies every weight by (1 - lr*lambda) each step")


if __name__ == "__main__":
    main()
