"""Lesson 2.7, exercise 2: your own Dataset, DataLoader and MLP, and what registration buys.

Write WaveDataset (a torch Dataset that makes the wave points) and an MLP whose hidden
layers are built in a loop. Keep them once in nn.ModuleList and once in a plain Python
list, and check:
- the DataLoader cuts 420 points into ceil(420 / 32) = 14 batches, the last of 4;
- nn.ModuleList registers all 4353 parameters; the plain list only the output layer's 65;
- an epoch of training leaves the plain list's hidden layers exactly where they started;
- the registered MLP ends far below the best straight line after 20 epochs.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

LINE_FLOOR = 0.448  # the lowest MSE any straight line reaches on this curve (lesson 2.7)


class WaveDataset(Dataset):
    """n points of y = sin(2x) + 0.3x + noise (std 0.1), x in [-3, 3] scaled by 1/sqrt(3)."""

    def __init__(self, n: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        x = 6 * torch.rand(n, 1, generator=generator) - 3
        self.y = torch.sin(2 * x) + 0.3 * x + 0.1 * torch.randn(n, 1, generator=generator)
        self.x = x / math.sqrt(3)  # uniform on [-3, 3] has std sqrt(3): this standardises it

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]


class MLP(nn.Module):
    def __init__(self, widths: list[int], registered: bool = True) -> None:
        super().__init__()
        torch.manual_seed(0)
        layers = [nn.Linear(a, b) for a, b in zip([1, *widths[:-1]], widths, strict=True)]
        # nn.ModuleList tells the model "these are mine"; a plain list hides them.
        self.hidden = nn.ModuleList(layers) if registered else layers
        self.out = nn.Linear(widths[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return self.out(x)


def train(model: MLP, loader: DataLoader, epochs: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(inputs), targets)
            loss.backward()
            optimizer.step()


def main() -> None:
    torch.set_num_threads(1)
    train_set, val_set = WaveDataset(420, seed=1), WaveDataset(90, seed=2)
    generator = torch.Generator().manual_seed(0)
    loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=generator)
    sizes = [len(targets) for _, targets in loader]
    print(f"{len(loader)} batches per epoch, the last of {sizes[-1]}")
    assert len(loader) == math.ceil(420 / 32) == 14 and sizes[-1] == 4

    registered, plain = MLP([64, 64]), MLP([64, 64], registered=False)
    counts = [sum(p.numel() for p in m.parameters()) for m in (registered, plain)]
    print(f"parameters the optimizer sees: ModuleList {counts[0]}, plain list {counts[1]}")
    assert counts == [4353, 65]

    before = [layer.weight.clone() for layer in plain.hidden]
    train(plain, loader, epochs=1)
    frozen = all(
        torch.equal(b, layer.weight) for b, layer in zip(before, plain.hidden, strict=True)
    )
    print(f"plain list: hidden weights unchanged after an epoch: {frozen}")
    assert frozen

    train(registered, loader, epochs=20)
    with torch.no_grad():
        val_mse = nn.functional.mse_loss(registered(val_set.x), val_set.y).item()
    print(f"ModuleList MLP after 20 epochs: val MSE {val_mse:.4f} (best line: {LINE_FLOOR})")
    assert val_mse < LINE_FLOOR / 4
    print("only registered layers train: the plain list's layers never moved")


if __name__ == "__main__":
    main()
