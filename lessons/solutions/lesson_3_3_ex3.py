"""Lesson 3.3, exercise 3: at what init scale does tanh saturate?

Build the lesson's deep tanh MLP (15 hidden layers of 128 units) with Xavier weights times a
scale, from 0.5 to 5 in steps of 0.25, and send 500 standardised digits through it. At the
last hidden layer, measure the share of values with |a| > 0.9 (where tanh's slope
1 - a^2 is below 0.19) and the mean slope. Find the smallest scale at which more than half
of the values are saturated, and see where PyTorch's recommended gain for tanh, 5/3, sits.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED, DEPTH, WIDTH, N_DIGITS = 0, 15, 128, 500
SCALES = [0.5 + 0.25 * i for i in range(19)]  # 0.5, 0.75, ..., 5.0


@torch.no_grad()
def last_hidden(x: torch.Tensor, scale: float) -> torch.Tensor:
    """The activations of the last tanh layer, with every weight drawn Xavier x scale."""
    torch.manual_seed(SEED)
    h = x
    for n_in in [64] + [WIDTH] * (DEPTH - 1):
        weight = torch.empty(WIDTH, n_in)
        nn.init.xavier_uniform_(weight)
        h = torch.tanh(h @ (scale * weight).T)  # biases are zero at initialisation
    return h


def main() -> None:
    torch.set_num_threads(1)
    digits = load_digits()
    x = torch.tensor(digits.data[:N_DIGITS], dtype=torch.float32)
    std = x.std(dim=0)
    x = (x - x.mean(dim=0)) / torch.where(std > 1e-6, std, torch.ones_like(std))

    print("scale   share |a| > 0.9   mean slope")
    found = {}
    for scale in SCALES:
        a = last_hidden(x, scale)
        found[scale] = ((a.abs() > 0.9).float().mean().item(), (1 - a**2).mean().item())
        print(f"{scale:5.2f}   {found[scale][0]:15.3f}   {found[scale][1]:10.3f}")

    first = min(scale for scale in SCALES if found[scale][0] > 0.5)
    shares = [found[scale][0] for scale in SCALES]
    assert all(b >= a for a, b in zip(shares, shares[1:], strict=False))  # more and more
    assert found[1.0][0] < 0.01 and found[5.0][1] < 0.2  # Xavier: none; 5x: slope near 0
    gain = nn.init.calculate_gain("tanh")
    print(f"more than half saturated from scale {first:.2f}; "
          f"calculate_gain('tanh') = {gain:.3f} sits below it")  # fmt: skip
    assert gain < first
    print("large initial weights saturate tanh: most units near +-1, slope near 0")


if __name__ == "__main__":
    main()
