"""Lesson 2.1, exercise 3: moons and circles, a line against an MLP, and a feature that helps.

Make two half-moons and two rings (300 points of each class, seeded), and hold out a
quarter of each set for testing. Train logistic regression and an MLP (two hidden layers of
64 ReLU units) on both with the same loop, and print the test accuracies. Check that on the
rings the line does no better than a coin toss while the MLP gets them right. Then give the
logistic regression one extra input, the squared distance from the centre x1^2 + x2^2,
and check that the rings become easy for a single linear layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

SEED, PER_CLASS, EPOCHS, LR = 0, 300, 200, 0.01


def make_moons(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved half-circles with a little noise; class 0 on top, class 1 below."""
    angle = torch.rand(PER_CLASS, generator=generator) * math.pi
    top = torch.stack([angle.cos(), angle.sin()], dim=1)
    bottom = torch.stack([1 - angle.cos(), 0.5 - angle.sin()], dim=1)
    points = torch.cat([top, bottom]) + 0.15 * torch.randn(2 * PER_CLASS, 2, generator=generator)
    return points, torch.arange(2).repeat_interleave(PER_CLASS)


def make_circles(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A ring of radius 1 (class 0) around a ring of radius 0.5 (class 1), with noise."""
    angle = torch.rand(2 * PER_CLASS, generator=generator) * 2 * math.pi
    radius = torch.tensor([1.0, 0.5]).repeat_interleave(PER_CLASS)
    points = radius.unsqueeze(1) * torch.stack([angle.cos(), angle.sin()], dim=1)
    points = points + 0.08 * torch.randn(2 * PER_CLASS, 2, generator=generator)
    return points, torch.arange(2).repeat_interleave(PER_CLASS)


def build_model(n_inputs: int, hidden: tuple[int, ...]) -> nn.Sequential:
    torch.manual_seed(SEED)
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(n_inputs, size), nn.ReLU()]
        n_inputs = size
    return nn.Sequential(*layers, nn.Linear(n_inputs, 2))


def test_accuracy(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Train on three quarters of the points (full batch, Adam), return accuracy on the rest."""
    x, y = data
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SEED))
    test, train = order[: len(x) // 4], order[len(x) // 4 :]
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[train]), y[train]).backward()
        optimizer.step()
    with torch.no_grad():
        return (model(x[test]).argmax(dim=1) == y[test]).float().mean().item()


def with_squared_radius(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (x1, x2, x1^2 + x2^2): a bent feature made by hand."""
    return torch.cat([x, (x**2).sum(dim=1, keepdim=True)], dim=1)


def main() -> None:
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(SEED)
    datasets = {"moons": make_moons(generator), "circles": make_circles(generator)}
    results: dict[tuple[str, str], float] = {}
    for name, data in datasets.items():
        results[name, "linear"] = test_accuracy(build_model(2, ()), data)
        results[name, "mlp"] = test_accuracy(build_model(2, (64, 64)), data)
        print(
            f"{name:<8} test accuracy: linear {results[name, 'linear']:.1%}, "
            f"MLP {results[name, 'mlp']:.1%}"
        )
    x, y = datasets["circles"]
    results["circles", "radius"] = test_accuracy(build_model(3, ()), (with_squared_radius(x), y))
    print(f"circles, linear on (x1, x2, x1^2 + x2^2): {results['circles', 'radius']:.1%}")

    assert results["moons", "linear"] < results["moons", "mlp"]  # the curve gets the rest
    assert results["circles", "linear"] < 0.6 < 0.95 < results["circles", "mlp"]
    assert results["circles", "radius"] > 0.95
    print("one squared-radius feature makes the circles linearly separable")


if __name__ == "__main__":
    main()
