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


@dataclass
class TrainingParts:
    """Everything the loop uses. A broken variant swaps one of these for its buggy twin."""

    config: RunConfig
    data: DataBundle
    model: nn.Module
    loss_fn: LossFn
    train_step: StepFn = train_step
    evaluate: EvaluateFn = evaluate


def make_loss_fn(config: RunConfig, data: DataBundle) -> LossFn:
    """Cross-entropy on logits for classification, mean squared error otherwise."""
    if config.loss == "mse" or data.task == "regression":
        return nn.MSELoss()
    return nn.CrossEntropyLoss()
