"""Lesson 3.9, exercise 1: freeze a trunk, and prove it stayed frozen.

Build the lesson's trunk (64 -> 128 -> 64) and a new 5-way head, freeze the trunk with
requires_grad_(False), give the optimizer only the head, and train for 50 steps. Then
check: the trainable weights are the head's 325; after backward() every trunk parameter's
.grad is still None (no gradient was even computed for it); every trunk weight is exactly
what it was; and the head did move, except the weights that read a feature which is 0 for
every input (their gradient is 0).
"""

from __future__ import annotations

import torch
from torch import nn


def make_trunk() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())


def flat(module: nn.Module) -> torch.Tensor:
    """Every weight and bias of a module, laid end to end (a copy)."""
    return torch.cat([p.detach().flatten() for p in module.parameters()]).clone()


def main() -> None:
    torch.manual_seed(0)
    x, y = torch.rand(25, 64), torch.randint(0, 5, (25,))  # 25 stand-in examples, 5 classes
    trunk, head = make_trunk(), nn.Linear(64, 5)

    trunk.requires_grad_(False)  # 1. autograd computes no gradient for these
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)  # 2. step() only sees the head
    trainable = sum(p.numel() for p in [*trunk.parameters(), *head.parameters()] if p.requires_grad)
    total = sum(p.numel() for p in [*trunk.parameters(), *head.parameters()])
    print(f"trainable weights: {trainable} of {total}")
    assert trainable == 64 * 5 + 5 == 325 and total == 16_576 + 325

    trunk_before, head_before = flat(trunk), flat(head)
    for _ in range(50):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(head(trunk(x)), y)
        loss.backward()
        assert all(p.grad is None for p in trunk.parameters())  # nothing to step with
        optimizer.step()
    trunk_moved = (flat(trunk) != trunk_before).sum().item()
    head_moved = (flat(head) != head_before).sum().item()
    print(f"after 50 steps: {trunk_moved} trunk weights changed, {head_moved} head weights changed")
    # A head weight that reads a feature the frozen trunk outputs as 0 for all 25 inputs
    # gets a zero gradient every step, and Adam leaves it where it is.
    silent = (trunk(x) == 0).all(dim=0).sum().item()
    print(f"{silent} of the trunk's 64 features are 0 on every input: {5 * silent} head weights")
    assert trunk_moved == 0 and head_moved == 325 - 5 * silent > 0
    print("frozen trunk: no gradient, no change; only the head learned")


if __name__ == "__main__":
    main()
