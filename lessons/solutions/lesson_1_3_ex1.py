"""Lesson 1.3, exercise 1: measure how noisy a mini-batch gradient is.

Fix the weights of a linear model and compute the full-batch gradient of the MSE on 1,024
examples. Then draw 300 random batches of size B (1, 8, 64, 1024) and measure how far each
batch's gradient lands from the full-batch one (the mean squared distance). Check that the
noise shrinks as the batch grows, roughly like 1/B, and is zero for the full batch.
"""

from __future__ import annotations

import torch

N = 1024


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points near the plane y = 3 x1 - 2 x2 + 0.5, with noise."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 2, generator=generator)
    y = x @ torch.tensor([3.0, -2.0]) + 0.5 + 0.5 * torch.randn(N, generator=generator)
    return x, y


def gradient(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """dL/dw of the mean squared error on this batch, from autograd."""
    w = w.clone().requires_grad_(True)
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    return w.grad


def gradient_noise(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, batch_size: int, draws: int = 300
) -> float:
    """Mean squared distance between a random batch's gradient and the full gradient."""
    full = gradient(x, y, w)
    total = 0.0
    for _ in range(draws):
        index = torch.randperm(N)[:batch_size]
        total += (gradient(x[index], y[index], w) - full).pow(2).sum().item()
    return total / draws


def main() -> None:
    torch.manual_seed(0)
    x, y = make_data()
    w = torch.zeros(2)  # a fixed point early in training
    noise = {b: gradient_noise(x, y, w, b) for b in (1, 8, 64, N)}
    for batch_size, value in noise.items():
        print(f"B={batch_size:<5d} gradient noise {value:10.4f}")

    assert noise[1] > noise[8] > noise[64] > noise[N]
    assert noise[N] < 1e-9  # the full batch IS the full gradient
    assert 20 < noise[1] / noise[64] < 200  # about 64x less noise for 64x the batch
    print("gradient noise shrinks as the batch grows (about 1/B)")


if __name__ == "__main__":
    main()
