"""Lesson 2.6, exercise 3: validation must be data the model never trained on.

Train the digits MLP on 100 digits for 60 epochs. After every 10 epochs measure accuracy two
ways: on the training digits themselves (a leaky "validation" set) and on 500 held-out
digits. Check that the two index sets share no digit, that the leaky number reports a
perfect 1.000, and that the held-out set shows a gap of more than 0.1.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED, N_TRAIN, N_VAL, EPOCHS = 0, 100, 500, 60


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = (model(x).argmax(dim=1) == y).float().mean().item()
    model.train()
    return correct


def main() -> None:
    torch.set_num_threads(1)
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32)
    y = torch.tensor(digits.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    train_idx, val_idx = order[:N_TRAIN], order[N_TRAIN : N_TRAIN + N_VAL]
    shared = set(train_idx.tolist()) & set(val_idx.tolist())
    print(f"{len(train_idx)} training digits, {len(val_idx)} held out, {len(shared)} in both")
    assert not shared

    mean, std = x[train_idx].mean(dim=0), x[train_idx].std(dim=0)  # training statistics only
    x = (x - mean) / torch.where(std > 1e-6, std, torch.ones_like(std))
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    print("epoch  leaky 'val' acc  held-out val acc")
    for epoch in range(1, EPOCHS + 1):
        for batch in train_idx[torch.randperm(N_TRAIN)].split(32):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
        if epoch % 10 == 0:
            leaky = accuracy(model, x[train_idx], y[train_idx])  # the bug: the training set
            held_out = accuracy(model, x[val_idx], y[val_idx])
            print(f"{epoch:5d}  {leaky:15.3f}  {held_out:16.3f}")

    assert leaky == 1.0 and leaky - held_out > 0.1
    print(f"leaky validation says {leaky:.3f}; the held-out set says {held_out:.3f}")
    print("the held-out set shows the gap that leaky validation hides")


if __name__ == "__main__":
    main()
