"""Lesson 1.6: the whole Module 1 loop in one program, checked as it runs.

Linear regression on 200 points near y = 2x - 1, split into 150 for training and 50 held
out for validation. Shuffled mini-batches of 16, nn.Linear(1, 1), MSE, SGD at lr 0.1 for
20 epochs, and every step is forward, loss, backward, step. Before training the program
checks the learning rate against the stability limit 2 / lambda_max (lesson 1.4) and
autograd's gradient against the central difference (lesson 1.5). After every epoch it
prints the loss over the whole training set and over the validation set. At the end it
counts the steps (lesson 1.1) and trains a fresh model once more with optimizer.step()
left out.

Run it with: python lesson_1_6.py   (needs torch)
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = 0
N, N_TRAIN = 200, 150
BATCH_SIZE = 16
EPOCHS = 20
LR = 0.1


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_splits(device: torch.device) -> tuple[TensorDataset, TensorDataset]:
    """Points near y = 2x - 1, shaped [N, 1] like nn.Linear(1, 1)'s output, split at random."""
    generator = torch.Generator().manual_seed(SEED)
    x = torch.randn(N, 1, generator=generator)
    y = 2 * x - 1 + 0.1 * torch.randn(N, 1, generator=generator)
    order = torch.randperm(N, generator=generator)
    train, val = order[:N_TRAIN], order[N_TRAIN:]
    return (
        TensorDataset(x[train].to(device), y[train].to(device)),
        TensorDataset(x[val].to(device), y[val].to(device)),
    )


def build_model(device: torch.device) -> nn.Module:
    torch.manual_seed(SEED)  # the same starting line on every run
    return nn.Linear(1, 1).to(device)


def stability_limit(inputs: torch.Tensor) -> float:
    """2 / lambda_max of the MSE's Hessian H = (2/N) A^T A, with A = [x, 1]."""
    design = torch.cat([inputs, torch.ones_like(inputs)], dim=1).cpu().double()
    hessian = 2 / len(design) * design.T @ design
    return 2 / torch.linalg.eigvalsh(hessian)[-1].item()


def gradient_check(model: nn.Module, data: TensorDataset, h: float = 1e-6) -> float:
    """Largest relative error between autograd and the central difference, in float64.

    The check runs on a float64 copy on the cpu: mps has no float64, and the original
    model is left exactly as it was.
    """
    copy = nn.Linear(1, 1).double()
    copy.load_state_dict(model.state_dict())
    inputs, targets = (t.cpu().double() for t in data.tensors)
    loss = nn.functional.mse_loss(copy(inputs), targets)
    loss.backward()
    worst = 0.0
    for param in copy.parameters():
        for j in range(param.numel()):
            with torch.no_grad():
                param.view(-1)[j] += h
                up = nn.functional.mse_loss(copy(inputs), targets).item()
                param.view(-1)[j] -= 2 * h
                down = nn.functional.mse_loss(copy(inputs), targets).item()
                param.view(-1)[j] += h  # back where it was
            numerical = (up - down) / (2 * h)
            analytical = param.grad.view(-1)[j].item()
            error = abs(analytical - numerical) / max(abs(analytical), abs(numerical), 1e-12)
            worst = max(worst, error)
    return worst


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    take_step: bool = True,
) -> list[float]:
    """One pass over the training set; the loss of every batch, in order."""
    model.train()
    losses = []
    for inputs, targets in loader:
        optimizer.zero_grad()  # clear the last batch's gradients
        outputs = model(inputs)  # 1. forward
        loss = nn.functional.mse_loss(outputs, targets)  # 2. loss
        loss.backward()  # 3. backward
        if take_step:  # left out only to show what a forgotten step() looks like
            optimizer.step()  # 4. step
        losses.append(loss.item())  # a float: no graph kept alive
    return losses


@torch.no_grad()  # measuring only: no graph to build
def evaluate(model: nn.Module, data: TensorDataset) -> float:
    """The loss over a whole dataset, in eval mode, with the weights as they are now."""
    model.eval()
    inputs, targets = data.tensors
    return nn.functional.mse_loss(model(inputs), targets).item()


def make_loader(train_set: TensorDataset) -> DataLoader:
    # A seeded generator: the same shuffled order of every epoch on every run.
    generator = torch.Generator().manual_seed(SEED)
    return DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True, generator=generator)


def train(train_set: TensorDataset, val_set: TensorDataset, device: torch.device) -> None:
    """The healthy loop: checks first, then per-epoch losses, then the step count."""
    model = build_model(device)
    loader = make_loader(train_set)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    limit = stability_limit(train_set.tensors[0])
    print(f"lr {LR} against the stability limit 2/lambda_max = {limit:.3f}")
    print(f"gradient check: largest relative error {gradient_check(model, train_set):.1e}")
    print(f"before training: train_loss {evaluate(model, train_set):.4f}")
    step_losses: list[float] = []
    for epoch in range(1, EPOCHS + 1):
        step_losses += train_one_epoch(model, loader, optimizer)
        # Both losses measured the same way, with the weights as the epoch left them:
        # the batch losses were taken while the weights were still moving.
        print(
            f"epoch {epoch:2d}  train_loss {evaluate(model, train_set):.4f}  "
            f"val_loss {evaluate(model, val_set):.4f}"
        )
    per_epoch = math.ceil(N_TRAIN / BATCH_SIZE)
    print(
        f"steps: {len(step_losses)} = {EPOCHS} epochs x ceil({N_TRAIN}/{BATCH_SIZE}) "
        f"= {EPOCHS} x {per_epoch}"
    )
    w, b = model.weight.item(), model.bias.item()
    print(f"fitted line: y = {w:.3f} x {b:+.3f} (true: y = 2x - 1)")


def train_without_step(train_set: TensorDataset, device: torch.device) -> None:
    """The same loop with optimizer.step() left out, for three epochs."""
    model = build_model(device)
    loader = make_loader(train_set)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    step_losses: list[float] = []
    epoch_losses: list[float] = []
    for _ in range(3):
        step_losses += train_one_epoch(model, loader, optimizer, take_step=False)
        epoch_losses.append(evaluate(model, train_set))
    print(
        f"without step(): batch losses from {min(step_losses):.4f} to {max(step_losses):.4f}, "
        f"train loss after each epoch {', '.join(f'{v:.4f}' for v in epoch_losses)}"
    )


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    train_set, val_set = make_splits(device)
    print(f"device: {device.type}; {N_TRAIN} training and {N - N_TRAIN} validation points")
    train(train_set, val_set, device)
    train_without_step(train_set, device)


if __name__ == "__main__":
    main()
