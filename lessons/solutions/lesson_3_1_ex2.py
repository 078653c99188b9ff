"""Lesson 3.1, exercise 2: Adam and AdamW by hand, checked against torch.optim for 10 steps.

m and v are running means of the gradient and of its square; bias correction divides them
by (1 - beta1^t) and (1 - beta2^t). AdamW first shrinks every weight by (1 - lr * wd).
Then the first step of a fresh Adam with and without the correction, on the same gradient.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LR, BETAS, EPS, STEPS = 0.01, (0.9, 0.999), 1e-8, 10


def adam_step(
    params: list[torch.Tensor],
    state: list[dict[str, torch.Tensor]],
    t: int,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    bias_correction: bool = True,
) -> None:
    """Step t (from 1) of Adam; decoupled=True makes it AdamW. Fills nothing: reads .grad."""
    beta1, beta2 = BETAS
    with torch.no_grad():
        for p, s in zip(params, state, strict=True):
            g = p.grad
            if weight_decay and decoupled:
                p.mul_(1 - LR * weight_decay)  # AdamW: shrink every weight, outside Adam
            elif weight_decay:
                g = g + weight_decay * p  # Adam + L2: the decay joins the gradient
            s["m"].mul_(beta1).add_((1 - beta1) * g)
            s["v"].mul_(beta2).add_((1 - beta2) * g * g)
            m_hat, v_hat = s["m"], s["v"]
            if bias_correction:
                m_hat, v_hat = m_hat / (1 - beta1**t), v_hat / (1 - beta2**t)
            p.sub_(LR * m_hat / (v_hat.sqrt() + EPS))


def compare_with_torch(name: str, weight_decay: float, decoupled: bool) -> float:
    """Largest weight difference after STEPS steps of ours and of torch.optim's."""
    torch.manual_seed(0)
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    ours, theirs = nn.Linear(5, 3), nn.Linear(5, 3)
    theirs.load_state_dict(ours.state_dict())
    params = list(ours.parameters())
    state = [{"m": torch.zeros_like(p), "v": torch.zeros_like(p)} for p in params]
    kind = torch.optim.AdamW if decoupled else torch.optim.Adam
    optimizer = kind(theirs.parameters(), lr=LR, betas=BETAS, eps=EPS, weight_decay=weight_decay)
    for t in range(1, STEPS + 1):
        for model in (ours, theirs):
            model.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
        adam_step(params, state, t, weight_decay, decoupled)
        optimizer.step()
    gap = max((a - b).abs().max().item() for a, b in zip(params, theirs.parameters(), strict=True))
    print(f"{name:22} hand-written vs torch.optim after {STEPS} steps: {gap:.1e}")
    return gap


def main() -> None:
    assert compare_with_torch("Adam", 0.0, decoupled=False) < 1e-6
    assert compare_with_torch("Adam, weight_decay=0.1", 0.1, decoupled=False) < 1e-6
    assert compare_with_torch("AdamW, weight_decay=0.1", 0.1, decoupled=True) < 1e-6

    # The first step of a fresh Adam, on gradients of very different sizes.
    grad = torch.tensor([0.001, 0.03, 5.0, -200.0])
    for correct in (True, False):
        p = torch.zeros(4, requires_grad=True)
        p.grad = grad.clone()
        state = [{"m": torch.zeros(4), "v": torch.zeros(4)}]
        adam_step([p], state, 1, bias_correction=correct)
        sizes = (p.detach().abs() / LR).tolist()
        label = "on " if correct else "off"
        print(f"bias correction {label}: first step / lr = " + ", ".join(f"{s:.3f}" for s in sizes))
        expected = 1.0 if correct else (1 - BETAS[0]) / math.sqrt(1 - BETAS[1])  # 3.162
        assert all(abs(s / expected - 1) < 1e-3 for s in sizes)  # eps costs a little
    print("hand-written Adam and AdamW match torch.optim for 10 steps")


if __name__ == "__main__":
    main()
