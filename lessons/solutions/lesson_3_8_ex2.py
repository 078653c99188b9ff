"""Lesson 3.8, exercise 2: Adam by hand, and why a fresh Adam takes a full-size first step.

Write adam_step, the update of the lesson's formulas, and check it against
torch.optim.Adam for 50 steps. Then warm an Adam up for 200 steps, and compare its next
step with the first step of a fresh Adam given the same gradient: how far does each move a
weight, in units of the learning rate?
"""

from __future__ import annotations

import torch

LR, BETA1, BETA2, EPS = 1e-2, 0.9, 0.999, 1e-8


def adam_step(
    theta: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int
) -> None:
    """One Adam update in place; t counts from 1. m and v are the two moments."""
    m.mul_(BETA1).add_((1 - BETA1) * grad)  # running mean of the gradient
    v.mul_(BETA2).add_((1 - BETA2) * grad**2)  # running mean of its square
    m_hat = m / (1 - BETA1**t)  # bias correction: m and v start at 0
    v_hat = v / (1 - BETA2**t)
    theta.sub_(LR * m_hat / (v_hat.sqrt() + EPS))


def noisy_gradient(theta: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A least-squares gradient on a fresh random batch: as noisy as a mini-batch's."""
    x = torch.randn(16, theta.numel(), generator=generator)
    y = x @ torch.linspace(-1, 1, theta.numel()) + torch.randn(16, generator=generator)
    return 2 * x.T @ (x @ theta - y) / len(y)


def main() -> None:
    torch.manual_seed(0)
    start = torch.randn(200)

    # 1. The formulas are what torch.optim.Adam computes.
    mine, m, v = start.clone(), torch.zeros(200), torch.zeros(200)
    theirs = start.clone().requires_grad_(True)
    adam = torch.optim.Adam([theirs], lr=LR, betas=(BETA1, BETA2), eps=EPS)
    gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    for t in range(1, 51):
        adam_step(mine, noisy_gradient(mine, gen_a), m, v, t)
        theirs.grad = noisy_gradient(theirs.detach(), gen_b)
        adam.step()
    gap = (mine - theirs.detach()).abs().max().item()
    print(f"hand-written Adam vs torch.optim.Adam after 50 steps: largest difference {gap:.1e}")
    assert gap < 1e-5

    # 2. A warm Adam (200 steps of state) against a fresh one, on the same next gradient.
    theta, m, v = start.clone(), torch.zeros(200), torch.zeros(200)
    generator = torch.Generator().manual_seed(2)
    for t in range(1, 201):
        adam_step(theta, noisy_gradient(theta, generator), m, v, t)
    grad = noisy_gradient(theta, generator)
    warm, fresh = theta.clone(), theta.clone()
    adam_step(warm, grad, m, v, t=201)  # resumed with its state
    adam_step(fresh, grad, torch.zeros(200), torch.zeros(200), t=1)  # state lost
    warm_size = ((warm - theta).abs() / LR).mean().item()
    fresh_moves = (fresh - theta).abs() / LR
    print(f"warm Adam:  mean |change| / lr = {warm_size:.3f}")
    print(
        f"fresh Adam: mean |change| / lr = {fresh_moves.mean().item():.4f} "
        f"(smallest {fresh_moves.min().item():.4f}, largest {fresh_moves.max().item():.4f})"
    )
    # at t = 1, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) = lr * sign(g)
    expected = LR * grad / (grad.abs() + EPS)
    assert torch.allclose(theta - fresh, expected, atol=1e-7)
    assert torch.allclose(fresh_moves, torch.ones(200), atol=1e-4)
    assert fresh_moves.mean().item() > 3 * warm_size
    print("a fresh Adam moved every weight by lr")


if __name__ == "__main__":
    main()
