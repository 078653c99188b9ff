"""Lesson 3.6, exercise 4: overfit one batch, and read the predictions, not just the loss.

Take one batch of 32 digits. A healthy loop must drive the loss on that single batch to
almost 0 within a few hundred steps; if it cannot, the bug is in the loop, not in the data
size or the model's capacity. Run the probe twice: with the healthy step, and with a step
that forgot optimizer.step(). For the healthy run, also count the predicted classes and
the mean confidence (top softmax probability) and compare them with the labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn

Step = Callable[
    [nn.Module, torch.Tensor, torch.Tensor, nn.Module, torch.optim.Optimizer], torch.Tensor
]


def healthy_step(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> torch.Tensor:
    """The four steps: forward, loss, backward, step (gradients cleared first)."""
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss


def step_without_step(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> torch.Tensor:
    """The healthy step with optimizer.step() forgotten."""
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    return loss  # BUG: optimizer.step() is missing


def overfit_one_batch(
    step: Step, inputs: torch.Tensor, targets: torch.Tensor, steps: int = 200
) -> tuple[nn.Module, list[float]]:
    """Train a fresh MLP on this one batch only; returns the model and its losses."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    losses = [step(model, inputs, targets, loss_fn, optimizer).item() for _ in range(steps)]
    return model, losses


def main() -> None:
    x_np, y_np = load_digits(return_X_y=True)
    inputs = torch.tensor(x_np[:32], dtype=torch.float32) / 16  # pixels 0..16 -> 0..1
    targets = torch.tensor(y_np[:32])

    model, healthy = overfit_one_batch(healthy_step, inputs, targets)
    _, broken = overfit_one_batch(step_without_step, inputs, targets)
    print(f"healthy loop:      loss {healthy[0]:.3f} -> {healthy[-1]:.4f}")
    print(f"no optimizer.step: loss {broken[0]:.3f} -> {broken[-1]:.4f}")
    assert abs(healthy[0] - math.log(10)) < 0.3  # starts near chance: ln 10 = 2.303
    assert healthy[-1] < 0.01
    assert broken[-1] == broken[0]  # not one weight moved

    with torch.no_grad():
        probabilities = torch.softmax(model(inputs), dim=1)
    predicted = probabilities.argmax(dim=1)
    predicted_counts = torch.bincount(predicted, minlength=10)
    label_counts = torch.bincount(targets, minlength=10)
    confidence = probabilities.max(dim=1).values.mean().item()
    print(f"predicted class counts {predicted_counts.tolist()}")
    print(f"label class counts     {label_counts.tolist()}")
    print(f"mean confidence {confidence:.3f}")
    assert torch.equal(predicted_counts, label_counts) and torch.equal(predicted, targets)
    assert confidence > 0.98
    print(
        f"overfit one batch: loss {healthy[-1]:.4f} with the healthy loop; "
        f"stuck at {broken[-1]:.3f} without optimizer.step()"
    )


if __name__ == "__main__":
    main()
