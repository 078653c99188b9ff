"""Lesson 3.8: save a run halfway, resume it three ways, compare with a run that never stopped.

The digits MLP (64 -> 128 -> 64 -> 10) trains for 10 epochs with Adam and a cosine
learning-rate schedule. Halfway (step 225 of 450) the loop writes a checkpoint: model,
optimizer and scheduler state, epoch and step, the random-number states and the config.
It then trains on to the end: that is the run that never stopped.

Three fresh loops resume from the same checkpoint file:
  everything        - every part of the checkpoint restored
  weights only      - the optimizer starts fresh: Adam's moments and step count are lost
  schedule at 0     - the learning-rate schedule starts again from step 0
and the program prints how each one's loss and learning rate compare with the run that
never stopped.

Run:  python lessons/programs/lesson_3_8.py     (needs torch and scikit-learn)
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from torch import nn


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 10
    resume_epoch: int = 5  # the checkpoint is written at the end of this epoch
    batch_size: int = 32
    lr: float = 1e-2  # the schedule's peak: high enough that the schedule matters
    window: int = 15  # steps per printed average after the resume


def pick_device() -> torch.device:
    """cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_splits(config: Config, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Digits split 80 % / 20 % by a seeded permutation, standardised with train statistics."""
    x_np, y_np = load_digits(return_X_y=True)
    x, y = torch.tensor(x_np, dtype=torch.float32), torch.tensor(y_np)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(config.seed))
    n_train = int(0.8 * len(y))
    train_idx, val_idx = order[:n_train], order[n_train:]
    mean, std = x[train_idx].mean(), x[train_idx].std()
    x = (x - mean) / std
    return tuple(t.to(device) for t in (x[train_idx], y[train_idx], x[val_idx], y[val_idx]))


def build_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def cosine(total_steps: int) -> Callable[[int], float]:
    """The multiplier of the peak lr at each step: 1 at step 0, falling to 0 at the end."""
    return lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps))


@dataclass
class Loop:
    """Everything that changes while a run trains (what a checkpoint must capture)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    shuffler: torch.Generator  # decides the order of the batches
    epoch: int = 0
    step: int = 0
    losses: dict[int, float] = field(default_factory=dict)  # step -> batch loss
    lrs: dict[int, float] = field(default_factory=dict)  # step -> lr used at that step


def new_loop(config: Config, total_steps: int, device: torch.device) -> Loop:
    """A fresh run: seeded weights, Adam, a cosine schedule, a seeded shuffler."""
    torch.manual_seed(config.seed)
    model = build_model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine(total_steps))
    return Loop(model, optimizer, scheduler, torch.Generator().manual_seed(config.seed))


def train_step(loop: Loop, inputs: torch.Tensor, targets: torch.Tensor) -> None:
    """The four steps on one batch; then the schedule moves on by one step."""
    loop.optimizer.zero_grad()
    loss = nn.functional.cross_entropy(loop.model(inputs), targets)  # 1. forward, 2. loss
    loss.backward()  # 3. backward
    loop.lrs[loop.step] = loop.optimizer.param_groups[0]["lr"]
    loop.optimizer.step()  # 4. step
    loop.scheduler.step()  # the schedule counts steps, not epochs
    loop.losses[loop.step] = loss.item()
    loop.step += 1


def train_epoch(loop: Loop, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
    """One pass over the training set in an order drawn from the loop's own shuffler."""
    for batch in torch.randperm(len(y), generator=loop.shuffler).split(batch_size):
        batch = batch.to(x.device)
        train_step(loop, x[batch], y[batch])
    loop.epoch += 1


def save_checkpoint(loop: Loop, config: Config, path: Path) -> None:
    """Write everything needed to continue; atomically, so a crash never leaves half a file."""
    state = {
        "model": loop.model.state_dict(),
        "optimizer": loop.optimizer.state_dict(),  # Adam: exp_avg, exp_avg_sq, step
        "scheduler": loop.scheduler.state_dict(),
        "epoch": loop.epoch,
        "step": loop.step,
        "shuffle_rng": loop.shuffler.get_state(),
        "torch_rng": torch.get_rng_state(),
        "config": asdict(config),
    }
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(state, temporary)  # a crash here leaves the old checkpoint untouched
        os.replace(temporary, path)  # the rename is all-or-nothing
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def resume(path: Path, total_steps: int, device: torch.device, mistake: str | None = None) -> Loop:
    """A fresh loop with the checkpoint's state loaded into it; `mistake` leaves a part out."""
    state = torch.load(path, map_location="cpu", weights_only=True)  # RNG states live on the CPU
    config = Config(**state["config"])
    loop = new_loop(config, total_steps, device)  # fresh objects, as in a new process
    loop.model.load_state_dict(state["model"])
    if mistake != "without_optimizer_state":
        loop.optimizer.load_state_dict(state["optimizer"])
    if mistake != "schedule_restarted":
        loop.scheduler.load_state_dict(state["scheduler"])
    if mistake == "without_optimizer_state":  # keep the lr right, so only Adam's state differs
        loop.optimizer.param_groups[0]["lr"] = loop.scheduler.get_last_lr()[0]
    loop.shuffler.set_state(state["shuffle_rng"])
    torch.set_rng_state(state["torch_rng"])
    loop.epoch, loop.step = state["epoch"], state["step"]
    return loop


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(loss, accuracy) in eval mode."""
    model.eval()
    logits = model(x)
    model.train()
    accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    return nn.functional.cross_entropy(logits, y).item(), accuracy


def weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def first_step_change(
    loop: Loop, x: torch.Tensor, y: torch.Tensor, batch_size: int
) -> tuple[float, float, int]:
    """Take the loop's next step. Returns the mean |change| of a weight in units of the lr,
    over all weights and over those with a gradient, and how many had one."""
    batch = torch.randperm(len(y), generator=loop.shuffler)[:batch_size].to(x.device)
    before = weights(loop.model)
    train_step(loop, x[batch], y[batch])
    change = (weights(loop.model) - before).abs() / loop.lrs[loop.step - 1]
    pushed = torch.cat([p.grad.flatten() for p in loop.model.parameters()]) != 0
    return change.mean().item(), change[pushed].mean().item(), int(pushed.sum())


def describe_checkpoint(path: Path) -> None:
    """What the file holds, read back the safe way."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    n_weights = sum(t.numel() for t in state["model"].values())
    adam = state["optimizer"]["state"]
    moments = sum(s["exp_avg"].numel() + s["exp_avg_sq"].numel() for s in adam.values())
    steps = sorted({int(s["step"]) for s in adam.values()})
    print(f"checkpoint keys: {', '.join(state)}")
    print(f"  model: {n_weights:,} weights and biases in {len(state['model'])} tensors")
    print(
        f"  Adam: exp_avg and exp_avg_sq for each of {len(adam)} tensors = {moments:,} "
        f"values ({moments / n_weights:.0f}x the weights), step count {steps}"
    )
    print(f"  scheduler: last_epoch {state['scheduler']['last_epoch']}")
    print(f"  epoch {state['epoch']}, step {state['step']}, seed {state['config']['seed']}")


def main() -> None:
    device = pick_device()
    if device.type == "cpu":
        torch.set_num_threads(1)  # one thread: fast for a model this small, and repeatable
    config = Config()
    x_train, y_train, x_val, y_val = load_splits(config, device)
    train_set = (x_train, y_train, config.batch_size)
    steps_per_epoch = math.ceil(len(y_train) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    print(
        f"device: {device}; {len(y_train)} train / {len(y_val)} val digits, "
        f"{steps_per_epoch} steps per epoch, {total_steps} steps in {config.epochs} epochs"
    )

    runs: dict[str, Loop] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.pt"
        loop = new_loop(config, total_steps, device)
        for _ in range(config.epochs):
            train_epoch(loop, x_train, y_train, config.batch_size)
            if loop.epoch == config.resume_epoch:
                save_checkpoint(loop, config, path)
        runs["never stopped"] = loop
        describe_checkpoint(path)
        for name, mistake in [
            ("everything", None),
            ("weights only", "without_optimizer_state"),
            ("schedule at 0", "schedule_restarted"),
        ]:
            loop = resume(path, total_steps, device, mistake)
            while loop.epoch < config.epochs:
                train_epoch(loop, x_train, y_train, config.batch_size)
            runs[name] = loop
        sizes = {
            name: first_step_change(resume(path, total_steps, device, mistake), *train_set)
            for name, mistake in [("everything", None), ("weights only", "without_optimizer_state")]
        }

    start = config.resume_epoch * steps_per_epoch  # the first step after the resume
    reference = runs["never stopped"]
    last = total_steps - 1
    print(f"\nlearning rate before the checkpoint: step 0 {reference.lrs[0]:.2e}, ", end="")
    print(f"step {start - 1} {reference.lrs[start - 1]:.2e}")
    print(f"learning rate at steps {start}, {start + 1}, {start + 2} and {last}:")
    for name, loop in runs.items():
        values = " ".join(f"{loop.lrs[s]:.2e}" for s in (start, start + 1, start + 2, last))
        print(f"  {name:14s} {values}")

    print(f"\nmean batch loss over windows of {config.window} steps from step {start}:")
    for name, loop in runs.items():
        means = [
            sum(loop.losses[s] for s in range(first, first + config.window)) / config.window
            for first in range(start, total_steps, config.window)
        ]
        print(f"  {name:14s} " + " ".join(f"{m:.4f}" for m in means[:6]) + " ...")

    print(f"\nsteps {start} to {total_steps - 1}, against the run that never stopped:")
    for name, loop in list(runs.items())[1:]:
        gap = max(abs(loop.losses[s] - reference.losses[s]) for s in range(start, total_steps))
        same = torch.equal(weights(loop.model), weights(reference.model))
        print(f"  {name:14s} largest loss difference {gap:.3g}, final weights identical: {same}")

    print("\nfirst step after the resume: mean |change| of a weight / lr")
    for name, (every, pushed, n_pushed) in sizes.items():
        print(
            f"  {name:14s} {every:.3f} over all weights, {pushed:.3f} over the {n_pushed:,} weights"
        )
    print("  whose gradient was not 0")

    print("\nat the end: train loss, val loss, val accuracy")
    for name, loop in runs.items():
        train_loss, _ = evaluate(loop.model, x_train, y_train)
        val_loss, val_acc = evaluate(loop.model, x_val, y_val)
        print(f"  {name:14s} {train_loss:.4f} {val_loss:.4f} {val_acc:.3f}")


if __name__ == "__main__":
    main()
