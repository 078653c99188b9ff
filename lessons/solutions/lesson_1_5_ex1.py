"""Lesson 1.5, exercise 1: finite differences, and how fast their error shrinks.

For f(x) = sum(sin(x) * x^2) on a vector x (float64), estimate the gradient with the
forward difference (f(x + h e_i) - f(x)) / h and the central difference
(f(x + h e_i) - f(x - h e_i)) / (2h), for h = 1e-2 and 1e-3. Compare both with autograd.
Check that making h 10x smaller cuts the forward error about 10x (O(h)) and the central
error about 100x (O(h^2)).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Function = Callable[[torch.Tensor], torch.Tensor]


def f(x: torch.Tensor) -> torch.Tensor:
    """The function to differentiate: a single number from a vector."""
    return (torch.sin(x) * x**2).sum()


def forward_difference(fn: Function, x: torch.Tensor, h: float) -> torch.Tensor:
    """One-sided estimate of the gradient: nudge each entry up by h."""
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step[i] = h
        grad[i] = (fn(x + step) - fn(x)) / h
    return grad


def central_difference(fn: Function, x: torch.Tensor, h: float) -> torch.Tensor:
    """Two-sided estimate of the gradient: nudge each entry up and down by h."""
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step[i] = h
        grad[i] = (fn(x + step) - fn(x - step)) / (2 * h)
    return grad


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    f(x).backward()
    exact = x.grad.detach()
    by_hand = torch.cos(x) * x**2 + 2 * x * torch.sin(x)  # the derivative on paper
    assert torch.allclose(exact, by_hand.detach(), atol=1e-12)

    x = x.detach()
    errors: dict[tuple[str, float], float] = {}
    for h in (1e-2, 1e-3):
        for name, method in (("forward", forward_difference), ("central", central_difference)):
            errors[name, h] = (method(f, x, h) - exact).abs().max().item()
            print(f"{name:<8} h={h:g}: max error {errors[name, h]:.2e}")

    forward_ratio = errors["forward", 1e-2] / errors["forward", 1e-3]
    central_ratio = errors["central", 1e-2] / errors["central", 1e-3]
    print(
        f"h 10x smaller: forward error {forward_ratio:.1f}x smaller, "
        f"central error {central_ratio:.1f}x smaller"
    )
    assert 7 < forward_ratio < 13
    assert 70 < central_ratio < 130
    assert errors["central", 1e-3] < 1e-5
    print("central difference error shrinks like h^2, forward like h")


if __name__ == "__main__":
    main()
