"""Lesson 2.4, exercise 3: the same net, three activations, three epochs of plain SGD.

Train the digits MLP (64 -> 128 -> 64 -> 10, standardised inputs) with sigmoid, tanh and
ReLU: the same starting weights, the same batches of 32 in the same order, SGD with
learning rate 0.05, 3 epochs. Print the loss on all 1,797 digits after every epoch and the
first layer's gradient norm at the start. Check that the sigmoid net is still close to
ln 10 = 2.303, the loss of an even guess, while tanh and ReLU have fallen far below it.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from sklearn.datasets import load_digits
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
EPOCHS, LR, BATCH_SIZE = 3, 0.05, 32


def standardised_digits() -> tuple[torch.Tensor, torch.Tensor]:
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32)
    std = x.std(dim=0)
    x = (x - x.mean(dim=0)) / torch.where(std > 0, std, torch.ones_like(std))
    return x, torch.tensor(digits.target)


def make_mlp(activation: type[nn.Module]) -> nn.Sequential:
    torch.manual_seed(0)  # the same starting weights for every activation
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(64, 128),
            act1=activation(),
            fc2=nn.Linear(128, 64),
            act2=activation(),
            out=nn.Linear(64, 10),
        )
    )


def train(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> tuple[float, list[float]]:
    """(first layer's gradient norm at the start, loss on all of x after each epoch)."""
    nn.functional.cross_entropy(model(x), y).backward()
    first_grad = model.fc1.weight.grad.norm().item()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(0)  # the same batches for every activation
    losses = []
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(x), generator=generator).split(BATCH_SIZE):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            losses.append(nn.functional.cross_entropy(model(x), y).item())
    return first_grad, losses


def main() -> None:
    torch.set_num_threads(1)
    x, y = standardised_digits()
    results = {name: train(make_mlp(layer), x, y) for name, layer in ACTIVATIONS.items()}
    for name, (first_grad, losses) in results.items():
        shown = "  ".join(f"{loss:.4f}" for loss in losses)
        print(f"{name:<8} ||dL/dW1|| at start {first_grad:.4f}  loss after each epoch {shown}")

    sigmoid, tanh, relu = (results[name][1][-1] for name in ACTIVATIONS)
    assert sigmoid > 0.95 * math.log(10)  # still close to an even guess over 10 digits
    assert tanh < 0.25 * sigmoid and relu < 0.25 * sigmoid
    assert results["sigmoid"][0] < 0.2 * min(results["tanh"][0], results["relu"][0])
    print("with the same steps, sigmoid learns slowest: its loss has barely left ln 10")


if __name__ == "__main__":
    main()
