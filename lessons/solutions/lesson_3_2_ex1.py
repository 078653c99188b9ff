"""Lesson 3.2, exercise 1: cosine with a linear warm-up, as a LambdaLR factor.

Write the factor LambdaLR multiplies the base lr by at step t: (t + 1) / W for the first W
steps, then half a cosine from 1 down to 0 over the remaining T - W steps. Check every
step's lr against the formula, and against PyTorch's own pieces chained together:
LinearLR for the warm-up, then CosineAnnealingLR, joined by SequentialLR.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.optim import lr_scheduler

BASE_LR, WARMUP, TOTAL = 0.1, 10, 100  # eta_0, W and T


def warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    """LambdaLR's factor at step t (counted from 0)."""

    def factor(t: int) -> float:
        if t < warmup:
            return (t + 1) / warmup  # 1/W, 2/W, ... W/W: the first step is not wasted at 0
        return 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))

    return factor


def formula(t: int) -> float:
    """eta_t from the lesson, written out directly."""
    if t < WARMUP:
        return BASE_LR * (t + 1) / WARMUP
    return BASE_LR / 2 * (1 + math.cos(math.pi * (t - WARMUP) / (TOTAL - WARMUP)))


def lrs(make: Callable[[torch.optim.Optimizer], lr_scheduler.LRScheduler]) -> list[float]:
    """The lr each of the TOTAL optimizer steps uses under this schedule."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE_LR)
    scheduler = make(optimizer)
    used = []
    for _ in range(TOTAL):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()  # per batch: the schedule is counted in steps
    return used


def chained(optimizer: torch.optim.Optimizer) -> lr_scheduler.LRScheduler:
    warmup = lr_scheduler.LinearLR(optimizer, 1 / WARMUP, 1.0, total_iters=WARMUP - 1)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=TOTAL - WARMUP)
    return lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[WARMUP])


def main() -> None:
    by_lambda = lrs(lambda o: lr_scheduler.LambdaLR(o, warmup_cosine(WARMUP, TOTAL)))
    by_chain = lrs(chained)
    for t in (0, 4, 9, 10, 55, 99):
        print(f"t={t:3d}: LambdaLR {by_lambda[t]:.6f}  formula {formula(t):.6f}  "
              f"LinearLR+Cosine {by_chain[t]:.6f}")  # fmt: skip
    worst = max(abs(a - formula(t)) for t, a in enumerate(by_lambda))
    worst_chain = max(abs(a - b) for a, b in zip(by_lambda, by_chain, strict=True))
    print(f"largest difference from the formula {worst:.1e}, from the chain {worst_chain:.1e}")
    assert worst < 1e-12 and worst_chain < 1e-9
    assert max(by_lambda) == by_lambda[WARMUP - 1] == by_lambda[WARMUP] == BASE_LR
    print("warm-up cosine matches the formula at every step")


if __name__ == "__main__":
    main()
