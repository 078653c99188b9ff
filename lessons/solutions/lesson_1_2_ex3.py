"""Lesson 1.2, exercise 3: find a learning rate that is too low and one that is too high.

Train the same linear regression for 50 full-batch steps with learning rates 1e-4, 0.1
and 1.5, from the same start. Print the first and last loss of each. Check that 1e-4
barely moves the loss, 0.1 brings it close to the noise level, and 1.5 blows it up.
"""

from __future__ import annotations

import math

import torch

STEPS = 50


def make_data(n: int = 100, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points near the plane y = 3 x1 - 2 x2 + 0.5, with a little noise."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    y = x @ torch.tensor([3.0, -2.0]) + 0.5 + 0.1 * torch.randn(n, generator=generator)
    return x, y


def losses_for(lr: float, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """The loss at every step of a run with this learning rate (same start each time)."""
    torch.manual_seed(0)
    w = torch.randn(2, requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    losses: list[float] = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main() -> None:
    x, y = make_data()
    results = {lr: losses_for(lr, x, y) for lr in (1e-4, 0.1, 1.5)}
    for lr, losses in results.items():
        print(f"lr={lr:<6g} loss {losses[0]:10.4f} -> {losses[-1]:.4g}")

    too_low, good, too_high = results[1e-4], results[0.1], results[1.5]
    assert too_low[-1] > 0.9 * too_low[0]  # barely moved: under 10 % in 50 steps
    assert good[-1] < 0.02  # down to the noise (0.1^2 = 0.01)
    assert not math.isfinite(too_high[-1]) or too_high[-1] > 1e6 * too_high[0]
    print("lr=1e-4: too low, barely moved; lr=0.1: converged; lr=1.5: too high, diverged")


if __name__ == "__main__":
    main()
