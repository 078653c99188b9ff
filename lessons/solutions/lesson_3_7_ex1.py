"""Lesson 3.7, exercise 1: early stopping, watching the right number.

Write EarlyStopping(patience): update(value, model) returns True once `patience` epochs in
a row bring no new lowest value, and keeps a deep copy of the model's state_dict at each
new best. Train the digits MLP on 100 digits for 100 epochs and feed two watchers every
epoch: one on the validation loss, one on the training loss. Report when each would stop,
restore the validation watcher's best weights and check the val loss is the best one.
Finally show why the copy matters: a state_dict kept without copying follows the model.
"""

from __future__ import annotations

import copy
import math

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

SEED, N_TRAIN, N_HELD_BACK = 0, 100, 300
EPOCHS, PATIENCE, LR, BATCH_SIZE = 100, 10, 1e-3, 32


class EarlyStopping:
    """Watches one number per epoch; lower is better."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_value = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stop_epoch: int | None = None  # the epoch it said stop, if it did

    def update(self, epoch: int, value: float, model: nn.Module) -> bool:
        """Record this epoch's value; True when training should stop now."""
        if value < self.best_value:
            self.best_value, self.best_epoch = value, epoch
            self.best_state = copy.deepcopy(model.state_dict())  # a copy, not live tensors
        elif self.stop_epoch is None and epoch - self.best_epoch >= self.patience:
            self.stop_epoch = epoch
        return self.stop_epoch is not None


@torch.no_grad()
def loss_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    loss = F.cross_entropy(model(x), y).item()
    model.train()
    return loss


def main() -> None:
    torch.set_num_threads(1)
    x_np, y_np = load_digits(return_X_y=True)
    x, y = torch.tensor(x_np, dtype=torch.float32) / 16, torch.tensor(y_np)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    train_x, train_y = x[order[:N_TRAIN]], y[order[:N_TRAIN]]
    val_x, val_y = x[order[N_HELD_BACK:]], y[order[N_HELD_BACK:]]
    mean, std = train_x.mean(), train_x.std()
    train_x, val_x = (train_x - mean) / std, (val_x - mean) / std

    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(SEED)
    on_val, on_train = EarlyStopping(PATIENCE), EarlyStopping(PATIENCE)
    not_copied = model.state_dict()  # the trap: these tensors ARE the model's weights
    val_losses = []
    # Train all 100 epochs so both watchers see the whole run; a real loop breaks when
    # its watcher says stop.
    for epoch in range(1, EPOCHS + 1):
        for batch in torch.randperm(N_TRAIN, generator=generator).split(BATCH_SIZE):
            optimizer.zero_grad()
            F.cross_entropy(model(train_x[batch]), train_y[batch]).backward()
            optimizer.step()
        val_losses.append(loss_of(model, val_x, val_y))
        on_val.update(epoch, val_losses[-1], model)
        on_train.update(epoch, loss_of(model, train_x, train_y), model)

    print(f"watching val loss:   best epoch {on_val.best_epoch}, stops at epoch "
          f"{on_val.stop_epoch}, val loss {on_val.best_value:.3f} (at epoch {EPOCHS}: "
          f"{val_losses[-1]:.3f})")  # fmt: skip
    print(f"watching train loss: best epoch {on_train.best_epoch}, stops at epoch "
          f"{on_train.stop_epoch or 'never'}, train loss {on_train.best_value:.4f}")  # fmt: skip
    assert on_val.stop_epoch == on_val.best_epoch + PATIENCE < EPOCHS
    assert on_train.stop_epoch is None  # the training loss kept finding new lows

    # Compare before restoring: load_state_dict copies INTO the very same tensors.
    same = all(torch.equal(not_copied[k], v) for k, v in model.state_dict().items())
    print(f"a state_dict kept without a copy holds the LAST weights, not the best: {same}")
    assert same
    model.load_state_dict(on_val.best_state)
    restored = loss_of(model, val_x, val_y)
    print(f"restored the best weights: val loss {restored:.3f}")
    assert restored == on_val.best_value
    print("early stopping on val loss stops; on train loss it never does")


if __name__ == "__main__":
    main()
