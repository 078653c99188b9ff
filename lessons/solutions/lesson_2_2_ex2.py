"""Lesson 2.2, exercise 2: find the layer that no gradient reaches.

Build the course's digits MLP (64 -> 128 -> 64 -> 10, ReLU) twice from the same seed, once
healthy and once with a stray .detach() after the first hidden layer. Run one forward and
one backward on the same batch, print each layer's gradient norm, and write a check that
names every layer whose .grad is None or all zeros.
"""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """fc1 -> ReLU -> fc2 -> ReLU -> out, optionally with the stray detach bug."""

    def __init__(self, stray_detach: bool = False) -> None:
        super().__init__()
        self.fc1, self.act1 = nn.Linear(64, 128), nn.ReLU()
        self.fc2, self.act2 = nn.Linear(128, 64), nn.ReLU()
        self.out = nn.Linear(64, 10)
        self.stray_detach = stray_detach

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h1 = self.act1(self.fc1(x))
        if self.stray_detach:
            h1 = h1.detach()  # BUG: the graph ends here, fc1 is cut off
        h2 = self.act2(self.fc2(h1))
        return self.out(h2)


def gradient_norms(model: nn.Module) -> dict[str, float | None]:
    """Each layer's gradient norm (weight and bias together); None where no .grad exists."""
    norms: dict[str, float | None] = {}
    for name, layer in model.named_children():
        grads = [p.grad for p in layer.parameters()]
        if not grads:
            continue  # an activation: no parameters
        if any(g is None for g in grads):
            norms[name] = None
        else:
            norms[name] = torch.sqrt(sum(g.pow(2).sum() for g in grads)).item()
    return norms


def layers_without_gradient(model: nn.Module) -> list[str]:
    """The layers that backward() did not reach: .grad missing or exactly zero."""
    return [name for name, norm in gradient_norms(model).items() if not norm]


def one_backward(stray_detach: bool, x: torch.Tensor, labels: torch.Tensor) -> nn.Module:
    torch.manual_seed(0)  # both models start from the same weights
    model = MLP(stray_detach)
    nn.functional.cross_entropy(model(x), labels).backward()
    return model


def main() -> None:
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(32, 64, generator=generator)  # a batch of 32 made-up 8x8 images
    labels = torch.randint(0, 10, (32,), generator=generator)
    healthy = one_backward(False, x, labels)
    broken = one_backward(True, x, labels)
    for label, model in (("healthy", healthy), ("stray detach", broken)):
        shown = ", ".join(
            f"{name} {'None' if norm is None else f'{norm:.4f}'}"
            for name, norm in gradient_norms(model).items()
        )
        print(f"{label:<12} gradient norms: {shown}")

    assert layers_without_gradient(healthy) == []
    assert layers_without_gradient(broken) == ["fc1"]
    # The layers after the cut get exactly the gradients they would get anyway.
    for name in ("fc2", "out"):
        assert gradient_norms(broken)[name] == gradient_norms(healthy)[name]
    print(f"no gradient reached: {', '.join(layers_without_gradient(broken))}")


if __name__ == "__main__":
    main()
