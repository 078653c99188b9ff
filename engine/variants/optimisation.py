"""Bugs in how the weights are updated: step size, gradient bookkeeping, initial weights."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from engine.config import OPTIMIZER_CLASSES, RunConfig
from engine.step import LossFn, Scheduler
from engine.variants.variant import Variant

# Each broken step is engine.step.train_step with one change, marked BUG. The app shows
# and exports the lines where it differs from train_step, read from both functions' source.


def step_without_zero_grad(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
) -> Tensor:
    """The healthy step with optimizer.zero_grad() forgotten."""
    # BUG: no optimizer.zero_grad(), so backward() adds onto every earlier batch's gradient
    outputs = model(inputs)  # 1. forward: the model's predictions for this batch
    loss = loss_fn(outputs, targets)  # 2. loss: one number, how wrong they are
    loss.backward()  # 3. backward: d(loss)/d(weight) for every weight, into .grad
    if max_grad_norm is not None:  # optional: shorten a too-long gradient before using it
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()  # 4. step: nudge every weight against its gradient
    return loss


def step_without_step(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
) -> Tensor:
    """The healthy step with optimizer.step() forgotten."""
    optimizer.zero_grad()  # gradients add up in PyTorch: clear the last batch's
    outputs = model(inputs)  # 1. forward: the model's predictions for this batch
    loss = loss_fn(outputs, targets)  # 2. loss: one number, how wrong they are
    loss.backward()  # 3. backward: d(loss)/d(weight) for every weight, into .grad
    if max_grad_norm is not None:  # optional: shorten a too-long gradient before using it
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    # BUG: no optimizer.step(), so the weights never change
    return loss


def step_zeroing_too_late(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
) -> Tensor:
    """The healthy step with zero_grad() moved between backward() and step()."""
    outputs = model(inputs)  # 1. forward: the model's predictions for this batch
    loss = loss_fn(outputs, targets)  # 2. loss: one number, how wrong they are
    loss.backward()  # 3. backward: d(loss)/d(weight) for every weight, into .grad
    optimizer.zero_grad()  # BUG: wipes the gradients backward() just computed
    if max_grad_norm is not None:  # optional: shorten a too-long gradient before using it
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()  # 4. step: nudge every weight against its gradient
    return loss


def step_without_clipping(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
) -> Tensor:
    """The healthy step with the gradient clipping line left out."""
    optimizer.zero_grad()  # gradients add up in PyTorch: clear the last batch's
    outputs = model(inputs)  # 1. forward: the model's predictions for this batch
    loss = loss_fn(outputs, targets)  # 2. loss: one number, how wrong they are
    loss.backward()  # 3. backward: d(loss)/d(weight) for every weight, into .grad
    # BUG: no clipping, so one huge gradient throws the weights as far as it likes
    optimizer.step()  # 4. step: nudge every weight against its gradient
    return loss


def advance_schedule_every_batch(
    scheduler: Scheduler, clock: str, moment: str, val_loss: float | None = None
) -> None:
    """The healthy advance_schedule with an epoch-counted schedule ticked per batch."""
    if clock == "steps" and moment == "batch":
        scheduler.step()  # its length is written in optimizer steps
    elif clock == "epochs" and moment == "batch":  # BUG: its milestones are epochs, not batches
        scheduler.step()  # its milestones and decay rate are written in epochs
    elif clock == "val_loss" and moment == "epoch":
        scheduler.step(val_loss)  # lowers the lr once the val loss stops improving


TOO_LOW_LR = 1e-6


def too_high_lr(base: RunConfig) -> float:
    """A learning rate far past the stable edge for the baseline's optimizer.

    Adaptive optimizers step about lr per weight, so 1.0 is a thousand times their usual
    1e-3; plain SGD on standardised inputs turns unstable near lr = 1, so 1.5 overshoots
    by more each step (lesson 1.4's eta * c > 2).
    """
    return 1.5 if base.optimizer == "sgd" else 1.0


def optimizer_lines(base: RunConfig, broken_lr: float) -> tuple[str, str]:
    """The optimizer line of the baseline and the same line with the broken learning rate."""
    line = f"optimizer = torch.optim.{OPTIMIZER_CLASSES[base.optimizer]}(model.parameters(), lr="
    return f"{line}{base.lr!r})", f"{line}{broken_lr!r})"


DEEP_SIGMOID = {"hidden": (32,) * 11, "activation": "sigmoid", "optimizer": "sgd", "lr": 0.1}
DEEP_RELU_FAST = {
    "hidden": (128,) * 8,
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "init": "kaiming",
    "grad_clip": 1.0,
}

# lesson 3.1: weight decay strong enough that where it acts matters
DECAYED_ADAMW = {"optimizer": "adamw", "weight_decay": 0.1}
PLAIN_SGD = {"optimizer": "sgd", "lr": 0.3}  # a step size tuned for SGD without momentum
TANH_XAVIER = {"activation": "tanh", "init": "xavier"}
# A deep, narrow stack (Linear -> LayerNorm -> ReLU, 12 times) at a peak lr it can only take
# after a warm-up; 5 short epochs of 16 steps keep the pair cheap. Measured: without the
# warm-up every seed tried ends at chance; tests/test_lesson_claims_3_2.py has the figures.
WARMED_DEEP_LN = {
    "hidden": (128,) * 12,
    "layer_norm": True,
    "batch_size": 80,
    "epochs": 5,
    "lr": 0.0075,
    "schedule": "cosine",
    "warmup_steps": 30,
}
TOO_LARGE_INIT_SCALE = 5.0

VARIANTS = (
    Variant(
        id="lr_too_high",
        title="Learning rate far too high",
        category="optimisation",
        lessons=("1.2", "1.4", "1.6", "3.1", "3.2", "3.5"),
        symptom="Loss explodes in the first steps, then sticks near chance (ln K) or overflows.",
        healthy_code="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)",
        broken_code="optimizer = torch.optim.Adam(model.parameters(), lr=1.0)",
        why="Each step moves the weights by roughly the learning rate. Far too large, a single "
        "step jumps clean over the valley of the loss and lands higher up the other side. "
        "Plain gradient descent then overshoots by more every step until the loss overflows; "
        "a classifier trained with Adam sees its logits grow huge and its ReLUs die, leaving "
        "a network that predicts chance.",
        fix="Lower the learning rate by factors of 10 (1e-3 is a good start for Adam) or run "
        "a learning-rate range test; add warm-up or gradient clipping if spikes remain.",
        expected_label="diverged",
        configure=lambda base: {"lr": too_high_lr(base)},
        code_for=lambda base: optimizer_lines(base, too_high_lr(base)),
    ),
    Variant(
        id="lr_too_low",
        title="Learning rate far too low",
        category="optimisation",
        lessons=("1.2", "1.4", "2.7", "3.2"),
        symptom="Flat: the loss barely moves from where it started.",
        healthy_code="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)",
        broken_code="optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)",
        why="The gradients point the right way, but each step is far too short: after every "
        "epoch the weights have barely moved from where they started.",
        fix="Raise the learning rate by factors of 10 until the loss falls clearly in the "
        "first epoch (a learning-rate range test finds the edge quickly).",
        expected_label="not_learning",
        configure=lambda base: {"lr": TOO_LOW_LR},
        code_for=lambda base: optimizer_lines(base, TOO_LOW_LR),
    ),
    Variant(
        id="no_zero_grad",
        title="optimizer.zero_grad() forgotten",
        category="optimisation",
        lessons=("1.1", "1.6", "2.3", "3.6"),
        symptom="Erratic, spiky loss; validation loss jumps around.",
        why="PyTorch adds each backward() into .grad instead of replacing it. Without "
        "zero_grad() every step follows the sum of all past gradients, a stale and ever "
        "larger direction, so the weights overshoot again and again.",
        fix="Call optimizer.zero_grad() once per step, before loss.backward() (or accumulate "
        "over K batches on purpose, then step and zero).",
        expected_label="unstable",
        broken_step=step_without_zero_grad,
    ),
    Variant(
        id="no_step",
        title="optimizer.step() forgotten",
        category="optimisation",
        lessons=("1.1", "1.6", "2.3", "3.6"),
        symptom="Perfectly flat loss: the weights never change.",
        why="backward() only computes gradients; it is optimizer.step() that uses them to "
        "change the weights. Without it the model is the same at every epoch.",
        fix="Call optimizer.step() after loss.backward() in every training step.",
        expected_label="not_learning",
        broken_step=step_without_step,
    ),
    Variant(
        id="zero_grad_after_backward",
        title="zero_grad() between backward() and step()",
        category="optimisation",
        lessons=("1.1", "1.5", "3.6"),
        symptom="Perfectly flat loss; the gradient is zero when step() looks at it.",
        why="zero_grad() erases the gradients that backward() just filled in, so step() "
        "sees nothing to follow and skips every weight.",
        fix="Zero the gradients at the start of the step (or right after step()), never "
        "between backward() and step().",
        expected_label="not_learning",
        broken_step=step_zeroing_too_late,
    ),
    Variant(
        id="zero_init",
        title="All weights initialised to zero",
        category="optimisation",
        lessons=("3.3",),
        symptom="No learning: every hidden unit is identical and gets zero gradient.",
        healthy_code="model = make_mlp()  # PyTorch's default random init",
        broken_code="model = make_mlp()\nfor p in model.parameters():\n    nn.init.zeros_(p)",
        why="With every weight zero, every hidden unit computes the same thing and receives "
        "the same (here zero) gradient: the symmetry is never broken. Only the output "
        "bias learns, so the model predicts the most common class for every input.",
        fix="Initialise weights randomly (PyTorch's default, or Kaiming for ReLU / Xavier "
        "for tanh); zeros are fine only for biases.",
        expected_label="collapsed",
        configure=lambda base: {"init": "zeros"},
    ),
    Variant(
        id="vanishing_gradients",
        title="Vanishing gradients in a deep sigmoid net",
        category="optimisation",
        lessons=("2.4", "3.4"),
        symptom="Flat loss, one class predicted for everything; first-layer gradient ~1e-9.",
        healthy_code="hidden = (128, 64); activation = nn.ReLU\n"
        "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)",
        broken_code="hidden = (32,) * 11; activation = nn.Sigmoid\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)",
        why="The sigmoid's slope is at most 0.25, and backprop multiplies one such factor per "
        "layer: through 12 layers the signal reaching the first layer shrinks a "
        "millionfold, so the early layers never learn.",
        fix="Use ReLU-family activations with Kaiming init, add normalisation or skip "
        "connections, or use an adaptive optimizer; watch per-layer gradient norms.",
        expected_label="collapsed",
        configure=lambda base: dict(DEEP_SIGMOID),
    ),
    Variant(
        id="exploding_gradients",
        title="Exploding gradients without clipping",
        category="optimisation",
        lessons=("3.4",),
        symptom="A deep net with a large step size hits NaN; clipping the gradient fixes it.",
        why="In a deep net the gradient is a product of many layer factors, so it can be "
        "enormous; with a large learning rate and momentum one such step throws the "
        "weights so far that the loss overflows to NaN.",
        fix="Clip the total gradient norm (clip_grad_norm_ with max 1.0) between backward() "
        "and step(), and/or lower the learning rate.",
        expected_label="diverged",
        requires={**DEEP_RELU_FAST},  # max_grad_norm=1.0 is set; the broken step ignores it
        broken_step=step_without_clipping,
    ),
    Variant(
        id="adam_l2_not_adamw",
        title="Adam with weight_decay where AdamW was meant",
        category="optimisation",
        lessons=("3.1",),
        symptom="Train loss stalls well above zero; the weights are held small everywhere.",
        healthy_code="optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)",
        broken_code="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.1)",
        why="Adam's weight_decay adds wd * w to the gradient before Adam divides by "
        "sqrt(v). A weight whose own gradient is small then moves almost only by the "
        "decay, about lr per step towards zero: strong regularisation where the data "
        "says nothing, and little where it does. AdamW shrinks every weight by lr * wd * w "
        "outside the adaptive step, which is the decay the setting was tuned for.",
        fix="Use torch.optim.AdamW for weight decay with Adam; with Adam's coupled L2 the "
        "value would have to be far smaller (and then decays unevenly).",
        expected_label="underfitting",
        requires=DECAYED_ADAMW,
        configure=lambda base: {"optimizer": "adam"},
    ),
    Variant(
        id="momentum_with_sgd_lr",
        title="Momentum added, learning rate kept from plain SGD",
        category="optimisation",
        lessons=("3.1",),
        symptom="Loss jumps up within the first epoch and the net predicts one class.",
        healthy_code="optimizer = torch.optim.SGD(model.parameters(), lr=0.3)",
        broken_code="optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)",
        why="With momentum beta, a steady gradient builds up a velocity 1/(1 - beta) times "
        "longer than one step: momentum 0.9 makes lr 0.3 act like 3.0. A learning rate "
        "tuned for plain SGD is ten times too large once momentum is switched on.",
        fix="Divide the learning rate by about 1/(1 - momentum) (0.03 here) when adding "
        "momentum, then tune it again.",
        expected_label="collapsed",
        requires=PLAIN_SGD,
        configure=lambda base: {"momentum": 0.9},
    ),
    Variant(
        id="schedule_per_batch",
        title="Epoch schedule stepped every batch",
        category="optimisation",
        lessons=("3.2",),
        symptom="Learning stops within the first epoch: the lr fell 100x after a few batches.",
        why="MultiStepLR's milestones are counted in calls to scheduler.step(). Written for "
        "epochs (divide by 10 at epochs 6 and 13) but called once per batch, the lr is "
        "divided by 100 after batch 13 of the first epoch, and the rest of training takes "
        "steps too small to learn.",
        fix="Call an epoch-counted scheduler once per epoch, outside the batch loop; only "
        "step-counted ones (warm-up, OneCycleLR, a LambdaLR over total steps) tick per batch.",
        expected_label="underfitting",
        requires={"schedule": "step"},
        broken_schedule=advance_schedule_every_batch,
    ),
    Variant(
        id="no_warmup",
        title="No warm-up for a deep net at a high lr",
        category="optimisation",
        lessons=("3.2",),
        symptom="Loss sticks at ln 10 from the first epoch: one class predicted for everything.",
        healthy_code="scheduler = LambdaLR(optimizer, lr_factor('cosine', total_steps, "
        "warmup_steps=30))",
        broken_code="scheduler = LambdaLR(optimizer, lr_factor('cosine', total_steps, "
        "warmup_steps=0))",
        why="Adam's first step moves every weight by about the full lr at once: with a single "
        "gradient seen, m / sqrt(v) is close to +-1 whatever the gradient's size. Through a "
        "12-layer stack those coordinated moves add up, and after one such step a large share "
        "of the ReLUs output nothing for any input. They get no gradient, so they never come "
        "back, and the net is left predicting one class. Starting at lr / 30 and rising over "
        "30 steps lets the same peak lr train.",
        fix="Warm the lr up linearly over the first tens to hundreds of steps (longer for "
        "deeper nets and higher peaks), or lower the peak lr; watch the first steps' loss and "
        "the fraction of dead units.",
        expected_label="collapsed",
        requires=WARMED_DEEP_LN,
        configure=lambda base: {"warmup_steps": 0},
    ),
    Variant(
        id="init_too_large",
        title="Initial weights far too large for tanh",
        category="optimisation",
        lessons=("3.3",),
        symptom="Train loss falls but val accuracy stalls far below the baseline's.",
        healthy_code="nn.init.xavier_uniform_(layer.weight)",
        broken_code="nn.init.xavier_uniform_(layer.weight)\nlayer.weight.data *= 5.0",
        why="Xavier's scale keeps each layer's outputs about as spread as its inputs. Five "
        "times larger weights push about half the tanh units to +-1 (|a| > 0.99), where the "
        "slope is nearly zero: they act like on/off switches. The large weights also make the "
        "gradients several times larger, so the units still in their sensitive range jump "
        "about, and the net memorises the training set with features that do not generalise.",
        fix="Keep the standard init for the activation (Xavier for tanh, Kaiming for ReLU) "
        "and check each layer's activation std at initialisation (close to 1, not saturated).",
        expected_label="overfitting",
        requires=TANH_XAVIER,
        configure=lambda base: {"init_scale": TOO_LARGE_INIT_SCALE},
    ),
)
