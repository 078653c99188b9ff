"""Lesson 1.6, exercise 1: a complete training loop, checked against the Module 1 list.

Write the whole loop for linear regression on points near y = 2x - 1: data in a shuffled
DataLoader, nn.Linear(1, 1), MSE loss, SGD, the four steps in every iteration, the device
chosen cuda -> mps -> cpu. Then check the run against the recap checklist: the starting
loss is finite, every parameter received a finite gradient, the weights changed, the loss
fell by more than 90 %, the number of steps is epochs x ceil(N / B), and the fitted line
is close to the true one.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

N, BATCH, EPOCHS, LR = 200, 16, 20, 0.1


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_loader(seed: int = 0) -> DataLoader:
    """Points near y = 2x - 1, served in shuffled mini-batches."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 1, generator=generator)
    y = 2 * x - 1 + 0.1 * torch.randn(N, 1, generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=generator)


def main() -> None:
    torch.manual_seed(0)
    device = pick_device()
    loader = make_loader()
    model = nn.Linear(1, 1).to(device)
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    start_weights = [p.detach().clone() for p in model.parameters()]

    losses: list[float] = []
    grads_ok = True
    for _ in range(EPOCHS):
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()  # clear last step's gradients
            outputs = model(inputs)  # 1. forward
            loss = loss_fn(outputs, targets)  # 2. loss
            loss.backward()  # 3. backward
            grads_ok &= all(
                p.grad is not None and bool(torch.isfinite(p.grad).all())
                for p in model.parameters()
            )
            optimizer.step()  # 4. step
            losses.append(loss.item())  # .item(): a float, not a tensor with a graph

    w, b = model.weight.item(), model.bias.item()
    checklist = {
        "starting loss is finite": math.isfinite(losses[0]),
        "every parameter got a finite gradient": grads_ok,
        "the weights changed": all(
            not torch.equal(p.detach(), p0)
            for p, p0 in zip(model.parameters(), start_weights, strict=True)
        ),
        "loss fell by more than 90%": losses[-1] < 0.1 * losses[0],
        "steps = epochs x ceil(N / B)": len(losses) == EPOCHS * math.ceil(N / BATCH),
        "fitted line is close to y = 2x - 1": abs(w - 2) < 0.05 and abs(b + 1) < 0.05,
    }
    for item, ok in checklist.items():
        print(f"[{'x' if ok else ' '}] {item}")
        assert ok, item
    print(
        f"device {device.type}: {len(losses)} steps, loss {losses[0]:.3f} -> "
        f"{losses[-1]:.4f}, fitted y = {w:.3f} x {b:+.3f}"
    )
    print("checklist passed")


if __name__ == "__main__":
    main()
