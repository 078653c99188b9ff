"""Lesson 3.1, exercise 3: the same weight_decay in Adam and in AdamW, measured.

Three weights, each with a steady pull from the data: the loss -(c1*w1 + c2*w2 + c3*w3)
with c = (1, 0.01, 0) has the gradient -c everywhere. Weight decay pulls back towards 0.
Train 1,000 steps with torch.optim.Adam(weight_decay=0.1), where the decay joins the
gradient, and with torch.optim.AdamW(weight_decay=0.1), where it shrinks every weight by
(1 - lr * wd) outside Adam's scaling, and compare where the weights settle and their norm.
"""

from __future__ import annotations

import torch

LR, WD, STEPS = 0.1, 0.1, 1000
PULL = torch.tensor([1.0, 0.01, 0.0])  # a large gradient, a small one, none at all


def settle(kind: type[torch.optim.Optimizer]) -> torch.Tensor:
    """The weights after STEPS steps from (0, 0, 1) with this optimizer and weight_decay."""
    w = torch.tensor([0.0, 0.0, 1.0], requires_grad=True)
    optimizer = kind([w], lr=LR, weight_decay=WD)
    for _ in range(STEPS):
        optimizer.zero_grad()
        (-(PULL * w).sum()).backward()  # gradient -PULL, the same at every step
        optimizer.step()
    return w.detach()


def main() -> None:
    coupled, decoupled = settle(torch.optim.Adam), settle(torch.optim.AdamW)
    for name, w in (("Adam + L2", coupled), ("AdamW", decoupled)):
        weights = ", ".join(f"{v:.4f}" for v in w.tolist())
        print(f"{name:9}: weights {weights}; norm {w.norm().item():.2f}")

    # Adam + L2 runs Adam on -c + wd * w, and settles where that is 0: w = c / wd.
    assert torch.allclose(coupled, PULL / WD, atol=0.01)  # 10, 0.1, 0
    # AdamW: Adam's step on a steady gradient is lr long whatever c is, and the decay takes
    # lr * wd * w back: they cancel at w = 1 / wd for every weight the data pulls on.
    assert torch.allclose(decoupled[:2], torch.full((2,), 1 / WD), atol=0.01)  # 10, 10
    # A weight the data never pulls on shrinks by (1 - lr * wd) each step under AdamW.
    assert abs(decoupled[2].item() - (1 - LR * WD) ** STEPS) < 1e-6
    rule = (1 - LR * WD) ** STEPS
    print(f"AdamW's unpulled weight: {decoupled[2].item():.2e} = (1 - lr*wd)^{STEPS} = {rule:.2e}")
    ratio = coupled[0] / coupled[1]
    print(f"Adam + L2 holds the small-gradient weight {ratio.item():.0f}x closer to 0")
    assert coupled.norm() < decoupled.norm()
    print("the same weight_decay: Adam + L2 depends on the gradient's size, AdamW does not")


if __name__ == "__main__":
    main()
