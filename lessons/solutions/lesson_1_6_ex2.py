"""Lesson 1.6, exercise 2: name the bug from the loss history alone.

Train one linear regression four times, full batch, 60 steps: healthy; without
optimizer.zero_grad(); with a learning rate far too high; without optimizer.step().
Write name_the_bug(losses) that looks only at the list of losses and returns "healthy",
"no_zero_grad", "lr_too_high" or "no_step". Check that it names all four correctly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Step = Callable[[torch.optim.Optimizer, Callable[[], torch.Tensor]], torch.Tensor]
STEPS = 60


def healthy_step(
    optimizer: torch.optim.Optimizer, compute_loss: Callable[[], torch.Tensor]
) -> torch.Tensor:
    """The four steps, with the gradients cleared first."""
    optimizer.zero_grad()
    loss = compute_loss()  # forward + loss
    loss.backward()
    optimizer.step()
    return loss


def step_without_zero_grad(
    optimizer: torch.optim.Optimizer, compute_loss: Callable[[], torch.Tensor]
) -> torch.Tensor:
    """The healthy step with optimizer.zero_grad() forgotten."""
    loss = compute_loss()
    loss.backward()  # BUG: adds onto every earlier gradient
    optimizer.step()
    return loss


def step_without_step(
    optimizer: torch.optim.Optimizer, compute_loss: Callable[[], torch.Tensor]
) -> torch.Tensor:
    """The healthy step with optimizer.step() forgotten."""
    optimizer.zero_grad()
    loss = compute_loss()
    loss.backward()  # BUG: optimizer.step() is missing
    return loss


def run(step: Step, lr: float) -> list[float]:
    """The loss at every step of one run, from the same data and starting weights."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(100, 2, generator=generator)
    y = x @ torch.tensor([3.0, -2.0]) + 0.5 + 0.1 * torch.randn(100, generator=generator)
    torch.manual_seed(0)
    w = torch.randn(2, requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    return [step(optimizer, lambda: ((x @ w + b - y) ** 2).mean()).item() for _ in range(STEPS)]


def name_the_bug(losses: list[float]) -> str:
    """Read a loss history: blow-up, flat line, swings, or a steady fall."""
    if not all(math.isfinite(v) for v in losses) or losses[-1] > 10 * losses[0]:
        return "lr_too_high"  # the loss exploded
    if max(losses) - min(losses) < 1e-9:
        return "no_step"  # the weights never moved
    rises = sum(1 for a, b in zip(losses, losses[1:], strict=False) if b > a)
    if rises > 0.2 * (len(losses) - 1):
        return "no_zero_grad"  # the loss keeps going back up
    return "healthy"


def main() -> None:
    runs = {
        "healthy": run(healthy_step, lr=0.1),
        "no_zero_grad": run(step_without_zero_grad, lr=0.1),
        "lr_too_high": run(healthy_step, lr=1.5),
        "no_step": run(step_without_step, lr=0.1),
    }
    for truth, losses in runs.items():
        guess = name_the_bug(losses)
        print(f"{truth:<13} loss {losses[0]:.3f} -> {losses[-1]:<10.4g} named: {guess}")
        assert guess == truth
    print("all 4 loops named correctly")


if __name__ == "__main__":
    main()
