"""Lesson 1.1: the four-step training loop on real data, start to finish.

A small network learns to read scikit-learn's 8x8 handwritten digits (bundled with the
library, so nothing is downloaded). Every batch goes through the same four steps:
forward, loss, backward, step. The program prints the batch arithmetic of the lesson
and the average training loss of every epoch, so you can watch the loss fall.

Run it with: python lesson_1_1.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import math

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = 0
N_TRAIN = 1259  # the same training-set size as the app's digits data
BATCH_SIZE = 32
EPOCHS = 20
LR = 0.1


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_splits(device: torch.device) -> tuple[TensorDataset, TensorDataset]:
    """The 1,797 digits cut at random into a training set and a held-out test set."""
    digits = load_digits()
    inputs = torch.tensor(digits.data, dtype=torch.float32)  # [1797, 64]: 8x8 pixels, flat
    labels = torch.tensor(digits.target, dtype=torch.long)  # [1797]: the digit, 0 to 9
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SEED))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    # Scale with the training set's statistics only: the test set must stay unseen.
    # A few corner pixels are blank in every image (std 0); the clamp avoids 0 / 0.
    mean, std = inputs[train].mean(dim=0), inputs[train].std(dim=0).clamp(min=1e-6)
    inputs = (inputs - mean) / std
    return (
        TensorDataset(inputs[train].to(device), labels[train].to(device)),
        TensorDataset(inputs[test].to(device), labels[test].to(device)),
    )


def build_model(device: torch.device) -> nn.Module:
    """64 pixels in, 10 scores out (one per digit), one hidden layer in between."""
    torch.manual_seed(SEED)  # the same starting weights on every run
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> float:
    """One pass over the training set, one update per batch; returns the mean batch loss."""
    total = 0.0
    for inputs, targets in loader:
        optimizer.zero_grad()  # PyTorch adds gradients up: clear the last batch's
        outputs = model(inputs)  # 1. forward: [B, 64] -> [B, 10] scores
        loss = loss_fn(outputs, targets)  # 2. loss: one number for the whole batch
        loss.backward()  # 3. backward: fills .grad of every weight
        optimizer.step()  # 4. step: weight <- weight - lr * grad
        total += loss.item()
    return total / len(loader)


@torch.no_grad()  # measuring only: no graph to build, no weights to change
def loss_and_accuracy(
    model: nn.Module, data: TensorDataset, loss_fn: nn.Module
) -> tuple[float, float]:
    """The loss and the fraction of correct answers over a whole dataset."""
    inputs, labels = data.tensors
    outputs = model(inputs)
    accuracy = (outputs.argmax(dim=1) == labels).float().mean().item()
    return loss_fn(outputs, labels).item(), accuracy


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    train_set, test_set = load_splits(device)
    # A seeded generator makes the shuffled order of every epoch the same on every run.
    loader = DataLoader(
        train_set,
        batch_size=BATCH_SIZE,
        shuffle=True,
        generator=torch.Generator().manual_seed(SEED),
    )
    model = build_model(device)
    loss_fn = nn.CrossEntropyLoss()  # takes raw scores and integer labels
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    n = len(train_set)
    print(f"device: {device.type}")
    print(f"N={n} examples, B={BATCH_SIZE}: {len(loader)} iterations per epoch")
    assert len(loader) == math.ceil(n / BATCH_SIZE)
    start_loss, _ = loss_and_accuracy(model, train_set, loss_fn)
    print(f"loss before training: {start_loss:.3f} (ln 10 = {math.log(10):.3f})")

    for epoch in range(1, EPOCHS + 1):
        train_loss = train_one_epoch(model, loader, loss_fn, optimizer)
        print(f"epoch {epoch:2d}  train_loss {train_loss:.4f}")

    test_loss, test_acc = loss_and_accuracy(model, test_set, loss_fn)
    print(f"{EPOCHS} epochs x {len(loader)} iterations = {EPOCHS * len(loader)} updates")
    print(
        f"test set ({len(test_set)} unseen digits): loss {test_loss:.4f}, accuracy {test_acc:.1%}"
    )


if __name__ == "__main__":
    main()
