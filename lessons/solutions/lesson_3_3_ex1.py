"""Lesson 3.3, exercise 1: find Kaiming's standard deviation for ReLU by measuring it.

Draw each layer's weights from a normal distribution with std = gain / sqrt(fan_in) and send
1,000 random inputs through 20 ReLU layers of 256 units. With gain 1, measure two numbers:
the share of a layer's variance that survives the ReLU, E[relu(z)^2] / Var(z), and how much
the variance changes from one layer to the next. The gain that keeps the variance constant
is 1 / sqrt(that per-layer factor): check it comes out near sqrt(2), that it holds the
variance steady through all 20 layers, and that nn.init.kaiming_normal_ draws that std.
"""

from __future__ import annotations

import math

import torch
from torch import nn

WIDTH, DEPTH, BATCH = 256, 20, 1000


def variances(gain: float) -> tuple[list[float], float]:
    """Each layer's pre-activation variance Var(z), and the average E[relu(z)^2] / Var(z)."""
    torch.manual_seed(0)
    h = torch.randn(BATCH, WIDTH)  # inputs with variance 1
    found, kept = [], []
    for _ in range(DEPTH):
        weight = torch.randn(WIDTH, WIDTH) * gain / math.sqrt(WIDTH)  # std = gain / sqrt(fan_in)
        z = h @ weight.T
        h = torch.relu(z)
        found.append(z.var().item())
        kept.append(h.pow(2).mean().item() / z.var().item())
    return found, sum(kept) / len(kept)


def main() -> None:
    torch.set_num_threads(1)
    plain, kept = variances(1.0)
    per_layer = (plain[-1] / plain[0]) ** (1 / (DEPTH - 1))  # the average factor per layer
    print(f"gain 1: E[relu(z)^2] / Var(z) = {kept:.3f}; variance x {per_layer:.3f} per layer,")
    print(f"        from {plain[0]:.3f} at layer 1 to {plain[-1]:.2e} at layer {DEPTH}")
    assert abs(kept - 0.5) < 0.02 and abs(per_layer - 0.5) < 0.03  # ReLU keeps half

    gain = 1 / math.sqrt(per_layer)  # Var x gain^2 * per_layer = Var: the factor becomes 1
    print(f"the gain that makes the factor 1: {gain:.3f}   (sqrt(2) = {math.sqrt(2):.3f})")
    assert abs(gain - math.sqrt(2)) < 0.03

    kaiming, _ = variances(math.sqrt(2))
    print(f"gain sqrt(2): variance {kaiming[0]:.3f} at layer 1, {kaiming[-1]:.3f} at layer {DEPTH}")
    assert 0.5 < kaiming[-1] / kaiming[0] < 2  # steady; gain 1 lost a factor of about 700,000

    weight = torch.empty(WIDTH, WIDTH)
    nn.init.kaiming_normal_(weight, nonlinearity="relu")
    print(f"nn.init.kaiming_normal_: std {weight.std().item():.4f}, "
          f"sqrt(2 / fan_in) = {math.sqrt(2 / WIDTH):.4f}")  # fmt: skip
    assert abs(weight.std().item() - math.sqrt(2 / WIDTH)) < 0.002
    print("Kaiming's std sqrt(2 / fan_in) keeps the variance steady through 20 ReLU layers")


if __name__ == "__main__":
    main()
