"""Lesson 1.1, exercise 3: see why zero_grad() is the first line of the step.

Call backward() twice on the same batch without clearing the gradients and compare the
weight's .grad with the one from a single backward(). Then do the same with
optimizer.zero_grad() before each backward() and check the gradient stays put.
"""

from __future__ import annotations

import torch
from torch import nn


def show(values: torch.Tensor) -> str:
    """A tensor's values as a short list with 4 decimals, for printing."""
    return "[" + ", ".join(f"{v:.4f}" for v in values.flatten().tolist()) + "]"


def gradient_after(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    clear_first: bool,
) -> torch.Tensor:
    """Run forward, loss and backward once and return a copy of the weight's gradient."""
    if clear_first:
        optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(inputs), targets)
    loss.backward()
    return model.weight.grad.detach().clone()


def main() -> None:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.randn(8, 2), torch.randn(8, 1)

    first = gradient_after(model, optimizer, inputs, targets, clear_first=True)
    second = gradient_after(model, optimizer, inputs, targets, clear_first=False)
    assert torch.allclose(second, 2 * first)  # the new gradient was ADDED to the old one
    print(f"gradient after one backward:        {show(first)}")
    print(f"after a second, without zero_grad:  {show(second)}")

    cleared = gradient_after(model, optimizer, inputs, targets, clear_first=True)
    assert torch.allclose(cleared, first)
    print(f"after zero_grad and backward again: {show(cleared)}")
    print("without zero_grad the gradient doubled: PyTorch adds gradients up")


if __name__ == "__main__":
    main()
