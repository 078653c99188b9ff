"""Lesson 2.5, exercise 3: standardise with training statistics only, and see why scale matters.

Split the digits as the lesson's program does (1,259 for training, 538 held out). Compute
each pixel's mean and std on the training split, apply them to both splits, and check
what that gives: mean 0 and std 1 on training, close to but not exactly that on the
held-out split. Then run 20 steps of full-batch gradient descent with one learning rate
(0.1) on a linear model with mean squared error, once on raw pixels and once on
standardised ones, and compare with the limit 2 / lambda_max from lesson 1.4.
"""

from __future__ import annotations

import math

import torch
from sklearn.datasets import load_digits

SEED, N_TRAIN, LR, STEPS = 0, 1259, 0.1, 20


def split_digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train_x, train_y, held_x), cut by the same seeded permutation as the program."""
    digits = load_digits()
    inputs = torch.tensor(digits.data, dtype=torch.float64)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SEED))
    return inputs[order[:N_TRAIN]], labels[order[:N_TRAIN]], inputs[order[N_TRAIN:]]


def design(inputs: torch.Tensor) -> torch.Tensor:
    """The inputs with a column of ones for the bias: lesson 1.4's A."""
    return torch.cat([inputs, torch.ones(len(inputs), 1, dtype=inputs.dtype)], dim=1)


def gradient_descent(inputs: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Losses of STEPS full-batch steps of a linear model fitting one-hot labels by MSE."""
    a = design(inputs)
    targets = torch.nn.functional.one_hot(labels, 10).double()
    weights = torch.zeros(a.shape[1], 10, dtype=torch.float64, requires_grad=True)
    losses = []
    for _ in range(STEPS):
        loss = ((a @ weights - targets) ** 2).sum(dim=1).mean()  # each column: lesson 1.4's L
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            weights -= LR * weights.grad
            weights.grad = None
    return losses


def main() -> None:
    train_x, train_y, held_x = split_digits()
    mean = train_x.mean(dim=0)  # training split only
    std = train_x.std(dim=0)
    blank = std <= 1e-6  # pixels that are 0 in every training image
    std = torch.where(blank, torch.ones_like(std), std)
    train_s, held_s = (train_x - mean) / std, (held_x - mean) / std

    assert train_s.mean(dim=0).abs().max() < 1e-12
    assert torch.allclose(train_s.std(dim=0)[~blank], torch.ones(int((~blank).sum())).double())
    assert (train_s[:, blank] == 0).all()
    held_off = held_s.mean(dim=0).abs().max().item()
    print(f"{int(blank.sum())} blank pixels; held-out pixel means up to {held_off:.2f} from 0")
    assert 0.05 < held_off < 0.5  # near 0, not 0: new data is a different sample
    everything = torch.cat([train_x, held_x])
    leak = (everything.mean(dim=0) - mean).abs().max().item()
    print(f"statistics from all 1,797 digits would move a pixel mean by up to {leak:.2f}")
    assert leak > 0.01  # the held-out split would have leaked into training

    for name, inputs in (("raw", train_x), ("standardised", train_s)):
        a = design(inputs)
        lam_max = torch.linalg.eigvalsh(2 / len(a) * a.T @ a).max().item()
        losses = gradient_descent(inputs, train_y)
        print(
            f"{name:<12} lambda_max {lam_max:8.1f}, limit 2/lambda_max {2 / lam_max:.5f}, "
            f"loss {losses[0]:.3f} -> {losses[-1]:.3g} after {STEPS} steps at lr {LR}"
        )
        if name == "raw":
            assert 2 / lam_max < LR and not (losses[-1] < 1e6 * losses[0])  # diverges
        else:
            assert 2 / lam_max > LR and losses[-1] < 0.5 * losses[0] and math.isfinite(losses[-1])
    print("one learning rate fits standardised inputs; raw pixels make it diverge")


if __name__ == "__main__":
    main()
