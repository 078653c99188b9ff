"""Bugs in what the loop keeps around between steps."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from engine.step import LossFn, TrainingParts
from engine.variants.variant import Variant


def keep_loss_tensors(parts: TrainingParts) -> TrainingParts:
    """Wrap the step so every loss tensor (graph and all) is appended to a history list."""
    history: list[Tensor] = []
    step = parts.train_step

    def step_logging_tensors(
        model: nn.Module,
        inputs: Tensor,
        targets: Tensor,
        loss_fn: LossFn,
        optimizer: torch.optim.Optimizer,
        max_grad_norm: float | None = None,
    ) -> Tensor:
        loss = step(model, inputs, targets, loss_fn, optimizer, max_grad_norm)
        history.append(loss)  # BUG: the tensor keeps its autograd graph alive; use loss.item()
        return loss

    return replace(parts, train_step=step_logging_tensors)


VARIANTS = (
    Variant(
        id="logging_tensors",
        title="Logging loss tensors instead of numbers",
        category="bookkeeping",
        lessons=("3.6",),
        symptom="Curves look fine, but memory grows every step.",
        healthy_code="history.append(loss.item())",
        broken_code="history.append(loss)",
        why="A loss tensor remembers the whole computation that produced it, activations "
        "included, so autograd can go backward through it. Keeping it in a list keeps "
        "every step's graph alive: memory grows with every step until the run dies.",
        fix="Log plain numbers: loss.item() (or loss.detach() if it must stay a tensor).",
        expected_label="healthy",
        break_loop=keep_loss_tensors,
    ),
)
