"""Lesson 3.5, exercise 2: the missing division is a learning rate K times larger.

Train the same model for 20 steps, each accumulated over K = 4 micro-batches, three ways
with SGD (momentum 0.9): loss / K at lr, not divided at lr, and loss / K at K x lr. The
second and third must end with the same weights: the bug IS a learning-rate change. Then
repeat with Adam, where dividing or not gives the same steps, because Adam divides each
gradient by its own running size.
"""

from __future__ import annotations

import torch
from torch import nn

K, STEPS, MICRO = 4, 20, 32
LR = 0.05


def make_model() -> nn.Sequential:
    torch.manual_seed(0)  # every run starts from the same weights
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def train(
    x: torch.Tensor, y: torch.Tensor, optimizer_name: str, lr: float, divide: bool
) -> torch.Tensor:
    """STEPS optimizer steps of K micro-batches; the final weights as one vector."""
    model = make_model()
    if optimizer_name == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for batch in torch.arange(len(y)).split(K * MICRO):
        optimizer.zero_grad()
        for micro in batch.split(MICRO):
            loss = nn.functional.cross_entropy(model(x[micro]), y[micro])
            (loss / K if divide else loss).backward()
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def main() -> None:
    torch.set_num_threads(1)  # work this small runs faster on one thread
    torch.manual_seed(1)
    n = STEPS * K * MICRO
    x, y = torch.randn(n, 64), torch.randint(0, 10, (n,))

    divided = train(x, y, "sgd", LR, divide=True)
    undivided = train(x, y, "sgd", LR, divide=False)
    faster = train(x, y, "sgd", K * LR, divide=True)
    same = (undivided - faster).abs().max().item()
    apart = (undivided - divided).abs().max().item()
    print(f"SGD, not divided at lr {LR} vs loss / K at lr {K * LR}: weights differ by {same:.1e}")
    print(f"SGD, not divided vs loss / K, both at lr {LR}: weights differ by {apart:.1e}")
    assert same < 1e-6 and apart > 1e-2

    start = torch.cat([p.detach().flatten() for p in make_model().parameters()])
    adam = train(x, y, "adam", 1e-3, True)
    moved = (adam - start).abs().max().item()
    adam_apart = (adam - train(x, y, "adam", 1e-3, False)).abs().max().item()
    print(f"Adam at lr 1e-3: the weights moved by up to {moved:.1e};")
    print(f"  not divided vs loss / K: they differ by {adam_apart:.1e}")
    assert adam_apart < 0.01 * moved  # under 1% of how far training moved them
    print(f"SGD: not dividing = lr x {K}; Adam: almost the same steps")


if __name__ == "__main__":
    main()
