"""Lesson 1.2, exercise 2: train linear regression twice, by hand and with autograd.

Run 200 steps of full-batch gradient descent on the same data from the same starting
weights in two ways: (a) with your hand-derived gradients and an update you write
yourself, with no autograd at all; (b) with loss.backward() and torch.optim.SGD. The two
runs must end with the same w and b (within 1e-5) and both must recover the true line.
"""

from __future__ import annotations

import torch

LR = 0.1
STEPS = 200


def make_data(n: int = 100, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points near the plane y = 3 x1 - 2 x2 + 0.5, with a little noise."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    y = x @ torch.tensor([3.0, -2.0]) + 0.5 + 0.1 * torch.randn(n, generator=generator)
    return x, y


def train_by_hand(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient descent with the gradients written out: no autograd involved."""
    w, b = w.clone(), b.clone()
    n = x.shape[0]
    for _ in range(STEPS):
        residual = x @ w + b - y
        grad_w = (2 / n) * x.T @ residual
        grad_b = (2 / n) * residual.sum()
        w = w - LR * grad_w
        b = b - LR * grad_b
    return w, b


def train_with_autograd(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """The same run with the four steps of a PyTorch training loop."""
    w = w.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([w, b], lr=LR)
    losses: list[float] = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        y_hat = x @ w + b  # 1. forward
        loss = ((y_hat - y) ** 2).mean()  # 2. loss
        loss.backward()  # 3. backward
        optimizer.step()  # 4. step
        losses.append(loss.item())
    return w.detach(), b.detach(), losses


def main() -> None:
    torch.manual_seed(0)
    x, y = make_data()
    w0, b0 = torch.randn(2), torch.zeros(())

    hand_w, hand_b = train_by_hand(x, y, w0, b0)
    auto_w, auto_b, losses = train_with_autograd(x, y, w0, b0)

    print(f"by hand:  w = {[round(v, 4) for v in hand_w.tolist()]}, b = {hand_b.item():.4f}")
    print(f"autograd: w = {[round(v, 4) for v in auto_w.tolist()]}, b = {auto_b.item():.4f}")
    print(f"loss: {losses[0]:.4f} -> {losses[-1]:.4f}")

    assert torch.allclose(hand_w, auto_w, atol=1e-5)
    assert torch.allclose(hand_b, auto_b, atol=1e-5)
    assert torch.allclose(auto_w, torch.tensor([3.0, -2.0]), atol=0.05)
    assert abs(auto_b.item() - 0.5) < 0.05
    assert losses[-1] < 0.1 * losses[0]
    print("manual and autograd training agree and recover y = 3 x1 - 2 x2 + 0.5")


if __name__ == "__main__":
    main()
