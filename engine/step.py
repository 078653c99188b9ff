"""The code a learner reads: one training step, one evaluation, and the parts they use.

Everything the app shows as "the loop" or writes into an exported script is this file's
own source, read with `inspect.getsource`, so the page and the running code cannot drift.
A broken variant swaps one of these parts for its buggy twin. This module is a leaf: it
imports torch and the config, nothing else from the engine, and everything else imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from engine.config import RunConfig

LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Split:
    """Inputs and loss targets of one split (train, val or test)."""

    inputs: Tensor
    targets: Tensor

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def labels(self) -> Tensor:
        """Integer class labels, whether targets are indices or one-hot rows."""
        return self.targets.argmax(dim=1) if self.targets.dim() == 2 else self.targets


@dataclass(frozen=True)
class DataBundle:
    """The three splits of a dataset plus what a model needs to know about it."""

    name: str
    task: str  # "classification" or "regression"
    train: Split
    val: Split
    test: Split
    n_classes: int  # 0 for regression
    input_shape: tuple[int, ...]  # one example, e.g. (1, 8, 8)


def train_step(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
) -> Tensor:
    """One step of gradient descent on one batch; returns the batch's loss."""
    optimizer.zero_grad()  # gradients add up in PyTorch: clear the last batch's
    outputs = model(inputs)  # 1. forward: the model's predictions for this batch
    loss = loss_fn(outputs, targets)  # 2. loss: one number, how wrong they are
    loss.backward()  # 3. backward: d(loss)/d(weight) for every weight, into .grad
    if max_grad_norm is not None:  # optional: shorten a too-long gradient before using it
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()  # 4. step: nudge every weight against its gradient
    return loss


StepFn = Callable[[nn.Module, Tensor, Tensor, LossFn, torch.optim.Optimizer, float | None], Tensor]


def accumulation_step(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
    micro_batch_size: int = 32,
) -> Tensor:
    """One step from K micro-batches: the same gradient as one batch K times larger."""
    optimizer.zero_grad()
    micro_inputs = inputs.split(micro_batch_size)
    micro_targets = targets.split(micro_batch_size)
    k = len(micro_inputs)  # K, or fewer at the end of an epoch
    total = inputs.new_zeros(())
    for x, y in zip(micro_inputs, micro_targets, strict=True):  # one micro-batch at a time
        loss = loss_fn(model(x), y)  # 1-2. forward and loss on one micro-batch
        (loss / k).backward()  # 3. backward: the gradients of all K add up in .grad
        total += loss.detach()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()  # 4. step: once, with the gradient of all K micro-batches
    return total / k


def mixed_precision_step(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
    dtype: torch.dtype = torch.bfloat16,
    scaler: torch.amp.GradScaler | None = None,
) -> Tensor:
    """One step with the forward pass in a 16-bit float type (the weights stay float32)."""
    scaler = scaler or torch.amp.GradScaler(inputs.device.type, enabled=False)
    optimizer.zero_grad()
    with torch.autocast(inputs.device.type, dtype=dtype):  # matrix products in 16 bits
        outputs = model(inputs)  # 1. forward
        loss = loss_fn(outputs, targets)  # 2. loss (autocast computes it in float32)
    # float16 flushes gradients below ~6e-8 to 0: the scaler multiplies the loss first
    scaler.scale(loss).backward()  # 3. backward
    if max_grad_norm is not None:
        scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    scaler.step(optimizer)  # 4. step: unscaled first, skipped if a gradient overflowed
    scaler.update()  # a skipped step halves the scale; a long run of good ones raises it
    return loss


@dataclass(frozen=True)
class Evaluation:
    """A model's loss and predictions on one split, without training it."""

    loss: float
    acc: float | None
    class_counts: tuple[int, ...] | None
    mean_confidence: float | None


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, loss_fn: LossFn) -> Evaluation:
    """Loss and accuracy on a split, with dropout off and no gradient tracking."""
    model.eval()  # dropout off; batch norm uses its running averages
    chunks = split.inputs.split(8192)  # a few thousand at a time keeps memory bounded
    outputs = torch.cat([model(chunk) for chunk in chunks])
    model.train()
    return summarise(outputs, split, loss_fn)


def summarise(outputs: Tensor, split: Split, loss_fn: LossFn) -> Evaluation:
    """Turn a split's model outputs into loss, accuracy, class counts and confidence."""
    targets = split.targets
    loss = loss_fn(outputs, targets)
    if outputs.shape[1] == 1:  # regression: no classes to count
        return Evaluation(loss.item(), None, None, None)
    predictions = outputs.argmax(dim=1)
    acc = (predictions == split.labels.to(predictions.device)).float().mean().item()
    counts = torch.bincount(predictions, minlength=outputs.shape[1]).tolist()
    confidence = torch.softmax(outputs.float(), dim=1).max(dim=1).values.mean().item()
    return Evaluation(loss.item(), acc, tuple(counts), confidence)


EvaluateFn = Callable[[nn.Module, Split, LossFn], Evaluation]


class EarlyStopping:
    """Stop once the watched number has not improved for `patience` epochs, and keep a
    copy of the weights from its best epoch to put back at the end."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_value = float("inf")
        self.best_epoch = 0
        self.best_weights: dict[str, Tensor] = {}

    def should_stop(self, epoch: int, value: float, model: nn.Module) -> bool:
        """Record this epoch's value (lower is better); True when patience has run out."""
        if value < self.best_value:  # a NaN is never an improvement
            self.best_value, self.best_epoch = value, epoch
            self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return epoch - self.best_epoch >= self.patience

    def restore_best(self, model: nn.Module) -> None:
        """Put the best epoch's weights back (the last epochs were worse on validation)."""
        if self.best_weights:
            model.load_state_dict(self.best_weights)


def watch_val_loss(train_loss: float, val_loss: float | None) -> float:
    """What early stopping watches: the loss on data the steps never trained on."""
    return val_loss if val_loss is not None else float("nan")


Scheduler = torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau


def advance_schedule(
    scheduler: Scheduler, clock: str, moment: str, val_loss: float | None = None
) -> None:
    """Tick the learning-rate schedule on the clock it was written for.

    clock: "steps" (warm-up, cosine, one-cycle), "epochs" (milestones, exponential decay)
    or "val_loss" (reduce on plateau); moment: "batch" (after each optimizer step) or
    "epoch" (after the epoch's evaluation).
    """
    if clock == "steps" and moment == "batch":
        scheduler.step()  # its length is written in optimizer steps
    elif clock == "epochs" and moment == "epoch":
        scheduler.step()  # its milestones and decay rate are written in epochs
    elif clock == "val_loss" and moment == "epoch":
        scheduler.step(val_loss)  # lowers the lr once the val loss stops improving


ScheduleFn = Callable[[Scheduler, str, str, float | None], None]


@dataclass
class TrainingParts:
    """Everything the loop uses. A broken variant swaps one of these for its buggy twin."""

    config: RunConfig
    data: DataBundle
    model: nn.Module
    loss_fn: LossFn
    train_step: StepFn = train_step
    evaluate: EvaluateFn = evaluate
    # Applied to each training batch (data augmentation); and to the val split, by a bug.
    train_transform: Callable[[Tensor], Tensor] | None = None
    val_transform: Callable[[Tensor], Tensor] | None = None
    watch: Callable[[float, float | None], float] = watch_val_loss  # for early stopping
    # How a run interrupted at config.resume_at loads its checkpoint (None: all of it).
    resume: Callable[..., None] | None = None
    advance_schedule: ScheduleFn = advance_schedule  # when the lr schedule ticks


def make_loss_fn(config: RunConfig, data: DataBundle) -> LossFn:
    """Cross-entropy on logits for classification, mean squared error otherwise."""
    if config.loss == "mse" or data.task == "regression":
        return nn.MSELoss()
    return nn.CrossEntropyLoss()
