"""Lesson 2.2, exercise 3: does the loss curve notice a stray .detach()?

Train the course's digits MLP (64 -> 128 -> 64 -> 10, ReLU, Adam lr 1e-3, batch 32) for
5 epochs on scikit-learn's 8x8 digits, twice from the same seed: healthy, and with a stray
.detach() after the first hidden layer. Print both loss curves, the validation accuracy,
and how far fc1's weights moved from where they started.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

EPOCHS, BATCH, LR, SEED = 5, 32, 1e-3, 0


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
            h1 = h1.detach()  # BUG: no gradient flows back into fc1
        h2 = self.act2(self.fc2(h1))
        return self.out(h2)


def digits() -> tuple[torch.Tensor, ...]:
    """Train and validation splits of the 1,797 digits, pixels scaled to [0, 1]."""
    images, labels = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        images / 16.0, labels, test_size=0.3, random_state=SEED, stratify=labels
    )
    return (
        torch.tensor(x_train, dtype=torch.float32),
        torch.tensor(y_train, dtype=torch.long),
        torch.tensor(x_val, dtype=torch.float32),
        torch.tensor(y_val, dtype=torch.long),
    )


def train(stray_detach: bool, data: tuple[torch.Tensor, ...]) -> tuple[list[float], float, float]:
    """(mean train loss per epoch, validation accuracy, largest change of any fc1 weight)."""
    x_train, y_train, x_val, y_val = data
    torch.manual_seed(SEED)  # the same starting weights and batch order for both runs
    model = MLP(stray_detach)
    start = model.fc1.weight.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    losses = []
    for _ in range(EPOCHS):
        total, order = 0.0, torch.randperm(len(x_train))
        for batch in order.split(BATCH):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()  # skips every parameter whose .grad is None
            total += loss.item() * len(batch)
        losses.append(total / len(x_train))
    with torch.no_grad():
        accuracy = (model(x_val).argmax(dim=1) == y_val).float().mean().item()
    moved = (model.fc1.weight.detach() - start).abs().max().item()
    return losses, accuracy, moved


def main() -> None:
    torch.set_num_threads(1)
    data = digits()
    runs = {"healthy": train(False, data), "stray detach": train(True, data)}
    for label, (losses, accuracy, moved) in runs.items():
        curve = " ".join(f"{loss:.3f}" for loss in losses)
        print(f"{label:<12} train loss {curve}  val acc {accuracy:.1%}  fc1 moved {moved:.4f}")

    healthy, broken = runs["healthy"], runs["stray detach"]
    assert healthy[2] > 0.01  # healthy fc1 learns
    assert broken[2] == 0.0  # the broken fc1 is exactly where it started
    assert broken[0][-1] < 0.5 * broken[0][0]  # and still the loss fell
    print("check passed: fc1 kept its starting weights while the loss fell")


if __name__ == "__main__":
    main()
