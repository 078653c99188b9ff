"""Lesson 2.3, exercise 1: the gradient of softmax cross-entropy, by hand and by autograd.

For a batch of logits Z [B, K] and labels y, the mean cross-entropy loss has the gradient
(P - Y) / B, where P = softmax(Z) row by row and Y holds the labels as one-hot rows.
Compute it by hand, compare it with what loss.backward() puts in Z.grad (float64), and check
that every row of the gradient sums to zero.
"""

from __future__ import annotations

import torch
from torch import nn

B, K = 8, 10


def hand_gradient(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """dL/dZ = (softmax(Z) - one_hot(y)) / B, with no autograd."""
    probs = torch.exp(logits - torch.logsumexp(logits, dim=1, keepdim=True))  # softmax
    one_hot = torch.zeros_like(probs)
    one_hot[torch.arange(len(labels)), labels] = 1.0
    return (probs - one_hot) / len(labels)


def autograd_gradient(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """What loss.backward() puts in logits.grad for the mean cross-entropy loss."""
    logits = logits.clone().requires_grad_(True)
    nn.functional.cross_entropy(logits, labels).backward()
    return logits.grad


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(B, K, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, K, (B,), generator=generator)

    by_hand = hand_gradient(logits, labels)
    by_autograd = autograd_gradient(logits, labels)
    gap = (by_hand - by_autograd).abs().max().item()
    row_sums = by_hand.sum(dim=1).abs().max().item()
    print(f"largest difference between hand and autograd: {gap:.1e}")
    print(f"largest row sum of the gradient: {row_sums:.1e}")
    shown = [round(value, 3) for value in (B * by_hand[0]).tolist()]
    print(f"row 0 times B, that is p - y for label {labels[0].item()}: {shown}")

    assert gap < 1e-12  # the same numbers, to float64 rounding
    assert row_sums < 1e-12  # the right class is pushed up as much as the rest are pushed down
    right = by_hand[torch.arange(B), labels]
    assert (right < 0).all()  # the right class's logit is pushed up (negative gradient)
    print("the hand gradient of softmax cross-entropy matches autograd")


if __name__ == "__main__":
    main()
