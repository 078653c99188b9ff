"""Lesson 1.5, exercise 2: check a whole model's gradients, then let gradcheck do it.

Write numerical_gradient(loss_fn, param) that nudges every entry of a parameter up and
down by h and applies the central difference. Use it to check every gradient of an
nn.Linear(3, 2) model (in float64) under an MSE loss against loss.backward(). Then run
torch.autograd.gradcheck on the same computation written as a function of (w, b).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def numerical_gradient(
    loss_fn: Callable[[], torch.Tensor], param: nn.Parameter, h: float = 1e-6
) -> torch.Tensor:
    """Central-difference estimate of d(loss)/d(param), one entry at a time."""
    grad = torch.zeros_like(param)
    flat_param, flat_grad = param.data.view(-1), grad.view(-1)
    for i in range(flat_param.numel()):
        original = flat_param[i].item()
        flat_param[i] = original + h
        up = loss_fn().item()
        flat_param[i] = original - h
        down = loss_fn().item()
        flat_param[i] = original  # put the weight back exactly as it was
        flat_grad[i] = (up - down) / (2 * h)
    return grad


def main() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    inputs = torch.randn(16, 3, dtype=torch.float64)
    targets = torch.randn(16, 2, dtype=torch.float64)

    def loss_fn() -> torch.Tensor:
        return nn.functional.mse_loss(model(inputs), targets)

    model.zero_grad()
    loss_fn().backward()
    for name, param in model.named_parameters():
        estimate = numerical_gradient(loss_fn, param)
        gap = (estimate - param.grad).abs().max().item()
        print(f"{name:<6} max |numerical - autograd| = {gap:.1e}")
        assert gap < 1e-7

    w = model.weight.detach().clone().requires_grad_(True)
    b = model.bias.detach().clone().requires_grad_(True)

    def mse_of(w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((inputs @ w.T + b - targets) ** 2).mean()

    passed = torch.autograd.gradcheck(mse_of, (w, b), eps=1e-6, atol=1e-6)
    assert passed
    print("gradcheck passed: autograd agrees with finite differences in float64")


if __name__ == "__main__":
    main()
