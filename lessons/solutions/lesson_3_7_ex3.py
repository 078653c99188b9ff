"""Lesson 3.7, exercise 3: what augmenting the validation set does to its numbers.

Train the digits MLP on 100 augmented digits (random rotations up to 10 degrees and shifts
of one pixel) for 60 epochs. Then measure validation accuracy once on the clean
validation digits, and ten times on validation digits augmented afresh each time. Compare
the spread and the average with the clean number.
"""

from __future__ import annotations

import math
import statistics

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

SEED, N_TRAIN, N_HELD_BACK = 0, 100, 300
EPOCHS, LR, BATCH_SIZE = 60, 1e-3, 32
MAX_DEGREES, PIXEL = 10.0, 2 / 8  # one pixel in affine_grid's units: 8 pixels span -1 to 1
DRAWS = 10


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random rotation (+-10 degrees) and a shift of -1, 0 or +1 pixel per image."""
    n = len(images)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(MAX_DEGREES)
    moves = torch.randint(-1, 2, (n, 2), generator=generator) * PIXEL
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, moves[:, 0]], 1), torch.stack([sin, cos, moves[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False)


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    correct = (model(images).argmax(dim=1) == labels).float().mean().item()
    model.train()
    return correct


def main() -> None:
    torch.set_num_threads(1)
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16
    labels = torch.tensor(digits.target)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SEED))
    train_x, train_y = images[order[:N_TRAIN]], labels[order[:N_TRAIN]]
    val_x, val_y = images[order[N_HELD_BACK:]], labels[order[N_HELD_BACK:]]
    mean, std = train_x.mean(), train_x.std()

    torch.manual_seed(SEED)
    model = nn.Sequential(  # the course's digits MLP, 64 -> 128 -> 64 -> 10
        nn.Flatten(),
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        for batch in torch.randperm(N_TRAIN, generator=generator).split(BATCH_SIZE):
            optimizer.zero_grad()
            inputs = (augment(train_x[batch], generator) - mean) / std  # training only
            F.cross_entropy(model(inputs), train_y[batch]).backward()
            optimizer.step()

    clean = [accuracy(model, (val_x - mean) / std, val_y) for _ in range(2)]
    draws = [accuracy(model, (augment(val_x, generator) - mean) / std, val_y) for _ in range(DRAWS)]
    print(f"clean validation: {clean[0]:.3f} both times")
    print(f"augmented validation, {DRAWS} draws: {min(draws):.3f} to {max(draws):.3f}, "
          f"mean {statistics.mean(draws):.3f}")  # fmt: skip
    assert clean[0] == clean[1]  # the same model on the same data: the same number
    assert max(draws) - min(draws) > 0.005  # noisy: each draw is a different exam
    assert statistics.mean(draws) < clean[0]  # pessimistic: harder than the real digits
    print("augmented validation is noisy and pessimistic")


if __name__ == "__main__":
    main()
