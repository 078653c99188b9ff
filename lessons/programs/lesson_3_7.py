"""Lesson 3.7: batch norm and layer norm measured, then early stopping and augmentation.

Part 1 puts one batch of digits through a linear layer, then through nn.BatchNorm1d and
nn.LayerNorm, and measures what each one normalises: every feature over the batch, or every
example over its features. It also shows that batch norm in train mode mixes the examples
of a batch, and in eval mode does not.
Part 2 trains the course's digits MLP (64 -> 128 -> 64 -> 10, Adam 1e-3, batch 32) on only
100 training digits, with early stopping on the validation loss (patience 10, best weights
restored), three ways: no augmentation, random rotations, rotations plus 1-pixel shifts.
For each run it prints the best and the stopping epoch, and the train/val gap of the
restored model.

Run it with: python lesson_3_7.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

SEED = 0
N_TRAIN, N_HELD_BACK = 100, 300  # train on the first 100; validate on all after the 300th
MAX_EPOCHS, PATIENCE = 100, 10
LR, BATCH_SIZE = 1e-3, 32
MAX_DEGREES = 10.0  # rotations drawn uniformly from -10 to +10 degrees
PIXEL = 2 / 8  # one pixel in affine_grid's coordinates: the image spans -1 to 1, 8 pixels


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_norms(images: torch.Tensor) -> None:
    """Part 1: what BatchNorm1d and LayerNorm do to 32 examples of 16 features each."""
    torch.manual_seed(SEED)
    h = nn.Linear(64, 16).to(images.device)(images[:32].flatten(1)).detach()
    batch_norm, layer_norm = nn.BatchNorm1d(16).to(h.device), nn.LayerNorm(16).to(h.device)
    for name, out, dim in (("batch norm", batch_norm(h), 0), ("layer norm", layer_norm(h), 1)):
        across = "each feature over the batch" if dim == 0 else "each example over its features"
        mean, std = out.mean(dim=dim), out.std(dim=dim, unbiased=False)
        print(f"{name}, {across}: |mean| <= {mean.abs().max().item():.1e}, ", end="")
        print(f"std {std.min().item():.4f} to {std.max().item():.4f}")
    print(f"  before: feature means {h.mean(0).min().item():.2f} to {h.mean(0).max().item():.2f}")
    # The same first example, batched with two different sets of 31 others.
    pair = torch.cat([h[:16], h[:1], h[16:31]])  # example 0 twice: rows 0 and 16
    for mode in ("train", "eval"):
        batch_norm.train(mode == "train")
        with torch.no_grad():
            moved = (batch_norm(h)[0] - batch_norm(pair)[16]).abs().max().item()
        print(f"  batch norm in {mode} mode: one example's output moves by {moved:.4f} "
              "when its batch-mates change")  # fmt: skip


def load_images(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All 1,797 digits as [N, 1, 8, 8] images in [0, 1], labels, and a fixed random order."""
    digits = load_digits()  # bundled with scikit-learn: no download
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SEED))
    return images.to(device), labels.to(device), order.to(device)


def transform(images: torch.Tensor, angle: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """Rotate image i by angle[i] radians and move it by moves[i] (x, y) in grid units."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(  # one 2x3 matrix per image: rotation, then translation
        [torch.stack([cos, -sin, moves[:, 0]], 1), torch.stack([sin, cos, moves[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False)  # outside the image: 0


def augment(images: torch.Tensor, shift: bool, generator: torch.Generator) -> torch.Tensor:
    """A fresh random rotation for each image, and a shift of -1, 0 or +1 pixel if asked."""
    n = len(images)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(MAX_DEGREES)
    moves = torch.randint(-1, 2, (n, 2), generator=generator) * PIXEL * shift
    return transform(images, angle, moves)


def make_mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),  # [N, 1, 8, 8] -> [N, 64]
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


@torch.no_grad()
def measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(loss, accuracy) in eval mode, on clean images."""
    model.eval()
    logits = model(x)
    model.train()
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


@dataclass
class Run:
    name: str
    val_losses: list[float]  # one per epoch trained
    best_epoch: int  # 1-based: the epoch whose weights were restored
    stop_epoch: int  # the last epoch trained
    train: tuple[float, float]  # (loss, accuracy) of the restored model
    val: tuple[float, float]


def scale(images: torch.Tensor, stats: tuple[float, float]) -> torch.Tensor:
    """Standardise with the training pixels' mean and std (one number each)."""
    return (images - stats[0]) / stats[1]


def train_run(name: str, data: tuple[torch.Tensor, ...], augmentation: str | None) -> Run:
    """Train a fresh MLP with early stopping on val loss; the best weights are restored."""
    train_x, train_y, val_x, val_y = data
    stats = (train_x.mean().item(), train_x.std().item())  # after augmenting, before the MLP
    torch.manual_seed(SEED)
    model = make_mlp().to(train_x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(SEED)  # same batches and draws in every run
    best_loss, best_epoch, best_state = math.inf, 0, None
    val_losses: list[float] = []
    for epoch in range(1, MAX_EPOCHS + 1):
        order = torch.randperm(len(train_y), generator=generator).to(train_x.device)
        for batch in order.split(BATCH_SIZE):
            images = train_x[batch]
            if augmentation:  # training batches only, fresh draws every epoch
                images = augment(images, augmentation == "rotate + shift", generator)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(scale(images, stats)), train_y[batch])
            loss.backward()
            optimizer.step()
        val_loss, _ = measure(model, scale(val_x, stats), val_y)
        val_losses.append(val_loss)
        if val_loss < best_loss:  # a new best: keep a COPY (state_dict holds live tensors)
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= PATIENCE:
            break  # PATIENCE epochs in a row without a new best
    model.load_state_dict(best_state)
    train = measure(model, scale(train_x, stats), train_y)
    val = measure(model, scale(val_x, stats), val_y)
    return Run(name, val_losses, best_epoch, len(val_losses), train, val)


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    print(f"device: {device.type}")
    images, labels, order = load_images(device)
    check_norms(images)

    # Translation +PIXEL in x: every output pixel reads the input one pixel to its right,
    # so the digit moves one pixel left, the same as rolling it and blanking the last column.
    moved = transform(images[:5], torch.zeros(5), torch.tensor([[PIXEL, 0.0]] * 5))
    rolled = torch.roll(images[:5], -1, dims=3)
    rolled[..., -1] = 0
    print(f"\naffine_grid, translation {PIXEL} in x: one pixel left, "
          f"as roll + blank edge: {torch.allclose(moved, rolled, atol=1e-6)}")  # fmt: skip
    # Where the ink sits: its centre barely varies, and it reaches the top and bottom rows.
    ink = images.squeeze(1)
    place = torch.arange(8.0, device=device)
    across = (ink.sum(1) * place).sum(1) / ink.sum((1, 2))
    down = (ink.sum(2) * place).sum(1) / ink.sum((1, 2))
    total = ink.sum((1, 2))
    rows = {name: ink[:, row] for name, row in (("top", 0), ("bottom", 7))}
    print(f"centre of ink over all {len(ink)} digits: std {across.std().item():.2f} px across, "
          f"{down.std().item():.2f} px down")  # fmt: skip
    for name, row in rows.items():
        inked = int((row.amax(1) > 0).sum().item())
        share = (row.sum(1) / total).mean().item()
        print(f"  ink in the {name} row: {inked} digits, {share:.1%} of the ink on average")

    train_idx, val_idx = order[:N_TRAIN], order[N_HELD_BACK:]
    data = (images[train_idx], labels[train_idx], images[val_idx], labels[val_idx])
    print(f"\n{N_TRAIN} training digits, {len(val_idx)} validation digits; "
          f"early stopping: patience {PATIENCE}, at most {MAX_EPOCHS} epochs")  # fmt: skip
    print(f"{'augmentation':<15} {'best':>4} {'stop':>4} {'val loss':>8} {'at stop':>7} "
          f"{'train acc':>9} {'val acc':>7} {'gap':>6}")  # fmt: skip
    for augmentation in (None, "rotate", "rotate + shift"):
        run = train_run(augmentation or "none", data, augmentation)
        print(
            f"{run.name:<15} {run.best_epoch:4d} {run.stop_epoch:4d} "
            f"{run.val_losses[run.best_epoch - 1]:8.3f} {run.val_losses[-1]:7.3f} "
            f"{run.train[1]:9.3f} {run.val[1]:7.3f} {run.train[1] - run.val[1]:6.3f}"
        )


if __name__ == "__main__":
    main()
