"""Lesson 2.1, exercise 1: six activations and their derivatives, checked against autograd.

Write ReLU, LeakyReLU, sigmoid, tanh, GELU and the identity, and each one's derivative, from
the formulas of the lesson. On 801 points from -4 to 4 (z = 0 among them), check that each
formula gives the same values as PyTorch's own layer, and that each derivative matches what
autograd computes. Then check two facts the lesson states: the sigmoid's slope is never
above 1/4, the tanh's never above 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

Fn = Callable[[torch.Tensor], torch.Tensor]
ALPHA = 0.01  # nn.LeakyReLU's default negative slope


def normal_cdf(z: torch.Tensor) -> torch.Tensor:
    """Phi(z): the chance that a standard normal number is below z."""
    return 0.5 * (1 + torch.erf(z / math.sqrt(2)))


def normal_pdf(z: torch.Tensor) -> torch.Tensor:
    """p(z) = exp(-z^2 / 2) / sqrt(2 pi): the bell curve, the slope of Phi."""
    return torch.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)


def sigmoid(z: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-z))


# name: (PyTorch's layer, the formula g(z), its derivative g'(z))
ACTIVATIONS: dict[str, tuple[nn.Module, Fn, Fn]] = {
    "relu": (
        nn.ReLU(),
        lambda z: torch.where(z > 0, z, 0.0),
        lambda z: torch.where(z > 0, 1.0, torch.zeros_like(z)),  # PyTorch takes 0 at z = 0
    ),
    "leaky_relu": (
        nn.LeakyReLU(),
        lambda z: torch.where(z > 0, z, ALPHA * z),
        lambda z: torch.where(z > 0, 1.0, torch.full_like(z, ALPHA)),  # and alpha at z = 0
    ),
    "sigmoid": (nn.Sigmoid(), sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z))),
    "tanh": (
        nn.Tanh(),
        lambda z: (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z)),
        lambda z: 1 - torch.tanh(z) ** 2,
    ),
    "gelu": (
        nn.GELU(),
        lambda z: z * normal_cdf(z),
        lambda z: normal_cdf(z) + z * normal_pdf(z),  # the product rule
    ),
    "identity": (nn.Identity(), lambda z: z, torch.ones_like),
}


def autograd_slope(layer: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """dg/dz at every point: each output depends on its own input only, so the gradient of
    the sum is the derivative at each point."""
    z = z.clone().requires_grad_(True)
    layer(z).sum().backward()
    return z.grad


def main() -> None:
    z = torch.arange(-400, 401, dtype=torch.float64) / 100  # -4.00, -3.99, ..., 4.00
    assert (z == 0).any()  # the kink of ReLU is among the points
    for name, (layer, g, slope) in ACTIVATIONS.items():
        value_gap = (g(z) - layer(z)).abs().max().item()
        slope_gap = (slope(z) - autograd_slope(layer, z)).abs().max().item()
        print(f"{name:<11} value gap {value_gap:.1e}   derivative gap {slope_gap:.1e}")
        assert value_gap < 1e-12 and slope_gap < 1e-12, name  # equal up to float64 rounding

    sigmoid_slope = ACTIVATIONS["sigmoid"][2](z)
    tanh_slope = ACTIVATIONS["tanh"][2](z)
    print(f"largest slope: sigmoid {sigmoid_slope.max().item():.4f}, tanh {tanh_slope.max():.4f}")
    assert sigmoid_slope.max().item() == 0.25 and tanh_slope.max().item() == 1.0  # at z = 0
    print("all six hand derivatives match autograd")


if __name__ == "__main__":
    main()
