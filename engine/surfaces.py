"""Optimizers racing on 2-D loss surfaces: a bowl, a narrow ravine and a saddle.

Each surface is a closed-form loss of two parameters (x, y), small enough to draw as a map
and to watch an optimizer's every step on it. The racers are the engine's own optimizers
(`engine.loop.make_optimizer`: torch.optim's SGD, RMSprop, Adam, AdamW, and the hand-written
Adam without bias correction) stepping a real 2-element parameter with `loss.backward()`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from engine.config import RunConfig
from engine.loop import make_optimizer

Range = tuple[float, float]


@dataclass(frozen=True)
class Surface:
    """A loss of two parameters with its start point, plotting window and lowest points."""

    name: str
    title: str
    formula: str  # as a learner would write it
    loss_of: Callable[[Tensor, Tensor], Tensor]  # elementwise in x and y: grids work too
    start: tuple[float, float]
    x_range: Range
    y_range: Range
    minima: tuple[tuple[float, float], ...]  # where the loss is lowest (0 there)
    curvatures: tuple[float, float]  # second derivatives along x and y at the start's region

    def loss(self, point: Tensor) -> Tensor:
        """The loss at one point, a tensor [x, y]: the forward pass of this tiny 'model'."""
        return self.loss_of(point[0], point[1])


def _valley(x: Tensor, y: Tensor) -> Tensor:
    # Module 1's MSE bowl for a standardised x: a round-ish quadratic, lowest at (3, 2).
    return (x - 3) ** 2 + 1.5 * (y - 2) ** 2


def _ravine(x: Tensor, y: Tensor) -> Tensor:
    # Curvature 1 along x and 50 across it (y): a 50:1 ravine where plain SGD zig-zags.
    return 0.5 * x**2 + 25 * y**2


def _saddle(x: Tensor, y: Tensor) -> Tensor:
    # x^2 - y^2 near (0, 0); the y^4 term bends it back up, so it is bounded below with
    # two lowest points at y = +-1. Expanded: x^2 - y^2 + y^4 / 2 + 1/2.
    return x**2 + 0.5 * (y**2 - 1) ** 2


SURFACES: dict[str, Surface] = {
    "valley": Surface(
        "valley",
        "valley (a round-ish bowl)",
        "(x − 3)² + 1.5 (y − 2)²",
        _valley,
        start=(-1.0, -1.0),
        x_range=(-2.0, 6.0),  # room for momentum's overshoot past the bottom
        y_range=(-2.0, 4.5),
        minima=((3.0, 2.0),),
        curvatures=(2.0, 3.0),
    ),
    "ravine": Surface(
        "ravine",
        "ravine (curvature 1 along, 50 across)",
        "x² / 2 + 25 y²",
        _ravine,
        start=(-4.5, 0.8),
        x_range=(-5.0, 2.5),
        y_range=(-1.2, 1.2),
        minima=((0.0, 0.0),),
        curvatures=(1.0, 50.0),
    ),
    "saddle": Surface(
        "saddle",
        "saddle (x² − y² near the middle)",
        "x² + (y² − 1)² / 2",
        _saddle,
        start=(-2.0, 0.01),  # almost exactly on the ridge line y = 0 that leads to the saddle
        x_range=(-2.5, 2.5),
        y_range=(-1.6, 1.6),
        minima=((0.0, -1.0), (0.0, 1.0)),
        curvatures=(2.0, -2.0),
    ),
}

# The racers: a label and what they change in a RunConfig (the engine builds each optimizer).
OPTIMIZER_LABELS: dict[str, str] = {
    "sgd": "SGD",
    "momentum": "SGD + momentum",
    "nesterov": "Nesterov",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "adam_no_bias_correction": "Adam, no bias correction",
}
SGD_FAMILY = ("sgd", "momentum", "nesterov")


@dataclass(frozen=True)
class Racer:
    """One optimizer in a race with its hyper-parameters (unused ones are ignored)."""

    optimizer: str  # a key of OPTIMIZER_LABELS
    lr: float
    momentum: float = 0.9  # momentum and Nesterov
    betas: tuple[float, float] = (0.9, 0.999)  # the Adam family
    weight_decay: float = 0.0  # AdamW only: a decoupled pull of (x, y) towards (0, 0)

    @property
    def label(self) -> str:
        """The optimizer's name as the lessons write it."""
        return OPTIMIZER_LABELS[self.optimizer]

    def to_config(self) -> RunConfig:
        """The run settings under which `make_optimizer` builds this optimizer.

        Raises KeyError for an unknown optimizer and ConfigError for a value out of range.
        """
        changes: dict[str, Any] = {
            "sgd": {"optimizer": "sgd"},
            "momentum": {"optimizer": "sgd", "momentum": self.momentum},
            "nesterov": {"optimizer": "sgd", "momentum": self.momentum, "nesterov": True},
            "rmsprop": {"optimizer": "rmsprop"},
            "adam": {"optimizer": "adam", "betas": self.betas},
            "adamw": {"optimizer": "adamw", "betas": self.betas, "weight_decay": self.weight_decay},
            "adam_no_bias_correction": {
                "optimizer": "adam",
                "betas": self.betas,
                "bias_correction": False,
            },
        }[self.optimizer]
        return RunConfig(lr=self.lr, **changes)


@dataclass
class Path:
    """Where one optimizer stood after each step (index 0: the start) and the loss there."""

    racer: Racer
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    diverged_at: int | None = None  # the step whose loss was no longer finite

    @property
    def steps(self) -> int:
        """Steps taken and recorded (the path holds steps + 1 points)."""
        return len(self.loss) - 1

    def step_sizes(self) -> list[float]:
        """The length of each step's move in the (x, y) plane."""
        points = list(zip(self.x, self.y, strict=True))
        return [math.dist(a, b) for a, b in zip(points, points[1:], strict=False)]


class Point(nn.Module):
    """The 'model' of a race: just the two parameters (x, y), as one trainable tensor."""

    def __init__(self, start: tuple[float, float]) -> None:
        super().__init__()
        # float64: a path that creeps away from a saddle must not stall on rounding.
        self.xy = nn.Parameter(torch.tensor(start, dtype=torch.float64))


def race(surface: Surface, racers: Sequence[Racer], steps: int) -> dict[str, Path]:
    """Run every racer from the surface's start for `steps` steps; paths by optimizer key.

    A path ends early at the first step whose loss is not finite (its diverged_at).
    Raises ValueError for steps outside 1..10000 or two racers with the same optimizer.
    """
    if not 1 <= steps <= 10_000:
        raise ValueError(f"steps = {steps!r} is not allowed: expected 1 to 10000")
    keys = [racer.optimizer for racer in racers]
    if len(set(keys)) != len(keys):
        raise ValueError(f"racers = {keys!r} is not allowed: each optimizer at most once")
    return {racer.optimizer: descend(surface, racer, steps) for racer in racers}


def descend(surface: Surface, racer: Racer, steps: int) -> Path:
    """One optimizer's path: forward (the loss), backward, step, `steps` times."""
    point = Point(surface.start)
    optimizer = make_optimizer(racer.to_config(), point, torch.device("cpu"))
    path = Path(racer)
    for step in range(steps + 1):
        optimizer.zero_grad()
        loss = surface.loss(point.xy)  # forward: the loss where the optimizer stands
        x, y = point.xy.tolist()
        path.x.append(x)
        path.y.append(y)
        path.loss.append(loss.item())
        if not math.isfinite(path.loss[-1]):
            path.diverged_at = step
            break
        if step == steps:
            break
        loss.backward()  # backward: the slope of the surface at this point
        optimizer.step()  # step: the optimizer's own rule for the move
    return path


@dataclass(frozen=True)
class Grid:
    """The loss over a resolution x resolution grid of the surface's window, flattened."""

    x: list[float]
    y: list[float]
    loss: list[float]


def surface_grid(surface: Surface, resolution: int = 60) -> Grid:
    """The loss at every grid point, for a heatmap or contour map of the surface.

    Raises ValueError if resolution is not between 2 and 300.
    """
    if not 2 <= resolution <= 300:
        raise ValueError(f"resolution = {resolution!r} is not allowed: expected 2 to 300")
    xs = torch.linspace(*surface.x_range, resolution, dtype=torch.float64)
    ys = torch.linspace(*surface.y_range, resolution, dtype=torch.float64)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="ij")
    loss = surface.loss_of(grid_x, grid_y)  # every grid point in one call
    return Grid(grid_x.flatten().tolist(), grid_y.flatten().tolist(), loss.flatten().tolist())
