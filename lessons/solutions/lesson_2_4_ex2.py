"""Lesson 2.4, exercise 2: find dead ReLUs with a forward hook, then let the gradient through.

Build the digits MLP (64 -> 128 -> 64 -> 10) and set every hidden bias to -3. A forward
hook on each activation layer records which units ever output something other than 0.
Count the dead units over all 1,797 digits, check that one backward pass leaves every
hidden weight with a gradient of exactly 0, and that 20 Adam steps leave those weights
exactly where they were. Then swap each ReLU for LeakyReLU(0.01), keeping the same
weights, and check that no unit is silent and every layer gets a gradient again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn

Hook = Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]


def standardised_digits() -> tuple[torch.Tensor, torch.Tensor]:
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32)
    std = x.std(dim=0)
    x = (x - x.mean(dim=0)) / torch.where(std > 0, std, torch.ones_like(std))
    return x, torch.tensor(digits.target)


def make_mlp(activation: type[nn.Module]) -> nn.Sequential:
    """The digits MLP with every hidden bias at -3 (the same weights for any activation)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(64, 128),
            act1=activation(),
            fc2=nn.Linear(128, 64),
            act2=activation(),
            out=nn.Linear(64, 10),
        )
    )
    with torch.no_grad():
        model.fc1.bias.fill_(-3.0)
        model.fc2.bias.fill_(-3.0)
    return model


def track_firing(fired: dict[str, torch.Tensor], name: str) -> Hook:
    """A hook that marks every unit that gave a non-zero output for any example so far."""

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        now = (output.detach() != 0).any(dim=0)
        fired[name] = fired[name] | now if name in fired else now

    return hook


def dead_units(model: nn.Sequential, x: torch.Tensor) -> dict[str, tuple[int, int]]:
    """(dead, total) per activation layer over all of x: units that were 0 for every example."""
    fired: dict[str, torch.Tensor] = {}
    handles = [
        layer.register_forward_hook(track_firing(fired, name))
        for name, layer in model.named_children()
        if name.startswith("act")
    ]
    with torch.no_grad():
        for batch in x.split(32):
            model(batch)
    for handle in handles:
        handle.remove()
    return {name: (int((~alive).sum()), alive.numel()) for name, alive in fired.items()}


def hidden_gradients(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """||dL/dW|| of fc1 and fc2 after one backward pass over all of x."""
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    return [model.fc1.weight.grad.norm().item(), model.fc2.weight.grad.norm().item()]


def hidden_weights_move(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> bool:
    """Take 20 Adam steps on batches of 32; did fc1 or fc2 change at all?"""
    before = [model.fc1.weight.clone(), model.fc2.weight.clone()]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for batch in torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:640].split(32):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        optimizer.step()
    after = [model.fc1.weight, model.fc2.weight]
    return any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def main() -> None:
    torch.set_num_threads(1)
    x, y = standardised_digits()
    for activation in (nn.ReLU, nn.LeakyReLU):
        model = make_mlp(activation)
        dead = dead_units(model, x)
        grads = hidden_gradients(model, x, y)
        moved = hidden_weights_move(model, x, y)
        print(
            f"{activation.__name__:<9} dead {dead}  ||dL/dW|| fc1 {grads[0]:.3g} "
            f"fc2 {grads[1]:.3g}  hidden weights moved in 20 Adam steps: {moved}"
        )
        if activation is nn.ReLU:
            assert dead["act2"] == (64, 64) and dead["act1"][0] > 0
            assert grads == [0.0, 0.0] and not moved
        else:
            assert dead["act1"][0] == dead["act2"][0] == 0  # negative inputs give 0.01 z, not 0
            assert min(grads) > 0 and moved
    print("dead units get no gradient and never change; LeakyReLU lets the gradient through")


if __name__ == "__main__":
    main()
