"""Lesson 3.2, exercise 3: run an LR range test for SGD with momentum, and use what it finds.

Sweep the lr from 1e-6 to 1 over at most 100 steps of SGD (momentum 0.9, batch 32) on the
digits, smoothing the loss, and stop when it passes 4x its lowest. Take a tenth of the lr at
the lowest smoothed loss, train the MLP for 5 epochs with it, and check that it learns. Then
run the same test for Adam: each optimizer has its own answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED, N_TRAIN, BATCH_SIZE, EPOCHS = 0, 1437, 32, 5
LR_LOW, LR_HIGH, STEPS, BETA = 1e-6, 1.0, 100, 0.9

Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
MakeOptimizer = Callable[[nn.Module, float], torch.optim.Optimizer]


def digits() -> Data:
    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    train, val = order[:N_TRAIN], order[N_TRAIN:]
    mean, std = x[train].mean(dim=0), x[train].std(dim=0)
    x = (x - mean) / torch.where(std > 1e-6, std, torch.ones_like(std))
    return x[train], y[train], x[val], y[val]


def mlp() -> nn.Sequential:
    torch.manual_seed(SEED)
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def range_test(data: Data, make: MakeOptimizer) -> float:
    """A tenth of the lr where the smoothed loss was lowest."""
    train_x, train_y, _, _ = data
    model = mlp()
    optimizer = make(model, LR_LOW)
    generator = torch.Generator().manual_seed(SEED)
    order = torch.cat([torch.randperm(N_TRAIN, generator=generator) for _ in range(3)])
    average, best_loss, best_lr = 0.0, math.inf, LR_LOW
    for t in range(STEPS):
        lr = LR_LOW * (LR_HIGH / LR_LOW) ** (t / (STEPS - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = order[t * BATCH_SIZE : (t + 1) * BATCH_SIZE]
        loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average = BETA * average + (1 - BETA) * loss.item()
        smoothed = average / (1 - BETA ** (t + 1))
        if smoothed < best_loss:
            best_loss, best_lr = smoothed, lr
        if not math.isfinite(smoothed) or smoothed > 4 * best_loss:
            break
    print(f"  lowest smoothed loss {best_loss:.3f} at lr {best_lr:.1e}; last lr tried {lr:.1e}")
    return best_lr / 10


def val_accuracy(data: Data, make: MakeOptimizer, lr: float) -> float:
    train_x, train_y, val_x, val_y = data
    model = mlp()
    optimizer = make(model, lr)
    generator = torch.Generator().manual_seed(SEED + 1)
    for _ in range(EPOCHS):
        for batch in torch.randperm(N_TRAIN, generator=generator).split(BATCH_SIZE):
            loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return (model(val_x).argmax(dim=1) == val_y).float().mean().item()


def sgd_momentum(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def adam(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=lr)


def main() -> None:
    torch.set_num_threads(1)
    data = digits()
    print("SGD, momentum 0.9:")
    picked = range_test(data, sgd_momentum)
    acc = val_accuracy(data, sgd_momentum, picked)
    print(f"  picked lr {picked:.1e}: val acc after {EPOCHS} epochs {acc:.3f}")
    print("Adam:")
    adam_pick = range_test(data, adam)
    print(f"  picked lr {adam_pick:.1e}, {picked / adam_pick:.0f}x smaller than SGD's")
    assert acc > 0.9 and picked > 5 * adam_pick
    print("the range test's lr trains SGD with momentum to over 90% val accuracy")


if __name__ == "__main__":
    main()
