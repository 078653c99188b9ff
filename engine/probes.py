"""Overfit one batch: the single best check that a training loop can learn at all.

A healthy model and loop can drive the loss on one small, fixed batch to almost zero
within a few hundred steps. If it cannot, no amount of data or epochs will help: the
bug is in the loop, the loss or the model, not in the data's difficulty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from engine.config import RunConfig
from engine.training import start_run


@dataclass(frozen=True)
class ProbeResult:
    """Loss at every step on the one batch, and a plain verdict."""

    losses: tuple[float, ...]
    batch_size: int
    learned: bool
    verdict: str
    error: str | None = None


def overfit_one_batch(
    config: RunConfig, batch_size: int = 32, steps: int = 200, target_fraction: float = 0.05
) -> ProbeResult:
    """Train repeatedly on the first `batch_size` training examples of the config's run.

    The run's variant (if any) is in place, so a broken loop fails the probe the way it
    would fail in real training. Learned means the final loss fell below
    target_fraction of the first loss (and below 0.1 in absolute terms).
    """
    state = start_run(config)  # the run's own parts, optimizer and clipping, bug included
    parts = state.parts
    inputs = parts.data.train.inputs[:batch_size]
    targets = parts.data.train.targets[:batch_size]
    losses: list[float] = []
    try:
        for _ in range(steps):
            loss = parts.train_step(
                parts.model, inputs, targets, parts.loss_fn, state.optimizer, config.grad_clip
            )
            losses.append(loss.item())
            if not torch.isfinite(loss):
                break
    except Exception as error:  # a broken loop's exception is the probe's answer
        message = f"{type(error).__name__}: {error}"
        return ProbeResult(
            tuple(losses),
            batch_size,
            False,
            f"The loop crashed before it could learn anything ({message}).",
            message,
        )
    return ProbeResult(tuple(losses), batch_size, *_verdict(losses, target_fraction))


def _verdict(losses: list[float], target_fraction: float) -> tuple[bool, str]:
    first, last = losses[0], losses[-1]
    if not all(math.isfinite(value) for value in losses):
        return False, (
            "The loss became NaN or infinite on a single batch: the steps are far "
            "too large (learning rate) or the loss is computed wrongly."
        )
    if last < 0:
        return False, (
            f"The loss went negative ({last:.3g}): for cross-entropy that is "
            "impossible, so the loss is being computed wrongly."
        )
    if last < 0.1 or last <= target_fraction * first:
        return True, (
            f"Yes: the loss on one batch fell from {first:.3g} to {last:.3g} in "
            f"{len(losses)} steps. The loop can learn; if full training still "
            "fails, look at the data and the hyper-parameters."
        )
    return False, (
        f"No: after {len(losses)} steps on the same batch the loss only went from "
        f"{first:.3g} to {last:.3g}. Something in the loop, the loss or the model "
        "stops learning: check zero_grad/step, the loss arguments, the learning "
        "rate and that every layer reaches the optimizer."
    )
