"""Lesson 2.4, exercise 1: measure every activation's slope with autograd.

Evaluate sigmoid, tanh, ReLU, LeakyReLU and GELU on a fine grid from -6 to 6, let
autograd give the slope at every point, and check the ranges the lesson states: sigmoid
at most 1/4 and tanh at most 1 (both at z = 0), ReLU only 0 or 1, LeakyReLU 0.01 or 1,
GELU from about -0.13 to about 1.13. Then multiply the slopes of 11 sigmoid layers at
random points and check the product never exceeds (1/4)^11 = 1 / 4,194,304.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

Activation = Callable[[torch.Tensor], torch.Tensor]
ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": nn.functional.leaky_relu,  # negative slope 0.01, PyTorch's default
    "gelu": nn.functional.gelu,
}


def slopes(activation: Activation, z: torch.Tensor) -> torch.Tensor:
    """f'(z) at every point of z, from one backward pass."""
    z = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(activation(z).sum(), z)
    return grad


def main() -> None:
    z = torch.arange(-6000, 6001, dtype=torch.float64) / 1000  # step 0.001, 0 exactly
    found = {}
    for name, activation in ACTIVATIONS.items():
        slope = slopes(activation, z)
        found[name] = slope
        low, high = slope.min().item(), slope.max().item()
        where = z[slope.argmax()].item()
        print(f"{name:<10} slope from {low:8.4f} to {high:6.4f} (largest at z = {where:+.3f})")

    s, t = torch.sigmoid(z), torch.tanh(z)
    assert torch.allclose(found["sigmoid"], s * (1 - s))  # sigma' = sigma (1 - sigma)
    assert found["sigmoid"].max().item() == 0.25 and z[found["sigmoid"].argmax()] == 0
    assert torch.allclose(found["tanh"], 1 - t**2)  # tanh' = 1 - tanh^2
    assert found["tanh"].max().item() == 1.0 and z[found["tanh"].argmax()] == 0
    assert set(found["relu"].tolist()) == {0.0, 1.0}
    assert found["relu"][z == 0].item() == 0.0  # PyTorch's choice at the kink
    assert set(found["leaky_relu"].tolist()) == {0.01, 1.0}
    gelu = found["gelu"]
    assert round(gelu.min().item(), 2) == -0.13 and round(gelu.max().item(), 2) == 1.13
    assert math.isclose(abs(z[gelu.argmax()].item()), math.sqrt(2), abs_tol=1e-3)

    generator = torch.Generator().manual_seed(0)
    points = 4 * torch.randn(100_000, 11, generator=generator, dtype=torch.float64)
    product = (torch.sigmoid(points) * (1 - torch.sigmoid(points))).prod(dim=1)
    print(f"11 sigmoid slopes multiply to at most {product.max().item():.3e}")
    print(f"(1/4)^11 = {0.25**11:.3e} = 1 / {4**11:,}")
    assert product.max().item() <= 0.25**11
    print("the sigmoid's slope never exceeds 0.25: 11 of them multiply to at most 1/4,194,304")


if __name__ == "__main__":
    main()
