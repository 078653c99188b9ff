"""Lesson 3.6: train a small MLP on the 8x8 digits and watch every step while it trains.

Each step records the loss, the gradient norm (in total and for each layer) and the
update-to-weight ratio; each epoch records train and val loss and accuracy, the gap and
the model's confidence. Both go into CSV files, and a few automatic checks print a
warning when a number looks wrong. At the end, three deliberately broken steps show
which mistakes the checks catch, and a network whose ReLUs are all dead shows that its
gradient norm is still not 0.

Run:  python lessons/programs/lesson_3_6.py [RUN_DIR]
(without RUN_DIR the CSV files go into a temporary folder that is removed at the end)
"""

from __future__ import annotations

import csv
import math
import statistics
import sys
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
EPOCHS = 10
BATCH_SIZE = 32
LR = 1e-3
N_CLASSES = 10
EXPLODE_FACTOR = 10.0  # a norm this many times its recent median is a warning
STEP_COLUMNS = ["step", "epoch", "loss", "grad_norm", "update_ratio"]  # + grad_<layer>
EPOCH_COLUMNS = ["epoch", "train_loss", "val_loss", "train_acc", "val_acc", "gap", "confidence"]


def pick_device() -> torch.device:
    """cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_splits(device: torch.device) -> tuple[torch.Tensor, ...]:
    """Digits split 80 % / 20 % by a seeded permutation, standardised with train statistics."""
    x_np, y_np = load_digits(return_X_y=True)
    x, y = torch.tensor(x_np, dtype=torch.float32), torch.tensor(y_np)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    train_idx, val_idx = order[: int(0.8 * len(y))], order[int(0.8 * len(y)) :]
    mean, std = x[train_idx].mean(), x[train_idx].std()
    x = (x - mean) / std
    parts = (x[train_idx], y[train_idx], x[val_idx], y[val_idx])
    return tuple(part.to(device) for part in parts)


def build_model() -> nn.Sequential:
    """64 pixels -> 128 -> 64 -> 10 raw class scores; named layers for readable logs."""
    return nn.Sequential(
        OrderedDict(
            hidden1=nn.Linear(64, 128),
            relu1=nn.ReLU(),
            hidden2=nn.Linear(128, 64),
            relu2=nn.ReLU(),
            out=nn.Linear(64, N_CLASSES),
        )
    )


@dataclass(frozen=True)
class StepStats:
    loss: float
    grad_norm: float  # ||g||_2 over every parameter, read just before step()
    layer_grad_norms: dict[str, float]  # each layer's weight gradient
    update_ratio: float  # ||theta_after - theta_before|| / ||theta_before||


def gradient_norms(model: nn.Module) -> tuple[float, dict[str, float]]:
    """Total and per-layer gradient norms; a missing .grad counts as zero."""
    squares, layers = 0.0, {}
    for name, param in model.named_parameters():
        norm = param.grad.norm().item() if param.grad is not None else 0.0
        squares += norm**2
        if name.endswith(".weight"):
            layers[name.removesuffix(".weight")] = norm
    return math.sqrt(squares), layers


def monitored_step(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    mistake: str | None = None,
) -> StepStats:
    """The four steps, measured. `mistake` breaks the step on purpose for the demos."""
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)  # 1. forward, 2. loss
    loss.backward()  # 3. backward: fills every param.grad
    if mistake == "zero_grad_too_late":
        optimizer.zero_grad()  # the bug: gradients cleared before step() can read them
    grad_norm, layer_norms = gradient_norms(model)  # read between backward() and step()
    before = [p.detach().clone() for p in model.parameters()]
    if mistake != "no_step":
        optimizer.step()  # 4. step
    with torch.no_grad():
        moved = torch.stack(
            [(p - b).norm() for p, b in zip(model.parameters(), before, strict=True)]
        )
        size = torch.stack([b.norm() for b in before])
        ratio = (moved.norm() / size.norm()).item()  # ||change|| / ||weights||
    return StepStats(loss.item(), grad_norm, layer_norms, ratio)


def check_step(stats: StepStats, recent_norms: list[float]) -> list[str]:
    """The automatic checks: what is wrong with this step, in words (empty when fine)."""
    problems = []
    if not math.isfinite(stats.loss):
        problems.append(f"loss is {stats.loss}: find the first bad value with set_detect_anomaly")
    if not math.isfinite(stats.grad_norm):
        problems.append("gradient norm is not finite: skip this step() and trace the cause")
    elif stats.grad_norm == 0.0:
        problems.append("gradient norm is exactly 0: gradients cleared or never computed")
    elif recent_norms and stats.grad_norm > EXPLODE_FACTOR * statistics.median(recent_norms):
        problems.append(f"gradient norm {stats.grad_norm:.3g} jumped over 10x its recent median")
    if stats.update_ratio == 0.0:
        problems.append("update-to-weight ratio is 0: step() did not move any weight")
    return problems


@torch.no_grad()
def evaluate(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: nn.Module
) -> tuple[float, float, float, list[int]]:
    """(loss, accuracy, mean confidence, predicted class counts) in eval mode."""
    model.eval()  # dropout off, batch norm on running statistics
    logits = model(inputs)
    model.train()
    probabilities = torch.softmax(logits, dim=1)
    predicted = probabilities.argmax(dim=1)
    accuracy = (predicted == targets).float().mean().item()
    confidence = probabilities.max(dim=1).values.mean().item()
    counts = torch.bincount(predicted, minlength=N_CLASSES).tolist()
    return loss_fn(logits, targets).item(), accuracy, confidence, counts


@dataclass
class Run:
    steps: list[StepStats]
    epochs: list[dict[str, float]]  # the rows of epochs.csv
    warnings: int  # how many problems the checks reported


def train(run_dir: Path, device: torch.device) -> Run:
    """Train for EPOCHS, appending to steps.csv and epochs.csv in run_dir as it goes."""
    torch.manual_seed(SEED)
    x_train, y_train, x_val, y_val = load_splits(device)
    model = build_model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    shuffler = torch.Generator().manual_seed(SEED)  # the batch order is seeded too
    layers = [name for name, layer in model.named_children() if isinstance(layer, nn.Linear)]
    run = Run(steps=[], epochs=[], warnings=0)
    with (
        open(run_dir / "steps.csv", "w", newline="") as step_file,
        open(run_dir / "epochs.csv", "w", newline="") as epoch_file,
    ):
        step_log = csv.DictWriter(step_file, STEP_COLUMNS + [f"grad_{n}" for n in layers])
        epoch_log = csv.DictWriter(epoch_file, EPOCH_COLUMNS)
        step_log.writeheader()
        epoch_log.writeheader()
        for epoch in range(1, EPOCHS + 1):
            for batch in torch.randperm(len(y_train), generator=shuffler).split(BATCH_SIZE):
                batch = batch.to(device)
                stats = monitored_step(model, x_train[batch], y_train[batch], loss_fn, optimizer)
                recent = [s.grad_norm for s in run.steps[-20:]]
                for problem in check_step(stats, recent):
                    print(f"WARNING step {len(run.steps) + 1}: {problem}")
                    run.warnings += 1
                run.steps.append(stats)
                grads = {f"grad_{name}": norm for name, norm in stats.layer_grad_norms.items()}
                step_log.writerow(
                    {
                        "step": len(run.steps),
                        "epoch": epoch,
                        "loss": stats.loss,
                        "grad_norm": stats.grad_norm,
                        "update_ratio": stats.update_ratio,
                        **grads,
                    }
                )
            train_loss, train_acc, _, _ = evaluate(model, x_train, y_train, loss_fn)
            val_loss, val_acc, confidence, counts = evaluate(model, x_val, y_val, loss_fn)
            row = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "train_acc": train_acc,
                "val_acc": val_acc,
                "gap": val_loss - train_loss,  # the generalisation gap
                "confidence": confidence,
            }
            epoch_log.writerow(row)
            epoch_file.flush()  # a crash later still leaves every finished epoch on disk
            run.epochs.append(row)
            print(
                f"epoch {epoch:2d}: train_loss {train_loss:.4f}  val_loss {val_loss:.4f}  "
                f"val_acc {val_acc:.3f}  gap {row['gap']:.4f}  confidence {confidence:.3f}"
            )
    labels = torch.bincount(y_val, minlength=N_CLASSES).tolist()
    print(f"val predictions per class {counts}\nval labels per class      {labels}")
    return run


def broken_steps_demo(device: torch.device) -> None:
    """One step of three broken loops on a fresh model, and what the checks say."""
    x_train, y_train, _, _ = load_splits(device)
    inputs, targets = x_train[:BATCH_SIZE], y_train[:BATCH_SIZE]
    poisoned = inputs.clone()
    poisoned[0, 0] = float("nan")  # one bad pixel
    cases = [
        ("zero_grad() between backward() and step()", inputs, "zero_grad_too_late"),
        ("optimizer.step() forgotten", inputs, "no_step"),
        ("one NaN pixel in the batch", poisoned, None),
    ]
    for title, batch, mistake in cases:
        torch.manual_seed(SEED)
        model = build_model().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        stats = monitored_step(model, batch, targets, nn.CrossEntropyLoss(), optimizer, mistake)
        print(f"{title}: grad norm {stats.grad_norm:.4f}, update ratio {stats.update_ratio:.4f}")
        for problem in check_step(stats, []) or ["no warning"]:
            print(f"    -> {problem}")

    # Every ReLU dead (hidden biases pushed far below 0): only the output bias still learns.
    torch.manual_seed(SEED)
    model = build_model().to(device)
    with torch.no_grad():
        model.hidden1.bias.fill_(-100.0)
        model.hidden2.bias.fill_(-100.0)
    nn.CrossEntropyLoss()(model(inputs), targets).backward()
    total, _ = gradient_norms(model)
    bias_norm = model.out.bias.grad.norm().item()
    print(f"every ReLU dead: grad norm {total:.4f}, of which out.bias {bias_norm:.4f}")


def main() -> None:
    device = pick_device()
    if device.type == "cpu":
        torch.set_num_threads(1)  # a model this small is fastest, and repeatable, on one thread
    print(f"device: {device}")
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(scratch)
        run_dir.mkdir(parents=True, exist_ok=True)
        run = train(run_dir, device)
        first, last = run.steps[0], run.steps[-1]
        chance = math.log(N_CLASSES)
        print(
            f"first step: loss {first.loss:.3f} (chance level ln {N_CLASSES} = {chance:.3f}), "
            f"grad norm {first.grad_norm:.3f}, update ratio {first.update_ratio:.1e}"
        )
        layers = ", ".join(f"{name} {norm:.3f}" for name, norm in first.layer_grad_norms.items())
        print(f"first step, per layer: {layers}")
        print(
            f"last step:  loss {last.loss:.4f}, grad norm {last.grad_norm:.3f}, "
            f"update ratio {last.update_ratio:.1e}"
        )
        print(f"checks: {run.warnings} warnings in {len(run.steps)} steps")
        print(f"wrote {run_dir / 'steps.csv'} ({len(run.steps)} rows)")
        print(f"wrote {run_dir / 'epochs.csv'} ({len(run.epochs)} rows)")
    broken_steps_demo(device)


if __name__ == "__main__":
    main()
