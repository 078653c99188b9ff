"""The learning-rate range test: raise the lr a little every step and watch the loss.

Train a fresh copy of the config's model on ordinary training batches while the learning
rate grows exponentially, from far too small to far too large. The loss first barely moves
(lr too small), then falls (a useful lr), then turns and shoots up (too large). The test
stops once the smoothed loss is several times its lowest value: the rest is divergence.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from torch import Tensor

from engine.config import RunConfig
from engine.data import make_loader
from engine.loop import start
from engine.state import LoopState
from engine.training import build_parts

BLOW_UP = 4.0  # stop once the smoothed loss exceeds this many times its minimum
SMOOTHING = 0.9  # the exponential average's decay: about the last 10 batches count
SUGGESTION_BELOW_MINIMUM = 10.0  # the suggestion: the lr at the minimum divided by this


@dataclass(frozen=True)
class RangeTest:
    """One range test: the lr, batch loss and smoothed loss of every step, and its reading."""

    lrs: list[float]
    losses: list[float]  # the training batch's loss at each step, as the step saw it
    smoothed: list[float]  # an exponential average of the losses (bias-corrected)
    min_lr: float  # the lr where the smoothed loss was lowest
    suggested_lr: float  # min_lr / SUGGESTION_BELOW_MINIMUM
    steepest_lr: float  # the lr where the smoothed loss fell fastest per factor of lr
    stopped_early: bool  # True when the loss blew up before end_lr


def lr_range_test(
    config: RunConfig, start_lr: float = 1e-6, end_lr: float = 1.0, steps: int = 100
) -> RangeTest:
    """Run a range test on a fresh model, data and optimizer built from the config.

    The lr at step i (0-based) is start_lr * (end_lr / start_lr) ** (i / (steps - 1)). Only
    the config's model, data, optimizer and batch size matter: its lr and schedule are
    replaced, and nothing the caller holds is trained. The suggestion is a tenth of the lr
    at the smoothed loss's minimum rather than the steepest fall: the minimum of a smoothed
    curve moves little from one noisy batch to the next, while a slope (a difference of
    noisy losses) jumps about; and a tenth of the minimum's lr stays well below the lr where
    the loss turns up, however sharply it turns. Raises ValueError for lrs that are not
    0 < start_lr < end_lr or for steps below 10, and ConfigError for lrs out of range.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"start_lr = {start_lr!r}, end_lr = {end_lr!r}: expected 0 < start < end")
    if steps < 10:
        raise ValueError(f"steps = {steps!r} is not allowed: expected at least 10")
    config.replace(lr=end_lr)  # raises ConfigError when end_lr is outside the allowed range
    state = _fresh_state(config.replace(lr=start_lr))
    growth = (end_lr / start_lr) ** (1 / (steps - 1))  # the lr's factor from step to step
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average = 0.0
    for step, (inputs, targets) in enumerate(_batches(state, steps)):
        lr = start_lr * growth**step
        for group in state.optimizer.param_groups:
            group["lr"] = lr
        loss = _train_on(state, inputs, targets)
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        lrs.append(lr)
        losses.append(loss)
        # Divided by 1 - beta^t: the average starts at 0, so early values would read too low.
        smoothed.append(average / (1 - SMOOTHING ** (step + 1)))
        if not math.isfinite(loss) or smoothed[-1] > BLOW_UP * min(smoothed):
            break
    return _read(lrs, losses, smoothed, stopped_early=len(lrs) < steps)


def _fresh_state(config: RunConfig) -> LoopState:
    """New parts (model weights from the seed), optimizer and shuffle order; no schedule,
    no early stopping and no resume: the test sets the lr itself, step by step."""
    probe = config.replace(
        schedule="constant",
        warmup_steps=0,
        milestones=(),
        gamma=None,
        early_stopping=None,
        resume_at=None,
    )
    return start(build_parts(probe))


def _batches(state: LoopState, steps: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Training batches, epoch after epoch (a new shuffle each), until `steps` are given."""
    parts, given = state.parts, 0
    while True:
        loader = make_loader(
            parts.data.train,
            parts.config.examples_per_step,
            parts.config.shuffle,
            state.shuffle_generator,
        )
        for batch in loader:
            if given == steps:
                return
            given += 1
            yield batch


def _train_on(state: LoopState, inputs: Tensor, targets: Tensor) -> float:
    """One ordinary training step (forward, loss, backward, step); the batch's loss."""
    parts = state.parts
    if parts.train_transform is not None:
        inputs = parts.train_transform(inputs)
    loss = parts.train_step(
        parts.model, inputs, targets, parts.loss_fn, state.optimizer, parts.config.grad_clip
    )
    return loss.item()


def _read(
    lrs: list[float], losses: list[float], smoothed: list[float], stopped_early: bool
) -> RangeTest:
    """Where the smoothed loss was lowest, where it fell fastest, and the suggestion."""
    finite = [i for i, value in enumerate(smoothed) if math.isfinite(value)]
    lowest = min(finite, key=lambda i: smoothed[i])
    # The fall per step of log(lr) is the same everywhere (exponential lr), so the steepest
    # fall per factor of lr is the largest drop from one step to the next before the minimum.
    drops = [smoothed[i - 1] - smoothed[i] for i in range(1, lowest + 1)]
    steepest = 1 + max(range(len(drops)), key=drops.__getitem__) if drops else lowest
    return RangeTest(
        lrs=lrs,
        losses=losses,
        smoothed=smoothed,
        min_lr=lrs[lowest],
        suggested_lr=lrs[lowest] / SUGGESTION_BELOW_MINIMUM,
        steepest_lr=lrs[steepest],
        stopped_early=stopped_early,
    )
