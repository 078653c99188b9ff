"""Lesson 3.3, exercise 2: units that start equal stay equal.

A tanh MLP (64 -> 32 -> 32 -> 10) is trained on 500 digits for 100 full-batch Adam steps
from three starts: every weight the same constant; random (Xavier) weights in the first
layer only, the same constant elsewhere; random weights everywhere. After training, compare
the units of each hidden layer: row j of a layer's weight matrix holds unit j's incoming
weights, so the largest difference between any row and row 0 says whether the units differ.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED, N_TRAIN, STEPS, LR, CONSTANT = 0, 500, 100, 1e-2, 0.05


def make_mlp(random_layers: int) -> nn.Sequential:
    """The first `random_layers` linear layers get Xavier weights, the rest CONSTANT."""
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 10)
    )
    linears = [layer for layer in model if isinstance(layer, nn.Linear)]
    with torch.no_grad():
        for index, layer in enumerate(linears):
            if index < random_layers:
                nn.init.xavier_uniform_(layer.weight)
            else:
                nn.init.constant_(layer.weight, CONSTANT)
            nn.init.zeros_(layer.bias)
    return model


def unit_spread(layer: nn.Linear) -> float:
    """How far the most different unit's incoming weights are from unit 0's."""
    return (layer.weight - layer.weight[0]).abs().max().item()


def main() -> None:
    torch.set_num_threads(1)
    digits = load_digits()
    x = torch.tensor(digits.data[:N_TRAIN], dtype=torch.float32)
    y = torch.tensor(digits.target[:N_TRAIN], dtype=torch.long)
    std = x.std(dim=0)
    x = (x - x.mean(dim=0)) / torch.where(std > 1e-6, std, torch.ones_like(std))

    spreads = {}
    print("random layers   layer 1 units differ by   layer 2 units differ by   train acc")
    for random_layers in (0, 1, 3):
        model = make_mlp(random_layers)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        for _ in range(STEPS):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        with torch.no_grad():
            acc = (model(x).argmax(dim=1) == y).float().mean().item()
        first, second = unit_spread(model[0]), unit_spread(model[2])
        spreads[random_layers] = (first, second)
        print(f"{random_layers:13d}   {first:23.4f}   {second:23.4f}   {acc:9.3f}")

    assert spreads[0] == (0.0, 0.0)  # all equal: every unit of a layer is a copy of unit 0
    assert spreads[1][0] > 0.1 and spreads[1][1] == 0.0  # random inputs, equal clones after
    assert min(spreads[3]) > 0.1
    print("units that start equal stay equal: each layer needs its own random weights")


if __name__ == "__main__":
    main()
