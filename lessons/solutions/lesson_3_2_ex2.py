"""Lesson 3.2, exercise 2: an epoch-counted schedule stepped once per batch.

MultiStepLR(milestones=[10, 20], gamma=0.1) is written in epochs: lr 0.1 for epochs 0-9,
0.01 for 10-19, 0.001 from 20 on. Step it once per batch instead, with 45 batches per epoch
(1,437 training digits in batches of 32), and find the lr after the first epoch. Then train
the digits MLP with SGD for 3 epochs both ways and compare the validation accuracy.
"""

from __future__ import annotations

import math

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.optim import lr_scheduler

SEED, N_TRAIN, BATCH_SIZE, EPOCHS, LR = 0, 1437, 32, 3, 0.1
MILESTONES = [10, 20]  # in epochs


def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    train, val = order[:N_TRAIN], order[N_TRAIN:]
    mean, std = x[train].mean(dim=0), x[train].std(dim=0)
    x = (x - mean) / torch.where(std > 1e-6, std, torch.ones_like(std))
    return x[train], y[train], x[val], y[val]


def train(per_batch: bool) -> tuple[list[float], float]:
    """The lr in force after each epoch, and the final val accuracy."""
    train_x, train_y, val_x, val_y = digits()
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=MILESTONES, gamma=0.1)
    generator = torch.Generator().manual_seed(SEED)
    lr_after_epoch = []
    for _ in range(EPOCHS):
        for batch in torch.randperm(N_TRAIN, generator=generator).split(BATCH_SIZE):
            loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if per_batch:
                scheduler.step()  # the bug: the milestones count batches now
        if not per_batch:
            scheduler.step()  # right: once per epoch, as the milestones are written
        lr_after_epoch.append(scheduler.get_last_lr()[0])
    with torch.no_grad():
        val_acc = (model(val_x).argmax(dim=1) == val_y).float().mean().item()
    return lr_after_epoch, val_acc


def main() -> None:
    torch.set_num_threads(1)
    steps_per_epoch = math.ceil(N_TRAIN / BATCH_SIZE)
    print(f"{steps_per_epoch} batches per epoch; milestones {MILESTONES}, gamma 0.1, lr {LR}")
    right, right_acc = train(per_batch=False)
    wrong, wrong_acc = train(per_batch=True)
    for how, lrs, acc in (("epoch", right, right_acc), ("batch", wrong, wrong_acc)):
        shown = ", ".join(f"{lr:g}" for lr in lrs)
        print(f"stepped per {how}: lr after epochs 1-{EPOCHS}: {shown}; val acc {acc:.3f}")
    assert math.isclose(right[0], LR) and math.isclose(wrong[0], LR / 100)
    assert wrong_acc < right_acc - 0.1
    print("stepped per batch, both milestones pass in the first epoch")


if __name__ == "__main__":
    main()
