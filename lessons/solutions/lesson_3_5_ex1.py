"""Lesson 3.5, exercise 1: accumulate gradients over K micro-batches, and divide by K.

One batch of 128 examples gives one gradient. Split into K micro-batches, each loss
divided by K and backward() called on each without zero_grad() in between, the summed
.grad must be the same gradient, for every K. Without the division it is K times larger.
Then a whole accumulating loop must take the same steps as a loop on the big batches.
"""

from __future__ import annotations

import torch
from torch import nn

BATCH = 128


def make_model() -> nn.Sequential:
    torch.manual_seed(0)  # the same weights every call
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def gradient(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int, divide: bool
) -> torch.Tensor:
    """The summed .grad after backward() on k micro-batches, as one long vector."""
    model.zero_grad()
    for xb, yb in zip(x.chunk(k), y.chunk(k), strict=True):
        loss = nn.functional.cross_entropy(model(xb), yb)
        (loss / k if divide else loss).backward()  # adds into .grad
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def train(x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """3 SGD steps of BATCH examples each, each step accumulated over k micro-batches."""
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for batch in torch.arange(len(y)).split(BATCH):
        optimizer.zero_grad()  # once per step, not per micro-batch
        for micro in batch.chunk(k):
            (nn.functional.cross_entropy(model(x[micro]), y[micro]) / k).backward()
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def main() -> None:
    torch.set_num_threads(1)  # work this small runs faster on one thread
    torch.manual_seed(1)
    x, y = torch.randn(3 * BATCH, 64), torch.randint(0, 10, (3 * BATCH,))
    model = make_model()
    big = gradient(model, x[:BATCH], y[:BATCH], 1, True)
    for k in (1, 2, 4, 8):
        divided = gradient(model, x[:BATCH], y[:BATCH], k, True)
        undivided = gradient(model, x[:BATCH], y[:BATCH], k, False)
        diff = (divided - big).abs().max().item()
        ratio = (undivided.norm() / big.norm()).item()
        print(f"K={k}: loss / K differs by {diff:.1e}; not divided: {ratio:.4f} x the batch's")
        assert diff < 1e-6 and abs(ratio - k) < 1e-4
    steps = (train(x, y, 4) - train(x, y, 1)).abs().max().item()
    print(f"3 steps with K=4 vs 3 steps on whole batches: weights differ by {steps:.1e}")
    assert steps < 1e-5
    print("accumulated gradients match one big batch for K = 1, 2, 4, 8")


if __name__ == "__main__":
    main()
