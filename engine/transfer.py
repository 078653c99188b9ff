"""Transfer learning on the digits: pretrain on 0-4, then learn 5-9 from a few examples.

The pretrained network is a trunk (the course's MLP 64 -> 128 -> 64 without its output
layer) and a 5-way head. For the new task the head is thrown away, a fresh 5-way head is
put on, and the network is trained one of three ways on `shots` examples per new digit:

- "frozen": the trunk's weights never change; only the new head learns.
- "unfrozen": everything learns, the trunk ten times more slowly than the head, so the
  few examples adjust the pretrained features instead of overwriting them.
- "scratch": the same architecture from fresh random weights: what the few examples
  teach on their own, the yardstick transfer is measured against.

After every epoch the network is measured on all validation examples of digits 5-9. The
digits come from `load_data`, so the standardisation and the split are the app's own.
"""

from __future__ import annotations

import copy
import functools
from collections import OrderedDict
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from engine.config import NUMERIC_BOUNDS, ConfigError, default_config
from engine.data import load_data, make_loader
from engine.models import mlp
from engine.step import Split, evaluate, train_step

MODES = ("frozen", "unfrozen", "scratch")
OLD_DIGITS = (0, 1, 2, 3, 4)  # the pretraining task
NEW_DIGITS = (5, 6, 7, 8, 9)  # the new task, labels 0-4
HIDDEN = (128, 64)  # the trunk: 64 pixels -> 128 -> 64 features
SHOTS_RANGE = (1, 50)  # the train split holds 122-128 images of each digit 5-9
PRETRAIN_EPOCHS = 10
PRETRAIN_LR = 1e-3
PRETRAIN_BATCH_SIZE = 32
FINE_TUNE_EPOCHS = 50
# Adam at 1e-3 leaves a new head on frozen features far from fitting even its few
# training examples within 50 epochs (training loss ~1.3); 1e-2 lets every mode converge.
HEAD_LR = 1e-2
TRUNK_LR = HEAD_LR / 10  # unfrozen: small steps keep what pretraining learned


@dataclass
class FineTuneRun:
    """One fine-tuning run: the network after its last epoch, its optimizer and its curve.

    `curve` has one row per epoch: epoch, val_acc, val_loss (digits 5-9 as labels 0-4).
    """

    mode: str
    network: nn.Sequential
    optimizer: torch.optim.Optimizer
    curve: pd.DataFrame


def task_split(split: Split, digits: tuple[int, ...]) -> Split:
    """The examples of some consecutive digits only, relabelled 0, 1, 2, ..."""
    keep = torch.isin(split.targets, torch.tensor(digits))
    return Split(split.inputs[keep], split.targets[keep] - digits[0])


def network(n_out: int = 5) -> nn.Sequential:
    """The course's MLP as two named parts: `trunk` (flatten, fc1, act1, fc2, act2), `head`."""
    layers = mlp(64, HIDDEN, n_out)
    return nn.Sequential(OrderedDict(trunk=layers[:-1], head=layers.out))


def pretrain(seed: int = 0, epochs: int = PRETRAIN_EPOCHS) -> nn.Sequential:
    """A network trained on the train split's digits 0-4 (Adam, lr 1e-3, batch 32).

    Pretraining is the slow part, so it runs once per (seed, epochs) and every caller
    gets a deep copy of its own to change. Raises ConfigError (a ValueError) for epochs
    outside 1-200.
    """
    _check_epochs(epochs)
    return copy.deepcopy(_pretrained(seed, epochs))


@functools.lru_cache(maxsize=8)
def _pretrained(seed: int, epochs: int) -> nn.Sequential:
    old_task = task_split(load_data(default_config("digits")).train, OLD_DIGITS)
    torch.manual_seed(seed)
    model = network(len(OLD_DIGITS))
    optimizer = torch.optim.Adam(model.parameters(), lr=PRETRAIN_LR)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for inputs, targets in make_loader(old_task, PRETRAIN_BATCH_SIZE, True, generator):
            train_step(model, inputs, targets, loss_fn, optimizer)
    return model


def few_shots(shots: int, seed: int = 0) -> Split:
    """`shots` train-split examples of each digit 5-9 (labels 0-4), drawn with the seed.

    Raises ConfigError (a ValueError) unless shots is an integer from 1 to 50.
    """
    _check_shots(shots)
    new_task = task_split(load_data(default_config("digits")).train, NEW_DIGITS)
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(len(NEW_DIGITS)):
        positions = torch.nonzero(new_task.targets == label).flatten()
        chosen.append(positions[torch.randperm(len(positions), generator=generator)[:shots]])
    picked = torch.cat(chosen)
    return Split(new_task.inputs[picked], new_task.targets[picked])


def new_task_network(pretrained: nn.Module, mode: str, seed: int = 0) -> nn.Sequential:
    """The network fine-tuning starts from: a copy of the pretrained trunk, a fresh head.

    "frozen" switches the trunk's gradients off; "scratch" ignores the pretrained weights
    and starts every layer from random ones. The same seed gives the same new head, and
    `pretrained` itself is never changed. Raises ConfigError for an unknown mode.
    """
    _check_mode(mode)
    torch.manual_seed(seed)
    fresh = network(len(NEW_DIGITS))
    if mode == "scratch":
        return fresh
    trunk = copy.deepcopy(pretrained.get_submodule("trunk"))
    if mode == "frozen":
        trunk.requires_grad_(False)
    return nn.Sequential(OrderedDict(trunk=trunk, head=fresh.head))


def fine_tune_optimizer(model: nn.Sequential, mode: str) -> torch.optim.Optimizer:
    """Adam for the new task: the head alone (frozen), two learning rates (unfrozen),
    or one learning rate for every layer (scratch). Raises ConfigError for an unknown mode."""
    _check_mode(mode)
    if mode == "frozen":  # the trunk is not even handed to the optimizer
        return torch.optim.Adam(model.head.parameters(), lr=HEAD_LR)
    if mode == "unfrozen":  # a parameter group per learning rate
        groups = [
            {"params": list(model.trunk.parameters()), "lr": TRUNK_LR},
            {"params": list(model.head.parameters()), "lr": HEAD_LR},
        ]
        return torch.optim.Adam(groups)
    return torch.optim.Adam(model.parameters(), lr=HEAD_LR)


def fine_tune(
    pretrained: nn.Module,
    mode: str,
    shots: int = 5,
    seed: int = 0,
    epochs: int = FINE_TUNE_EPOCHS,
) -> FineTuneRun:
    """Train a fresh head (and, unless frozen, the trunk) on a few examples of digits 5-9.

    `pretrained` comes from `pretrain` and is not changed. The 5 x shots examples fit in
    one batch, so an epoch is one step on all of them, followed by one evaluation on every
    validation example of digits 5-9. Raises ConfigError (a ValueError) for an unknown
    mode, shots outside 1-50 or epochs outside 1-200.
    """
    _check_mode(mode)
    _check_epochs(epochs)
    train = few_shots(shots, seed)
    val = task_split(load_data(default_config("digits")).val, NEW_DIGITS)
    model = new_task_network(pretrained, mode, seed)
    optimizer = fine_tune_optimizer(model, mode)
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for epoch in range(1, epochs + 1):
        train_step(model, train.inputs, train.targets, loss_fn, optimizer)
        measured = evaluate(model, val, loss_fn)
        rows.append({"epoch": epoch, "val_acc": measured.acc, "val_loss": measured.loss})
    return FineTuneRun(mode, model, optimizer, pd.DataFrame(rows))


def transfer_comparison(
    shots: int = 5, seed: int = 0, epochs: int = FINE_TUNE_EPOCHS
) -> pd.DataFrame:
    """The three modes on the same few examples, one row per (mode, epoch).

    Columns: mode, epoch, val_acc, val_loss. Raises ConfigError like `fine_tune`.
    """
    _check_shots(shots)  # before the pretraining, which takes a while
    _check_epochs(epochs)
    pretrained = pretrain(seed)
    curves = [fine_tune(pretrained, mode, shots, seed, epochs).curve for mode in MODES]
    table = pd.concat(
        [curve.assign(mode=mode) for mode, curve in zip(MODES, curves, strict=True)],
        ignore_index=True,
    )
    return table[["mode", "epoch", "val_acc", "val_loss"]]


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError("mode", mode, "one of " + ", ".join(MODES))


def _check_shots(shots: int) -> None:
    low, high = SHOTS_RANGE
    if isinstance(shots, bool) or not isinstance(shots, int) or not low <= shots <= high:
        raise ConfigError("shots", shots, f"an integer from {low} to {high} (examples per digit)")


def _check_epochs(epochs: int) -> None:
    low, high = NUMERIC_BOUNDS["epochs"]
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not low <= epochs <= high:
        raise ConfigError("epochs", epochs, f"an integer from {low:g} to {high:g}")
