"""Bugs in what the loop keeps around between steps."""

from __future__ import annotations

from dataclasses import replace

from engine.loop import TrainingParts
from engine.variants import Variant


def keep_loss_tensors(parts: TrainingParts) -> TrainingParts:
    """Append the loss tensor itself (graph and all) to the history, every step."""
    return replace(parts, keep_loss_tensors=True)


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
