"""Lesson 2.3, exercise 2: check a whole hand-written backward pass, then break its ReLU.

Write forward and backward for the net 64 -> 32 -> 10 (ReLU, softmax cross-entropy) by
hand, and compare all four gradients (w1, b1, w2, b2) with autograd's on one batch, in
float64. Then forget the ReLU's mask in backward and see which gradients go wrong.
"""

from __future__ import annotations

import torch
from torch import nn

B, N_IN, HIDDEN, K = 16, 64, 32, 10
Params = dict[str, torch.Tensor]


def hand_gradients(params: Params, x: torch.Tensor, y: torch.Tensor, mask: bool = True) -> Params:
    """Forward, then backward by the chain rule. mask=False forgets ReLU's slope."""
    z1 = x @ params["w1"].T + params["b1"]
    h = z1.clamp(min=0)
    z2 = h @ params["w2"].T + params["b2"]
    probs = torch.softmax(z2, dim=1)
    one_hot = nn.functional.one_hot(y, K).to(probs.dtype)
    dz2 = (probs - one_hot) / len(y)
    dh = dz2 @ params["w2"]
    dz1 = dh * (z1 > 0) if mask else dh  # the bug: ReLU passed every gradient through
    return {"w1": dz1.T @ x, "b1": dz1.sum(dim=0), "w2": dz2.T @ h, "b2": dz2.sum(dim=0)}


def autograd_gradients(params: Params, x: torch.Tensor, y: torch.Tensor) -> Params:
    """The same net's gradients from loss.backward()."""
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    hidden = torch.relu(x @ leaves["w1"].T + leaves["b1"])
    logits = hidden @ leaves["w2"].T + leaves["b2"]
    nn.functional.cross_entropy(logits, y).backward()
    return {name: leaf.grad for name, leaf in leaves.items()}


def largest_gaps(a: Params, b: Params) -> dict[str, float]:
    return {name: (a[name] - b[name]).abs().max().item() for name in a}


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(B, N_IN, generator=generator, dtype=torch.float64)
    y = torch.randint(0, K, (B,), generator=generator)
    shapes = {"w1": (HIDDEN, N_IN), "b1": (HIDDEN,), "w2": (K, HIDDEN), "b2": (K,)}
    params = {
        name: 0.2 * torch.randn(shape, generator=generator, dtype=torch.float64)
        for name, shape in shapes.items()
    }

    reference = autograd_gradients(params, x, y)
    right = largest_gaps(hand_gradients(params, x, y), reference)
    wrong = largest_gaps(hand_gradients(params, x, y, mask=False), reference)
    for name in shapes:
        print(f"{name}: with the mask {right[name]:.1e}, without it {wrong[name]:.1e}")

    assert all(gap < 1e-12 for gap in right.values())
    print("hand backward matches autograd for all 4 parameters")
    assert wrong["w2"] < 1e-12 and wrong["b2"] < 1e-12  # computed before backward reaches ReLU
    assert wrong["w1"] > 1e-3 and wrong["b1"] > 1e-3
    print("the forgotten ReLU mask shows up in w1 and b1 only")


if __name__ == "__main__":
    main()
