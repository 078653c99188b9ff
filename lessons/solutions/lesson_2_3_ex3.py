"""Lesson 2.3, exercise 3: find the layers the optimizer cannot see.

Build the course's digits MLP (64 -> 128 -> 64 -> 10) with its hidden layers in a plain
Python list, and once with nn.ModuleList. Compare what model.parameters() holds with what
the layer sizes say it should (n_in * n_out + n_out per layer), train each for a few steps,
and check which layers actually changed.
"""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (64, 128, 64, 10)  # inputs, two hidden layers, classes


class MLP(nn.Module):
    def __init__(self, registered: bool) -> None:
        super().__init__()
        pairs = list(zip(WIDTHS[:-2], WIDTHS[1:-1], strict=True))  # (64, 128), (128, 64)
        layers = [nn.Linear(a, b) for a, b in pairs]
        self.hidden = nn.ModuleList(layers) if registered else layers  # the one difference
        self.out = nn.Linear(WIDTHS[-2], WIDTHS[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.out(x)


def expected_count() -> int:
    """What the layer sizes say: n_in * n_out weights plus n_out biases per layer."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(WIDTHS, WIDTHS[1:], strict=False))


def layers_that_moved(model: MLP, steps: int = 20) -> list[bool]:
    """Train for a few SGD steps on random data; did each layer's weight change?"""
    layers = [*model.hidden, model.out]
    before = [layer.weight.detach().clone() for layer in layers]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(32, WIDTHS[0], generator=generator)
    y = torch.randint(0, WIDTHS[-1], (32,), generator=generator)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return [not torch.equal(layer.weight, old) for layer, old in zip(layers, before, strict=True)]


def main() -> None:
    expected = expected_count()
    print(f"the layer sizes say: {expected:,} weights")
    counts, moved = {}, {}
    for registered in (False, True):
        torch.manual_seed(0)
        model = MLP(registered)
        name = "nn.ModuleList" if registered else "plain list"
        counts[name] = sum(p.numel() for p in model.parameters())
        moved[name] = layers_that_moved(model)
        print(f"{name:<13}: parameters() holds {counts[name]:>6,}; layers moved {moved[name]}")

    assert counts["plain list"] == 64 * 10 + 10  # only the output layer
    assert moved["plain list"] == [False, False, True]  # the hidden layers never change
    assert counts["nn.ModuleList"] == expected
    assert all(moved["nn.ModuleList"])
    print("nn.ModuleList registers every layer; the plain list hid both hidden layers")


if __name__ == "__main__":
    main()
