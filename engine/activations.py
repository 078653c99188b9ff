"""What each activation layer outputs, measured with forward hooks while validating.

Per layer: the mean and std of its outputs, the fraction saturated (a sigmoid below 0.01
or above 0.99, a tanh beyond +-0.99: where the derivative is nearly 0) and the fraction of
dead units (a ReLU-like unit that outputs nothing above 0 for any example of the split).
"""

from __future__ import annotations

import math
from types import TracebackType

import pandas as pd
import torch
from torch import Tensor, nn

from engine.models import ACTIVATION_LAYERS

ActivationStats = dict[str, float | None]  # mean, std, saturated, dead (None: not defined)

SATURATES = (nn.Sigmoid, nn.Tanh)
CAN_DIE = (nn.ReLU, nn.LeakyReLU, nn.GELU)  # zero (or nearly) for every negative input
WATCHED = SATURATES + CAN_DIE


class _Tally:
    """Running sums for one layer over the chunks of a split."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.squares = 0.0
        self.saturated = 0
        # Per output width: one module object can serve layers of several widths (a shared
        # `self.act`), and each call's units are its own.
        self.unit_max: dict[int, Tensor] = {}

    def add(self, layer: nn.Module, output: Tensor) -> None:
        values = output.detach().flatten(1).double()
        self.count += values.numel()
        self.total += values.sum().item()
        self.squares += values.square().sum().item()
        if isinstance(layer, nn.Sigmoid):
            self.saturated += int(((values < 0.01) | (values > 0.99)).sum())
        elif isinstance(layer, nn.Tanh):
            self.saturated += int((values.abs() > 0.99).sum())
        top = values.max(dim=0).values
        seen = self.unit_max.get(top.numel())
        self.unit_max[top.numel()] = top if seen is None else torch.maximum(seen, top)

    def stats(self, layer: nn.Module) -> ActivationStats:
        mean = self.total / self.count
        variance = max(self.squares / self.count - mean * mean, 0.0)
        dead = None
        if isinstance(layer, CAN_DIE) and self.unit_max:
            dead = float((torch.cat(list(self.unit_max.values())) <= 0).double().mean())
        saturated = self.saturated / self.count if isinstance(layer, SATURATES) else None
        return {"mean": mean, "std": math.sqrt(variance), "saturated": saturated, "dead": dead}


class ActivationRecorder:
    """A context manager: forward hooks on every activation layer while it is open.

    `with ActivationRecorder(model) as recorder: model(x)` then `recorder.stats()` gives
    {layer name: stats}. The hooks are removed on exit, so training never pays for them.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = {
            name: layer for name, layer in model.named_modules() if isinstance(layer, WATCHED)
        }
        self.tallies = {name: _Tally() for name in self.layers}
        self.handles: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> ActivationRecorder:
        for name, layer in self.layers.items():
            tally = self.tallies[name]
            self.handles.append(
                layer.register_forward_hook(
                    lambda module, inputs, output, tally=tally: tally.add(module, output)
                )
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def stats(self) -> dict[str, ActivationStats]:
        """Each watched layer's statistics over everything it saw while the hooks were on."""
        return {
            name: self.tallies[name].stats(layer)
            for name, layer in self.layers.items()
            if self.tallies[name].count
        }


def weight_norm(model: nn.Module) -> float:
    """The L2 norm of all weight matrices and kernels together (biases and norm scales
    left out): what weight decay pulls down."""
    squares = [p.detach().square().sum() for p in model.parameters() if p.dim() > 1]
    return math.sqrt(float(torch.stack(squares).sum())) if squares else 0.0


def activation_curves(low: float = -4.0, high: float = 4.0, points: int = 161) -> pd.DataFrame:
    """Every activation the engine offers and its derivative (by autograd) on [low, high]:
    columns activation, x, value, derivative."""
    frames = []
    for name, layer in ACTIVATION_LAYERS.items():
        x = torch.linspace(low, high, points, dtype=torch.float64, requires_grad=True)
        y = layer()(x)
        (slope,) = torch.autograd.grad(y.sum(), x)
        frames.append(
            pd.DataFrame(
                {
                    "activation": name,
                    "x": x.detach().numpy(),
                    "value": y.detach().numpy(),
                    "derivative": slope.numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
