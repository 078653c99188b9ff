"""Bugs of training in practice: accumulating gradients, augmenting, stopping early, resuming."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from engine.augment import shift_and_rotate
from engine.checkpoint import restore
from engine.config import RunConfig
from engine.source import changed_lines
from engine.step import LossFn, TrainingParts, accumulation_step, watch_val_loss
from engine.variants.variant import Variant


def accumulation_step_undivided(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
    micro_batch_size: int = 32,
) -> Tensor:
    """engine.step.accumulation_step with the division by K forgotten."""
    optimizer.zero_grad()
    micro_inputs = inputs.split(micro_batch_size)
    micro_targets = targets.split(micro_batch_size)
    k = len(micro_inputs)  # K, or fewer at the end of an epoch
    total = inputs.new_zeros(())
    for x, y in zip(micro_inputs, micro_targets, strict=True):  # one micro-batch at a time
        loss = loss_fn(model(x), y)  # 1-2. forward and loss on one micro-batch
        loss.backward()  # BUG: not divided by K, so .grad ends up K times too large
        total += loss.detach()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()  # 4. step: once, with the gradient of all K micro-batches
    return total / k


def undivided_accumulation(parts: TrainingParts) -> TrainingParts:
    """Accumulate the config's micro-batches without dividing their losses by K."""
    step = partial(accumulation_step_undivided, micro_batch_size=parts.config.batch_size)
    return replace(parts, train_step=step)


def augmented_validation(parts: TrainingParts) -> TrainingParts:
    """The training augmentation applied to the validation split as well."""
    return replace(parts, val_transform=shift_and_rotate)


def watch_train_loss(train_loss: float, val_loss: float | None) -> float:
    """engine.step.watch_val_loss watching the wrong curve."""
    return train_loss  # BUG: the training loss keeps falling, so it never stops


def early_stopping_on_train_loss(parts: TrainingParts) -> TrainingParts:
    """Early stopping that watches the training loss instead of the validation loss."""
    return replace(parts, watch=watch_train_loss)


def resume_model_only(parts: TrainingParts) -> TrainingParts:
    """Resume from the checkpoint without loading the optimizer's state."""
    return replace(parts, resume=partial(restore, skip={"optimizer"}))


def resume_without_schedule(parts: TrainingParts) -> TrainingParts:
    """Resume from the checkpoint without loading the learning-rate schedule's position."""
    return replace(parts, resume=partial(restore, skip={"scheduler"}))


_UNDIVIDED = changed_lines(accumulation_step, accumulation_step_undivided)
_WATCH = changed_lines(watch_val_loss, watch_train_loss)
# Where accumulation's missing division bites: plain SGD with momentum, tuned for the
# divided gradient. Adam divides by the gradient's own size, which hides the bug.
SGD_ACCUMULATING = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "accumulate": 4}

# A run that overfits within its epochs (few examples, a fifth of them mislabelled), so
# that early stopping has something to stop.
OVERFITTING_RUN = {
    "early_stopping": 5,
    "subset": 200,
    "label_noise": 0.2,
    "lr": 3e-3,
    "epochs": 60,
}


def resume_halfway(base: RunConfig) -> dict[str, Any]:
    """Interrupt the run after half its epochs (a one-epoch run cannot be, and says so)."""
    return {"resume_at": base.resume_at or max(1, base.epochs // 2)}


VARIANTS = (
    Variant(
        id="accumulation_not_divided",
        title="Accumulated gradients not divided by K",
        category="scale",
        lessons=("3.5",),
        symptom="Trains as if the learning rate were K times larger: jumpy, then unstable.",
        healthy_code=_UNDIVIDED[0],
        broken_code=_UNDIVIDED[1],
        why="Each micro-batch's backward() adds its gradient into .grad. Divided by K, the "
        "K pieces add up to the mean gradient of the whole batch; undivided, they add up to "
        "K times that, and plain SGD then steps K times too far. (Adam rescales by the "
        "gradient's own size, so with Adam this bug barely shows.)",
        fix="Divide each micro-batch's loss by the number of micro-batches before backward().",
        expected_label="unstable",
        requires=SGD_ACCUMULATING,
        break_loop=undivided_accumulation,
    ),
    Variant(
        id="augment_val",
        title="Augmentation applied to the validation data",
        category="data",
        lessons=("3.7",),
        symptom="Looks healthy, but validation reads worse than the clean test set.",
        healthy_code="on_val = evaluate(model, val_split, loss_fn)",
        broken_code="on_val = evaluate(model, Split(shift_and_rotate(val_split.inputs), "
        "val_split.targets), loss_fn)  # BUG: the training augmentation, on validation",
        why="Augmentation is a training trick: it shows the model new, slightly changed "
        "examples. Validation must measure the model on the data as it will really come. "
        "Augmented, the validation numbers are pessimistic and change with every draw, so "
        "they no longer compare epochs or runs fairly.",
        fix="Build the validation (and test) data without the training transforms.",
        expected_label="healthy",
        requires={"augment": True},
        break_loop=augmented_validation,
    ),
    Variant(
        id="early_stop_on_train",
        title="Early stopping watches the training loss",
        category="bookkeeping",
        lessons=("3.7",),
        symptom="Never stops: trains to the last epoch and overfits, as if it had no patience.",
        healthy_code=_WATCH[0],
        broken_code=_WATCH[1],
        why="The training loss keeps falling while the model memorises its examples, so it "
        "sets a new best almost every epoch and patience never runs out. Only the "
        "validation loss shows the model getting worse on new data.",
        fix="Watch the validation loss (or accuracy) for early stopping.",
        expected_label="overfitting",
        requires=OVERFITTING_RUN,
        break_loop=early_stopping_on_train_loss,
    ),
    Variant(
        id="resume_without_optimizer_state",
        title="Resumed without the optimizer's state",
        category="bookkeeping",
        lessons=("3.8",),
        symptom="The batch loss spikes right after the resume; epoch curves barely show it.",
        healthy_code='optimizer.load_state_dict(checkpoint["optimizer"])',
        broken_code="# BUG: optimizer state not loaded: Adam's moments start again from zero",
        why="Adam keeps two running averages per weight and a step count. A fresh optimizer "
        "starts them at zero, and bias correction then makes its first updates about lr "
        "per weight in the gradient's direction, however small the gradient: a burst of "
        "full-size steps knocks the model off the spot it had settled in.",
        fix="Save optimizer.state_dict() in the checkpoint and load it when resuming.",
        expected_label="healthy",
        requires=resume_halfway,
        break_loop=resume_model_only,
    ),
    Variant(
        id="schedule_restarted_on_resume",
        title="Learning-rate schedule restarted on resume",
        category="bookkeeping",
        lessons=("3.8",),
        symptom="At the resume the learning rate jumps back to its peak, and the loss rises.",
        healthy_code='scheduler.load_state_dict(checkpoint["scheduler"])',
        broken_code="# BUG: scheduler state not loaded: the schedule starts again at step 0",
        why="A schedule is a function of the step count. A fresh scheduler counts from 0, "
        "so a cosine schedule that had decayed to half its peak is back at the peak, and "
        "the training that the lower rate allowed is undone.",
        fix="Save scheduler.state_dict() in the checkpoint and load it when resuming.",
        expected_label="healthy",
        requires=lambda base: {**resume_halfway(base), "schedule": "cosine"},
        break_loop=resume_without_schedule,
    ),
)
