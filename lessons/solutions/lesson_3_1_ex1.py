"""Lesson 3.1, exercise 1: momentum and Nesterov by hand, checked against torch.optim.SGD.

PyTorch's momentum keeps a velocity b for every weight: b <- mu * b + g, then steps
theta <- theta - lr * b (Nesterov: theta <- theta - lr * (g + mu * b)). Write both by hand,
run them beside torch.optim.SGD for 20 steps on a small model, and check the weights agree.
Then put momentum on a steady slope and measure its step against plain SGD's: it grows
towards 1 / (1 - mu) = 10 times as long.
"""

from __future__ import annotations

import torch
from torch import nn

LR, MU, STEPS = 0.05, 0.9, 20


def momentum_step(
    params: list[torch.Tensor], velocities: list[torch.Tensor], nesterov: bool
) -> None:
    """One hand-written SGD-with-momentum step; each param's .grad must be filled."""
    with torch.no_grad():
        for p, b in zip(params, velocities, strict=True):
            b.mul_(MU).add_(p.grad)  # b <- mu * b + g   (b starts at 0, so b_1 = g_1)
            direction = p.grad + MU * b if nesterov else b
            p.sub_(LR * direction)


def compare_with_torch(nesterov: bool) -> float:
    """Largest weight difference between the hand-written steps and torch.optim.SGD."""
    torch.manual_seed(0)
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    ours, theirs = nn.Linear(5, 3), nn.Linear(5, 3)
    theirs.load_state_dict(ours.state_dict())
    params = list(ours.parameters())
    velocities = [torch.zeros_like(p) for p in params]
    optimizer = torch.optim.SGD(theirs.parameters(), lr=LR, momentum=MU, nesterov=nesterov)
    for _ in range(STEPS):
        for model in (ours, theirs):
            model.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
        momentum_step(params, velocities, nesterov)
        optimizer.step()
    return max((a - b).abs().max().item() for a, b in zip(params, theirs.parameters(), strict=True))


def main() -> None:
    for nesterov in (False, True):
        gap = compare_with_torch(nesterov)
        name = "Nesterov" if nesterov else "momentum"
        print(f"{name}: hand-written vs torch.optim.SGD after {STEPS} steps: {gap:.1e}")
        assert gap < 1e-6

    # A steady slope: the loss s * theta has the same gradient s everywhere.
    slope = 2.0
    theta = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=LR, momentum=MU)
    ratios = []
    for _ in range(100):
        before = theta.item()
        optimizer.zero_grad()
        (slope * theta).sum().backward()
        optimizer.step()
        ratios.append((before - theta.item()) / (LR * slope))  # plain SGD would give 1
    for t in (1, 2, 10, 50, 100):
        print(f"step {t:3d}: momentum moves {ratios[t - 1]:.3f} x as far as plain SGD")
        assert abs(ratios[t - 1] - (1 - MU**t) / (1 - MU)) < 1e-3
    assert abs(ratios[-1] - 1 / (1 - MU)) < 1e-3
    print("hand-written momentum matches torch.optim.SGD, and on a steady slope it steps 10x")


if __name__ == "__main__":
    main()
