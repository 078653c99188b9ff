"""Lesson 2.6: overfitting on 100 handwritten digits, and what weight decay and dropout do.

Part 1 puts a tensor of ones through dropout in train mode and in eval mode.
Part 2 trains the course's digits MLP (64 -> 128 -> 64 -> 10, Adam 1e-3, batch 32) on only
100 training digits, three ways: no regularisation, weight decay, dropout. It tracks the
weights' total L2 norm every epoch and prints, for each run, train and validation accuracy,
the gap between them, and the final norm. A fourth run, for scale, trains with no
regularisation on 300 digits and sees as many examples (20 epochs of 300, not 60 of 100).

Run it with: python lesson_2_6.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
N_SMALL, N_MORE = 100, 300  # training examples: the small set, and three times as many
EPOCHS = 60  # on 100 digits: 4 batches per epoch, 240 updates in all
LR, BATCH_SIZE = 1e-3, 32
WEIGHT_DECAY = 0.01  # lambda, as Adam's weight_decay argument
DROPOUT = 0.5  # p: the chance that each hidden unit is zeroed in train mode
SHOW_EVERY = 10  # epochs between the printed norms


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def show_dropout(p: float) -> None:
    """Part 1: what nn.Dropout does to 10,000 ones in train mode and in eval mode."""
    drop = nn.Dropout(p)
    ones = torch.ones(10_000)
    drop.train()  # a fresh nn.Module starts in train mode; said here to be explicit
    out = drop(ones)
    zeroed = (out == 0).float().mean().item()
    survivors = out[out != 0].unique().tolist()
    print(f"dropout p={p} in train mode, on 10,000 ones:")
    print(f"  first ten outputs: {out[:10].tolist()}")
    print(f"  zeroed: {zeroed:.4f}  survivors are all {survivors}  mean: {out.mean().item():.4f}")
    drop.eval()
    print(f"  eval mode: output equals input exactly: {torch.equal(drop(ones), ones)}")


def split_digits(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All 1,797 digits (inputs [1797, 64], labels) and a fixed random order of them."""
    digits = load_digits()  # bundled with scikit-learn: no download
    x = torch.tensor(digits.data, dtype=torch.float32, device=device)
    y = torch.tensor(digits.target, dtype=torch.long, device=device)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    return x, y, order.to(device)


def standardise(train_x: torch.Tensor, val_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale each pixel with the TRAINING set's mean and std: validation stays unseen."""
    mean, std = train_x.mean(dim=0), train_x.std(dim=0)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))  # a pixel that is always blank
    return (train_x - mean) / std, (val_x - mean) / std


def make_mlp(dropout: float) -> nn.Sequential:
    """The course's digits MLP; with dropout > 0, a Dropout after each hidden ReLU."""
    layers: list[nn.Module] = []
    for n_in, n_out in ((64, 128), (128, 64)):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))  # holds no weights: all runs start the same
    layers.append(nn.Linear(64, 10))
    return nn.Sequential(*layers)


def weight_norm(model: nn.Module) -> float:
    """||theta||: the L2 norm of every weight and bias, laid end to end as one vector."""
    return torch.sqrt(sum(p.detach().pow(2).sum() for p in model.parameters())).item()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of correct predictions, measured in eval mode (dropout off)."""
    model.eval()
    correct = (model(x).argmax(dim=1) == y).float().mean().item()
    model.train()
    return correct


@dataclass
class Run:
    """What one training run ended with."""

    name: str
    train_acc: float
    val_acc: float
    gap: float  # train_acc - val_acc
    norms: list[float]  # the weights' norm before training, then after every epoch


def train_run(
    name: str,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    weight_decay: float,
    dropout: float,
    epochs: int,
    device: torch.device,
) -> Run:
    """Train one fresh MLP with Adam; the same seed gives every run the same start."""
    train_x, train_y, val_x, val_y = data
    torch.manual_seed(SEED)
    model = make_mlp(dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(SEED)  # the same batch order for every run
    norms = [weight_norm(model)]
    for _ in range(epochs):
        order = torch.randperm(len(train_y), generator=generator).to(device)
        for batch in order.split(BATCH_SIZE):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
            loss.backward()
            optimizer.step()  # Adam adds weight_decay * theta to each gradient first
        norms.append(weight_norm(model))
    train_acc, val_acc = accuracy(model, train_x, train_y), accuracy(model, val_x, val_y)
    return Run(name, train_acc, val_acc, train_acc - val_acc, norms)


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    print(f"device: {device.type}")
    torch.manual_seed(SEED)
    show_dropout(DROPOUT)

    x, y, order = split_digits(device)
    val_idx = order[N_MORE:]  # never trained on by any run below
    print(f"\n{len(y)} digits: validation = {len(val_idx)} of them, never trained on")
    runs = []
    for name, n_train, decay, dropout, epochs in (
        ("none", N_SMALL, 0.0, 0.0, EPOCHS),
        (f"weight decay {WEIGHT_DECAY}", N_SMALL, WEIGHT_DECAY, 0.0, EPOCHS),
        (f"dropout {DROPOUT}", N_SMALL, 0.0, DROPOUT, EPOCHS),
        (f"none, {N_MORE} digits", N_MORE, 0.0, 0.0, EPOCHS * N_SMALL // N_MORE),  # 20
    ):
        train_idx = order[:n_train]
        train_x, val_x = standardise(x[train_idx], x[val_idx])
        data = (train_x, y[train_idx], val_x, y[val_idx])
        runs.append(train_run(name, data, decay, dropout, epochs, device))

    small = runs[:3]
    print(f"\nweights' L2 norm by epoch, {N_SMALL} training digits:")
    print("epoch " + "".join(f"{run.name:>18}" for run in small))
    for epoch in range(0, EPOCHS + 1, SHOW_EVERY):
        print(f"{epoch:5d} " + "".join(f"{run.norms[epoch]:18.2f}" for run in small))

    seen = EPOCHS * N_SMALL  # training examples processed by each run, the last one too
    print(f"\nafter {seen} examples seen ({EPOCHS} x {N_SMALL}, or {seen // N_MORE} x {N_MORE}):")
    print(f"{'run':<20} {'train acc':>9} {'val acc':>8} {'gap':>6} {'norm':>6}")
    for run in runs:
        print(
            f"{run.name:<20} {run.train_acc:9.3f} {run.val_acc:8.3f} "
            f"{run.gap:6.3f} {run.norms[-1]:6.2f}"
        )


if __name__ == "__main__":
    main()
