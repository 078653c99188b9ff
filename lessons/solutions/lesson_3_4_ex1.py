"""Lesson 3.4, exercise 1: a residual block passes the gradient straight through.

Write a residual block x + f(x), with f = ReLU then Linear. Check that its Jacobian is the
identity plus f's Jacobian; that a block whose f is all zeros hands the gradient back
unchanged; and that through 50 blocks the gradient reaching the input does not vanish
(it even grows a little), where the same 50 layers without the skip path, f(f(...)),
shrink it to almost nothing.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.functional import jacobian

WIDTH, BLOCKS = 16, 50


class Residual(nn.Module):
    """x + f(x): the skip path adds the input back to what the layers compute."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.ReLU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


def input_gradient_ratio(model: nn.Module, x: torch.Tensor) -> float:
    """||dL/dx|| / ||dL/d(output)|| for the loss L = output . v, v a fixed random vector."""
    x = x.clone().requires_grad_(True)
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    (model(x) * v).sum().backward()  # dL/d(output) = v
    return (x.grad.norm() / v.norm()).item()


def main() -> None:
    torch.manual_seed(0)
    block, x = Residual(WIDTH), torch.randn(WIDTH)

    # 1. d(x + f(x))/dx = I + f'(x), with f'(x) the Jacobian of f alone.
    block_jacobian = jacobian(block, x)
    f_jacobian = jacobian(block.f, x)
    miss = (block_jacobian - (torch.eye(WIDTH) + f_jacobian)).abs().max().item()
    print(f"Jacobian of x + f(x) minus (I + f'(x)): largest entry {miss:.1e}")
    assert miss < 1e-6

    # 2. A block that has learned nothing is the identity, and so is its backward.
    empty = Residual(WIDTH)
    nn.init.zeros_(empty.f[1].weight)
    nn.init.zeros_(empty.f[1].bias)
    ratio = input_gradient_ratio(empty, x)
    print(f"f = 0: the gradient comes back times {ratio:.4f}")
    assert ratio == 1.0

    # 3. Fifty blocks deep, with and without the skip path (the same f's, same weights).
    torch.manual_seed(0)
    blocks = nn.Sequential(*(Residual(WIDTH) for _ in range(BLOCKS)))
    plain = nn.Sequential(*(block.f for block in blocks))  # f(f(...f(x))): no skip path
    x = torch.randn(8, WIDTH)
    with_skip, without = input_gradient_ratio(blocks, x), input_gradient_ratio(plain, x)
    print(f"{BLOCKS} layers: gradient at the input / gradient at the output")
    print(f"  residual blocks: {with_skip:.3g}   plain layers: {without:.3g}")
    assert 1 < with_skip < 1e3 and without < 1e-15
    print("a residual block passes the gradient straight through: d(x + f(x))/dx = I + f'(x)")


if __name__ == "__main__":
    main()
