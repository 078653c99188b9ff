"""What depth does to the signal and the gradient: at initialisation, and while training.

Three measurements for lessons 3.3 (weight initialisation) and 3.4 (deeper networks):

- `signal_through_depth`: one forward and one backward of a fresh MLP on a batch of
  digits; each hidden layer's activation std, saturated fraction and weight-gradient norm.
- `symmetry_after_training`: train, then ask how different the hidden units' incoming
  weight vectors became (zero init: not at all).
- `gradient_heatmap`: train, and keep every layer's weight-gradient norm at every step.

Every number comes from the engine's own parts: `build_model` (so `mlp` and `initialise`),
`build_parts`, the loop's `run` with its `train_step`, and `gradient_norms`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.activations import ActivationRecorder
from engine.config import RunConfig, default_config
from engine.data import load_data
from engine.device import limit_threads
from engine.loop import gradient_norms, run
from engine.models import build_model
from engine.records import Record, StepRecord
from engine.results import RunResult
from engine.step import TrainingParts, make_loss_fn
from engine.training import build_parts


@dataclass(frozen=True)
class SignalProfile:
    """One fresh MLP's hidden layers at initialisation, layer 1 next to the input.

    activation_std: std of each hidden layer's outputs after its activation, over the
    batch and the units. saturated: the fraction of tanh outputs beyond +-0.99 (sigmoid:
    below 0.01 or above 0.99), where the slope is nearly 0; None for activations that do
    not saturate. grad_norm: the L2 norm of each hidden layer's weight gradient after
    one backward of the batch's loss; out_grad_norm the same for the output layer.
    """

    layers: tuple[str, ...]
    activation_std: tuple[float, ...]
    saturated: tuple[float, ...] | None
    grad_norm: tuple[float, ...]
    out_grad_norm: float
    loss: float


def signal_through_depth(
    depth: int = 20,
    width: int = 128,
    activation: str = "tanh",
    init: str = "xavier",
    init_scale: float = 1.0,
    batch: int = 256,
    seed: int = 42,
) -> SignalProfile:
    """Forward one batch of standardised digits through a fresh MLP of `depth` hidden
    layers of `width` units, then backward its cross-entropy loss, and measure each layer.

    The model is built by `engine.models.build_model` (the config's seed, `mlp`, then
    `initialise(init, init_scale)`), so it starts exactly as a run with these settings
    would. Raises ConfigError for a setting outside the config's range (depth above 24,
    an unknown init or activation) and ValueError for an activation that is not watched
    (identity has no bend to measure).
    """
    config = default_config(
        "digits",
        hidden=(width,) * depth,
        activation=activation,
        init=init,
        init_scale=init_scale,
        seed=seed,
    )
    limit_threads(config.threads)
    data = load_data(config)
    model = build_model(config, data.input_shape, data.n_classes)
    inputs, targets = data.train.inputs[:batch], data.train.targets[:batch]
    with ActivationRecorder(model) as recorder:
        loss = make_loss_fn(config, data)(model(inputs), targets)  # forward and loss
    loss.backward()  # backward: every layer's weight gradient from this one batch
    stats = recorder.stats()
    names = [f"act{number}" for number in range(1, depth + 1)]
    if any(name not in stats for name in names):
        raise ValueError(
            f"activation = {activation!r} is not allowed here: expected one whose outputs "
            "can be watched (relu, tanh, sigmoid, gelu, leaky_relu)"
        )
    _, layer_norms = gradient_norms(model)
    saturated = [stats[name]["saturated"] for name in names]
    return SignalProfile(
        layers=tuple(f"fc{number}" for number in range(1, depth + 1)),
        activation_std=tuple(float(stats[name]["std"] or 0.0) for name in names),
        saturated=None if None in saturated else tuple(float(s or 0.0) for s in saturated),
        grad_norm=tuple(layer_norms[f"fc{number}"] for number in range(1, depth + 1)),
        out_grad_norm=layer_norms["out"],
        loss=loss.item(),
    )


@dataclass(frozen=True)
class SymmetryReport:
    """How alike the hidden units are after training, layer by layer (fc1 first).

    max_distance: the largest L2 distance between two units' incoming weight vectors
    (rows of the layer's weight matrix); 0 means every unit in the layer is the same
    unit. mean_norm: the rows' mean L2 norm, the scale to read the distance against.
    first_layer: fc1's weight matrix after training (units x inputs), to draw.
    """

    layers: tuple[str, ...]
    max_distance: tuple[float, ...]
    mean_norm: tuple[float, ...]
    first_layer: np.ndarray
    steps: int
    val_acc: float | None


def symmetry_after_training(config: RunConfig, steps: int = 200) -> SymmetryReport:
    """Train the config's MLP for `steps` optimizer steps, then compare its hidden units.

    With init "zeros" every unit of a layer starts equal, receives the same gradient and
    so stays equal: the distances stay 0. A random init makes them differ from the start.
    Raises ConfigError for a bad config, ValueError for a model without hidden layers or
    for steps below 1.
    """
    if not config.hidden or config.model != "mlp":
        raise ValueError(f"model = {config.model!r} with hidden = {config.hidden}: need an mlp")
    parts = build_parts(config.replace(epochs=epochs_for(config, steps)))
    result = _train_for_steps(parts, steps)
    linear = _hidden_linear_layers(parts.model)
    distances, norms = [], []
    for layer in linear.values():
        rows = layer.weight.detach().double()
        distances.append(torch.cdist(rows, rows).max().item())
        norms.append(rows.norm(dim=1).mean().item())
    last_epoch = result.epochs[-1] if result.epochs else None
    return SymmetryReport(
        layers=tuple(linear),
        max_distance=tuple(distances),
        mean_norm=tuple(norms),
        first_layer=linear["fc1"].weight.detach().cpu().numpy().copy(),
        steps=len(result.steps),
        val_acc=last_epoch.val_acc if last_epoch else None,
    )


@dataclass(frozen=True)
class GradientHeatmap:
    """Every linear layer's weight-gradient norm at every training step.

    grad_norms[i, j] is layer layers[i]'s norm at step steps[j] (layers in network order:
    fc1 next to the input, out last). losses[j] is that step's batch loss; val_acc the
    val accuracy at the end of the last (possibly partial) epoch.
    """

    layers: tuple[str, ...]
    steps: tuple[int, ...]
    grad_norms: np.ndarray
    losses: tuple[float, ...]
    val_acc: float | None
    status: str


def gradient_heatmap(config: RunConfig, steps: int = 300) -> GradientHeatmap:
    """Train the config for `steps` optimizer steps through the engine's own loop and keep
    each linear layer's weight-gradient norm (`engine.loop.gradient_norms`) after every
    step, while the gradients of that step are still in `.grad`.

    A run that diverges stops there (status "diverged", fewer steps). Raises ConfigError
    for a bad config and ValueError for steps below 1.
    """
    parts = build_parts(config.replace(epochs=epochs_for(config, steps)))
    recorded: list[dict[str, float]] = []
    losses: list[float] = []

    def on_event(record: Record) -> None:
        if isinstance(record, StepRecord):  # called right after the step: .grad is fresh
            recorded.append(gradient_norms(parts.model)[1])
            losses.append(record.loss)

    result = _train_for_steps(parts, steps, on_event)
    names = tuple(_linear_layers(parts.model))
    matrix = np.array([[norms[name] for norms in recorded] for name in names], dtype=float)
    last_epoch = result.epochs[-1] if result.epochs else None
    return GradientHeatmap(
        layers=names,
        steps=tuple(range(1, len(recorded) + 1)),
        grad_norms=matrix.reshape(len(names), len(recorded)),
        losses=tuple(losses),
        val_acc=last_epoch.val_acc if last_epoch else None,
        status=result.status,
    )


def _train_for_steps(
    parts: TrainingParts, steps: int, on_event: Callable[[Record], None] | None = None
) -> RunResult:
    """The loop's own `run`, stopped after `steps` optimizer steps (the parts' config
    holds enough epochs for them; see `epochs_for`). Raises ValueError for steps below 1."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps = {steps!r} is not allowed: expected a whole number from 1")
    taken = [0]

    def count(record: Record) -> None:
        if isinstance(record, StepRecord):
            taken[0] += 1
        if on_event is not None:
            on_event(record)

    return run(parts, on_event=count, should_stop=lambda: taken[0] >= steps)


def _linear_layers(model: nn.Module) -> dict[str, nn.Linear]:
    """The model's linear layers by name, in network order (fc1, ..., out)."""
    return {name: layer for name, layer in model.named_modules() if isinstance(layer, nn.Linear)}


def _hidden_linear_layers(model: nn.Module) -> dict[str, nn.Linear]:
    return {name: layer for name, layer in _linear_layers(model).items() if name != "out"}


def epochs_for(config: RunConfig, steps: int) -> int:
    """Epochs of the config's training set that hold at least `steps` optimizer steps."""
    per_epoch = math.ceil(len(load_data(config).train) / config.examples_per_step)
    return max(1, math.ceil(steps / per_epoch))
