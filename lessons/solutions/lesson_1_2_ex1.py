"""Lesson 1.2, exercise 1: derive the gradients of the MSE by hand and check them.

For the linear model y_hat = X w + b and the loss L = mean((y_hat - y)^2), the gradients
are dL/dw = (2/N) X^T (y_hat - y) and dL/db = (2/N) sum(y_hat - y). Compute both by hand
and check that they equal what loss.backward() puts in w.grad and b.grad (within 1e-5).
"""

from __future__ import annotations

import torch


def make_data(n: int = 100, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points near the plane y = 3 x1 - 2 x2 + 0.5, with a little noise."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    true_w = torch.tensor([3.0, -2.0])
    y = x @ true_w + 0.5 + 0.1 * torch.randn(n, generator=generator)
    return x, y


def mse_gradients_by_hand(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/dw, dL/db) of L = mean((x @ w + b - y)^2), from the chain rule on paper."""
    n = x.shape[0]
    residual = x @ w + b - y  # y_hat - y, shape [N]
    grad_w = (2 / n) * x.T @ residual  # shape [d], like w
    grad_b = (2 / n) * residual.sum()  # a single number, like b
    return grad_w, grad_b


def main() -> None:
    torch.manual_seed(0)
    x, y = make_data()
    w = torch.randn(2, requires_grad=True)
    b = torch.zeros((), requires_grad=True)

    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()  # autograd fills w.grad and b.grad

    with torch.no_grad():
        hand_w, hand_b = mse_gradients_by_hand(x, y, w, b)
    print(f"loss            = {loss.item():.4f}")
    print(f"dL/dw by hand   = {[round(v, 6) for v in hand_w.tolist()]}")
    print(f"dL/dw autograd  = {[round(v, 6) for v in w.grad.tolist()]}")
    print(f"dL/db by hand   = {hand_b.item():.6f}, autograd = {b.grad.item():.6f}")

    assert torch.allclose(hand_w, w.grad, atol=1e-5)
    assert torch.allclose(hand_b, b.grad, atol=1e-5)
    print("hand-derived gradients match autograd within 1e-5")


if __name__ == "__main__":
    main()
