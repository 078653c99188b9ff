"""Lesson 1.1, exercise 1: the four steps on one tiny batch.

Build a linear model with 3 inputs and 1 output and a batch of 4 examples. Run one
training step by hand: forward, loss, backward, step. Print the shape of every tensor
involved, the loss, and the weights before and after optimizer.step(). Check that plain
SGD moved each weight by exactly -lr * grad and that the loss on the batch went down.
"""

from __future__ import annotations

import torch
from torch import nn

LR = 0.1


def show(values: torch.Tensor) -> str:
    """A tensor's values as a short list with 4 decimals, for printing."""
    return "[" + ", ".join(f"{v:.4f}" for v in values.flatten().tolist()) + "]"


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def main() -> None:
    torch.manual_seed(0)
    device = pick_device()
    model = nn.Linear(3, 1).to(device)
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    inputs = torch.randn(4, 3, device=device)  # 4 examples, 3 features each
    targets = torch.randn(4, 1, device=device)  # one number to predict per example

    weight_before = model.weight.detach().clone()
    optimizer.zero_grad()  # start from clean gradients
    outputs = model(inputs)  # 1. forward
    loss = loss_fn(outputs, targets)  # 2. loss
    loss.backward()  # 3. backward: fills model.weight.grad
    grad = model.weight.grad.detach().clone()
    optimizer.step()  # 4. step: weight <- weight - lr * grad
    weight_after = model.weight.detach().clone()

    print(f"device:        {device.type}")
    print(f"inputs:        {tuple(inputs.shape)}")
    print(f"outputs:       {tuple(outputs.shape)}")
    print(f"targets:       {tuple(targets.shape)}")
    print(f"loss:          {tuple(loss.shape)} (a single number) = {loss.item():.4f}")
    print(f"weight.grad:   {tuple(grad.shape)} (same shape as the weight)")
    print(f"weight before: {show(weight_before)}")
    print(f"weight after:  {show(weight_after)}")

    assert outputs.shape == targets.shape == (4, 1)
    assert loss.dim() == 0
    assert grad.shape == model.weight.shape
    assert torch.allclose(weight_after, weight_before - LR * grad, atol=1e-6)
    with torch.no_grad():
        new_loss = loss_fn(model(inputs), targets).item()
    assert new_loss < loss.item()
    print(f"one step: weight moved by exactly -lr * grad; loss {loss.item():.4f} -> {new_loss:.4f}")


if __name__ == "__main__":
    main()
