"""Lesson 3.4, exercise 2: how fast the first layer's gradient vanishes in a sigmoid MLP.

Build plain sigmoid MLPs of 2, 4, ..., 20 linear layers (width 64, PyTorch's default
init) and measure the gradient norm of the first layer's weights on 500 digits, averaged
(geometrically) over three seeds. Fit log10(norm) = a + b * depth: each extra layer
multiplies the gradient by 10^b. Compare that factor with the sigmoid's largest slope,
0.25, times the size a default-initialised 64 x 64 layer gives a vector, 1/sqrt(3).
"""

from __future__ import annotations

import math

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

WIDTH, SEEDS = 64, (0, 1, 2)
DEPTHS = tuple(range(2, 21, 2))


def sigmoid_mlp(depth: int) -> nn.Sequential:
    """`depth` linear layers, a sigmoid after each but the last: 64 -> 64 ... -> 10."""
    layers: list[nn.Module] = []
    for _ in range(depth - 1):
        layers += [nn.Linear(WIDTH, WIDTH), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(WIDTH, 10))


def first_layer_grad(depth: int, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    torch.manual_seed(seed)
    model = sigmoid_mlp(depth)
    F.cross_entropy(model(x), y).backward()
    return model[0].weight.grad.norm().item()


def main() -> None:
    torch.set_num_threads(1)
    digits = load_digits()
    x = torch.tensor(digits.data[:500], dtype=torch.float32) / 16  # pixels 0..16 -> 0..1
    y = torch.tensor(digits.target[:500], dtype=torch.long)

    logs = []
    print("depth  first-layer gradient norm")
    for depth in DEPTHS:
        mean_log = sum(math.log10(first_layer_grad(depth, x, y, s)) for s in SEEDS) / len(SEEDS)
        logs.append(mean_log)
        print(f"{depth:5d}  {10**mean_log:.2e}")

    # Least squares for a straight line through (depth, log10 norm).
    d = torch.tensor(DEPTHS, dtype=torch.float64)
    g = torch.tensor(logs, dtype=torch.float64)
    slope = ((d - d.mean()) * (g - g.mean())).sum() / ((d - d.mean()) ** 2).sum()
    fitted = g.mean() + slope * (d - d.mean())
    r2 = 1 - ((g - fitted) ** 2).sum() / ((g - g.mean()) ** 2).sum()
    factor, predicted = 10 ** slope.item(), 0.25 / math.sqrt(3)
    print(f"fit: log10(norm) = {g.mean() - slope * d.mean():.2f} + ({slope:.3f}) x depth, ", end="")
    print(f"R^2 = {r2:.4f}")
    print(f"factor per layer: 10^({slope:.3f}) = {factor:.3f}; 0.25 / sqrt(3) = {predicted:.3f}")
    assert r2 > 0.99 and factor < 0.25 and abs(factor - predicted) < 0.02
    print("the first-layer gradient shrinks by the same factor for every sigmoid layer added")


if __name__ == "__main__":
    main()
