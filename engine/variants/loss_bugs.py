"""Bugs in how the loss is computed: argument order, double softmax, the wrong loss."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn

from engine.step import LossFn, TrainingParts
from engine.variants.variant import Variant


class SwappedArguments(nn.Module):
    """Calls the loss as loss_fn(targets, outputs): the arguments in the wrong order."""

    def __init__(self, loss_fn: LossFn) -> None:
        super().__init__()
        self.loss_fn = loss_fn

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.loss_fn(targets, outputs)  # BUG: should be loss_fn(outputs, targets)


def swap_loss_arguments(parts: TrainingParts) -> TrainingParts:
    """Every loss call, training and validation, passes (targets, outputs)."""
    return replace(parts, loss_fn=SwappedArguments(parts.loss_fn))


def end_model_with_softmax(parts: TrainingParts) -> TrainingParts:
    """Append nn.Softmax to the model, then feed its probabilities to CrossEntropyLoss."""
    return replace(parts, model=nn.Sequential(parts.model, nn.Softmax(dim=1)))


SWAPPED = dict(
    category="loss",
    lessons=("3.6",),
    healthy_code="loss = loss_fn(outputs, targets)",
    broken_code="loss = loss_fn(targets, outputs)",
    why="CrossEntropyLoss(input, target) expects raw scores first and labels second. "
    "Swapped, it treats the labels as scores: with integer labels it cannot take their "
    "softmax and PyTorch raises; with one-hot labels it runs, treats the model's "
    "outputs as target probabilities, and the optimiser drives the 'loss' below zero "
    "without bound, a value cross-entropy can never take.",
    fix="Call loss_fn(outputs, targets): predictions first, labels second.",
    break_loop=swap_loss_arguments,
)

VARIANTS = (
    Variant(
        id="swapped_loss_args",
        title="Loss arguments swapped",
        symptom="With integer labels PyTorch raises an error at the first step.",
        expected_label="crashed",
        **SWAPPED,
    ),
    Variant(
        id="swapped_loss_args_one_hot",
        title="Loss arguments swapped (one-hot labels)",
        symptom="Runs, but the loss goes negative and keeps falling: impossible for cross-entropy.",
        expected_label="impossible_loss",
        configure=lambda base: {"one_hot_labels": True},
        **SWAPPED,
    ),
    Variant(
        id="softmax_before_ce",
        title="Softmax before CrossEntropyLoss",
        category="loss",
        lessons=("2.3", "3.6"),
        symptom="Loss floors well above 0 (about 1.46 for 10 classes) while accuracy is high.",
        healthy_code="return self.out(x)",
        broken_code="return torch.softmax(self.out(x), dim=1)  # probabilities, not logits",
        why="CrossEntropyLoss applies log-softmax itself. Given probabilities, it squashes "
        "numbers already between 0 and 1: even a perfectly confident answer scores "
        "ln(1 + 9/e) = 1.46 for 10 classes, and the gradients shrink, so learning slows.",
        fix="Let the model output raw logits; apply softmax only when you need probabilities "
        "for display.",
        expected_label="loss_floor",
        break_loop=end_model_with_softmax,
    ),
    Variant(
        id="mse_for_classification",
        title="MSELoss for classification",
        category="loss",
        lessons=("2.3",),
        symptom="Loss on another scale (near 0.01); often slower, though Adam on digits hides it.",
        healthy_code="loss_fn = nn.CrossEntropyLoss()",
        broken_code="loss_fn = nn.MSELoss()  # on one-hot targets",
        why="Mean squared error on one-hot targets treats class scores as numbers to hit, not "
        "probabilities: its gradient shrinks as an output nears its target and gives a "
        "confidently wrong answer no extra push, where cross-entropy's grows. On small, "
        "easy data with Adam the difference can hardly show; on harder data and with "
        "plain SGD it learns more slowly. Its loss values (around 0.01) are also not "
        "comparable to ln K, which confuses any reading based on the chance-level loss.",
        fix="Use CrossEntropyLoss on raw logits and integer labels for classification.",
        expected_label="healthy",
        configure=lambda base: {"loss": "mse"},
    ),
)
