"""Lesson 3.2: learning-rate schedules, an LR range test, and training with what it finds.

Part 1 steps six torch.optim.lr_scheduler schedules on a dummy optimizer (base lr 0.1) and
prints the lr each one gives at a few steps or epochs, to compare with the lesson's formulas.
Part 2 runs an LR range test on the digits: the course's MLP with Adam, batch 32, the lr
growing exponentially from 1e-6 to 1 over at most 100 steps while the smoothed loss is
recorded. It suggests a tenth of the lr where the smoothed loss was lowest.
Part 3 trains the MLP for 5 epochs with that lr, with 100x less and with 10x more, and prints
the validation loss and accuracy after every epoch.

Run it with: python lesson_3_2.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.optim import lr_scheduler

SEED = 0
BASE_LR = 0.1  # the schedules' starting (or peak) learning rate in part 1
LR_LOW, LR_HIGH, RANGE_STEPS = 1e-6, 1.0, 100  # the range test's sweep
BETA = 0.9  # smoothing of the range test's loss: an average over roughly 10 steps
STOP_FACTOR = 4.0  # the range test stops once the smoothed loss is 4x its lowest
N_TRAIN, BATCH_SIZE, EPOCHS = 1437, 32, 5

Schedule = lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# --- part 1: what each schedule does to the lr ---------------------------------------------


def lr_by_tick(
    make: Callable[[torch.optim.Optimizer], Schedule],
    ticks: int,
    val_losses: list[float] | None = None,
) -> list[float]:
    """The lr in force at each tick (a step or an epoch) of a schedule, from BASE_LR."""
    weight = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=BASE_LR)
    scheduler = make(optimizer)
    used = []
    for tick in range(ticks):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # the optimizer first, then the schedule
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            assert val_losses is not None
            scheduler.step(val_losses[tick])  # it needs the epoch's val loss
        else:
            scheduler.step()
    return used


def warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    """The factor LambdaLR multiplies the base lr by at step t: linear up, then cosine down."""

    def factor(t: int) -> float:
        if t < warmup:
            return (t + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))

    return factor


def show_schedules() -> None:
    plateau_losses = [1.00, 0.80, 0.70, 0.72, 0.71, 0.70, 0.73, 0.65]
    schedules = [  # (name, clock, ticks to print, the lr it gives at every tick)
        (
            "step",
            "e",
            [0, 9, 10, 19, 20, 29],
            lr_by_tick(lambda o: lr_scheduler.MultiStepLR(o, [10, 20], gamma=0.1), 30),
        ),
        (
            "exponential",
            "e",
            [0, 1, 2, 10, 20],
            lr_by_tick(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), 21),
        ),
        (
            "cosine",
            "t",
            [0, 25, 50, 75, 99],
            lr_by_tick(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=100), 100),
        ),
        (
            "warmup_cosine",
            "t",
            [0, 4, 9, 10, 55, 99],
            lr_by_tick(lambda o: lr_scheduler.LambdaLR(o, warmup_cosine(10, 100)), 100),
        ),
        (
            "onecycle",
            "t",
            [0, 15, 29, 50, 99],
            lr_by_tick(lambda o: lr_scheduler.OneCycleLR(o, max_lr=BASE_LR, total_steps=100), 100),
        ),
        (
            "plateau",
            "e",
            list(range(8)),
            lr_by_tick(
                lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=0.1, patience=2),
                8,
                plateau_losses,
            ),
        ),
    ]
    print(f"part 1: the lr each schedule gives, base lr {BASE_LR} (t: step, e: epoch)")
    for name, clock, ticks, used in schedules:
        shown = "  ".join(f"{clock}={tick}: {used[tick]:.4g}" for tick in ticks)
        print(f"  {name:<14} {shown}")
    print(f"  plateau's val losses: {plateau_losses}")


# --- parts 2 and 3: the digits ----------------------------------------------------------------


def load_split(device: torch.device) -> tuple[torch.Tensor, ...]:
    """Train and validation digits, standardised with the training split's statistics."""
    digits = load_digits()  # 1,797 8x8 digits, bundled with scikit-learn: no download
    x = torch.tensor(digits.data, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    train, val = order[:N_TRAIN], order[N_TRAIN:]
    mean, std = x[train].mean(dim=0), x[train].std(dim=0)
    x = (x - mean) / torch.where(std > 1e-6, std, torch.ones_like(std))
    return tuple(t.to(device) for t in (x[train], y[train], x[val], y[val]))


def make_mlp(device: torch.device) -> nn.Sequential:
    torch.manual_seed(SEED)  # every run starts from the same weights
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    ).to(device)


def batches(n: int, count: int, generator: torch.Generator) -> list[torch.Tensor]:
    """`count` shuffled mini-batches of indices, epoch after epoch."""
    found: list[torch.Tensor] = []
    while len(found) < count:
        found += list(torch.randperm(n, generator=generator).split(BATCH_SIZE))
    return found[:count]


def range_test(data: tuple[torch.Tensor, ...], device: torch.device) -> list[tuple[float, float]]:
    """(lr, smoothed loss) at each step while the lr grows from LR_LOW to LR_HIGH."""
    train_x, train_y, _, _ = data
    model = make_mlp(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR_LOW)
    generator = torch.Generator().manual_seed(SEED)
    average, lowest, found = 0.0, math.inf, []
    for t, batch in enumerate(batches(len(train_y), RANGE_STEPS, generator)):
        lr = LR_LOW * (LR_HIGH / LR_LOW) ** (t / (RANGE_STEPS - 1))  # x1.15 every step
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = batch.to(device)
        loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average = BETA * average + (1 - BETA) * loss.item()
        smoothed = average / (1 - BETA ** (t + 1))  # corrects the average's start at 0
        found.append((lr, smoothed))
        lowest = min(lowest, smoothed)
        if not math.isfinite(smoothed) or smoothed > STOP_FACTOR * lowest:
            break  # the loss has blown up: larger lrs tell us nothing more
    return found


def suggest_lr(found: list[tuple[float, float]]) -> float:
    """Print how to read the range test; return a tenth of the lr at the lowest loss."""
    print(f"\npart 2: LR range test, Adam, lr from {LR_LOW:g} to {LR_HIGH:g}")
    print("  step        lr  smoothed loss")
    for t in range(0, len(found), 10):
        print(f"  {t:4d}  {found[t][0]:8.1e}  {found[t][1]:13.3f}")
    lowest = min(range(len(found)), key=lambda t: found[t][1])
    drops = [found[t + 1][1] - found[t][1] for t in range(len(found) - 1)]
    steepest = min(range(len(drops)), key=drops.__getitem__)
    last_lr, last_loss = found[-1]
    print(f"  stopped after {len(found)} steps at lr {last_lr:.1e}: smoothed loss {last_loss:.3f}")
    print(f"  lowest smoothed loss {found[lowest][1]:.3f} at lr {found[lowest][0]:.1e}")
    print(f"  steepest fall at lr {found[steepest][0]:.1e}")
    suggested = found[lowest][0] / 10
    print(f"  suggested lr (a tenth of the lowest's): {suggested:.1e}")
    return suggested


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    logits = model(x)
    model.train()
    loss = nn.functional.cross_entropy(logits, y).item()
    return loss, (logits.argmax(dim=1) == y).float().mean().item()


def train(lr: float, data: tuple[torch.Tensor, ...], device: torch.device) -> list[str]:
    """Train a fresh MLP with Adam at this lr; the val loss and accuracy after each epoch."""
    train_x, train_y, val_x, val_y = data
    model = make_mlp(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(SEED + 1)  # the same batches for every run
    steps_per_epoch = math.ceil(len(train_y) / BATCH_SIZE)
    shown = []
    for _ in range(EPOCHS):
        for batch in batches(len(train_y), steps_per_epoch, generator):
            batch = batch.to(device)
            loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        val_loss, val_acc = evaluate(model, val_x, val_y)
        shown.append(f"{val_loss:.3f}/{val_acc:.3f}")
    return shown


def main() -> None:
    torch.set_num_threads(1)  # small work: one thread is quicker and repeatable
    device = pick_device()
    print(f"device: {device.type}")
    show_schedules()

    data = load_split(device)
    suggested = suggest_lr(range_test(data, device))

    print(f"\npart 3: {EPOCHS} epochs of Adam, batch {BATCH_SIZE}; val loss/val acc per epoch")
    for label, lr in (
        ("100x smaller", suggested / 100),
        ("suggested", suggested),
        ("10x larger", suggested * 10),
    ):
        print(f"  {label:<12} lr {lr:.1e}: " + "  ".join(train(lr, data, device)))


if __name__ == "__main__":
    main()
