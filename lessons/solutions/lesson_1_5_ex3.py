"""Lesson 1.5, exercise 3: catch a wrong hand-derived gradient.

Write the mean squared error as a torch.autograd.Function with your own backward. Make
the first version wrong on purpose: drop the factor 2 from d/dpred mean((pred - y)^2).
Show that torch.autograd.gradcheck rejects it and that the hand gradient is exactly half
the finite-difference one; then fix the factor and show that gradcheck passes.
"""

from __future__ import annotations

import torch


class SquaredErrorForgotTwo(torch.autograd.Function):
    """mean((pred - y)^2) with a WRONG backward: the 2 from the power rule is missing."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, pred: torch.Tensor, target: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(pred - target)
        return ((pred - target) ** 2).mean()

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        (residual,) = ctx.saved_tensors
        return grad_output * residual / residual.numel(), None  # BUG: should be 2 * residual


class SquaredError(torch.autograd.Function):
    """mean((pred - y)^2) with the right backward: 2 (pred - y) / N."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, pred: torch.Tensor, target: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(pred - target)
        return ((pred - target) ** 2).mean()

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        (residual,) = ctx.saved_tensors
        return grad_output * 2 * residual / residual.numel(), None


def central_difference(pred: torch.Tensor, target: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Finite-difference estimate of d mean((pred - target)^2) / d pred."""
    grad = torch.zeros_like(pred)
    for i in range(pred.numel()):
        step = torch.zeros_like(pred)
        step.view(-1)[i] = h
        up = ((pred + step - target) ** 2).mean()
        down = ((pred - step - target) ** 2).mean()
        grad.view(-1)[i] = (up - down) / (2 * h)
    return grad


def main() -> None:
    torch.manual_seed(0)
    pred = torch.randn(6, dtype=torch.float64, requires_grad=True)
    target = torch.randn(6, dtype=torch.float64)

    SquaredErrorForgotTwo.apply(pred, target).backward()
    ratio = (pred.grad / central_difference(pred.detach(), target)).mean().item()
    print(f"wrong backward / finite difference = {ratio:.4f}")
    assert abs(ratio - 0.5) < 1e-6

    wrong_ok = torch.autograd.gradcheck(
        SquaredErrorForgotTwo.apply, (pred, target), raise_exception=False
    )
    right_ok = torch.autograd.gradcheck(SquaredError.apply, (pred, target))
    print(f"gradcheck: wrong backward -> {wrong_ok}, fixed backward -> {right_ok}")
    assert not wrong_ok and right_ok
    print("the check caught the wrong gradient: off by a factor of 2")


if __name__ == "__main__":
    main()
