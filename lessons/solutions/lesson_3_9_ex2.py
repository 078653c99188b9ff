"""Lesson 3.9, exercise 2: two learning rates in one optimizer, then unfreezing.

Adam's first step moves each weight by lr * g / (|g| + eps), about lr whatever the
gradient's size. Use that to see parameter groups at work: with the trunk at lr 1e-4 and
the head at 1e-3, the largest change in the trunk after one step is about 1e-4 and in the
head about 1e-3. Then the usual recipe in two stages: train the head alone with the trunk
frozen, unfreeze the trunk and add it to the same optimizer as a new group at lr 1e-4.
"""

from __future__ import annotations

import math

import torch
from torch import nn

TRUNK_LR, HEAD_LR = 1e-4, 1e-3


def make_trunk() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()]).clone()


def one_step(trunk: nn.Module, head: nn.Module, optimizer: torch.optim.Optimizer,
             x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:  # fmt: skip
    """Forward, loss, backward, step once; returns the largest change in trunk and head."""
    trunk_before, head_before = flat(trunk), flat(head)
    optimizer.zero_grad()
    nn.functional.cross_entropy(head(trunk(x)), y).backward()
    optimizer.step()
    trunk_step = (flat(trunk) - trunk_before).abs().max().item()
    return trunk_step, (flat(head) - head_before).abs().max().item()


def main() -> None:
    torch.manual_seed(0)
    x, y = torch.rand(25, 64), torch.randint(0, 5, (25,))

    # Fine-tuning from the start: one optimizer, two groups.
    trunk, head = make_trunk(), nn.Linear(64, 5)
    optimizer = torch.optim.Adam(
        [
            {"params": trunk.parameters(), "lr": TRUNK_LR},
            {"params": head.parameters(), "lr": HEAD_LR},
        ]
    )
    print("groups:", [group["lr"] for group in optimizer.param_groups])
    trunk_step, head_step = one_step(trunk, head, optimizer, x, y)
    print(f"first step: largest trunk change {trunk_step:.2e}, largest head change {head_step:.2e}")
    assert math.isclose(trunk_step, TRUNK_LR, rel_tol=1e-2)
    assert math.isclose(head_step, HEAD_LR, rel_tol=1e-2)

    # The two-stage recipe: head alone first, then unfreeze the trunk at a smaller lr.
    torch.manual_seed(1)
    trunk, head = make_trunk(), nn.Linear(64, 5)
    trunk.requires_grad_(False)
    optimizer = torch.optim.Adam(head.parameters(), lr=HEAD_LR)
    for _ in range(20):
        trunk_step, head_step = one_step(trunk, head, optimizer, x, y)
        assert trunk_step == 0.0
    trunk.requires_grad_(True)
    optimizer.add_param_group({"params": trunk.parameters(), "lr": TRUNK_LR})
    trunk_step, head_step = one_step(trunk, head, optimizer, x, y)
    print(f"after unfreezing: largest trunk change {trunk_step:.2e} (its first Adam step)")
    assert math.isclose(trunk_step, TRUNK_LR, rel_tol=1e-2)
    print("two parameter groups: trunk steps about 1e-4, head steps about 1e-3")


if __name__ == "__main__":
    main()
