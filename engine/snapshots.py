"""A model's answers over a grid of inputs after every epoch: decision boundaries as they
form (2-D classification) and fitted curves as they bend (1-D regression)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from engine.config import RunConfig
from engine.loop import run
from engine.records import EpochRecord, Record
from engine.training import build_parts
from engine.variants import apply_variant


@dataclass(frozen=True)
class Snapshots:
    """The training points, and the model's answer at every grid point after each epoch.

    `grid` has columns epoch, x (and y for 2-D inputs) and either class + confidence
    (classification) or prediction (regression); inputs are in the standardised units the
    model trains on. `points` holds the training split: x (, y) and target.
    """

    points: pd.DataFrame
    grid: pd.DataFrame
    final_train_loss: float
    final_val_loss: float
    final_val_acc: float | None


def snapshots(config: RunConfig, resolution: int = 50) -> Snapshots:
    """Train the config (its variant applied) and record the model on a grid every epoch.

    Raises ValueError for a dataset whose examples are not 1-D or 2-D points.
    """
    if config.variant is not None:
        config = apply_variant(config.replace(variant=None), config.variant)
    parts = build_parts(config)
    train = parts.data.train
    n_features = train.inputs.shape[1]
    if train.inputs.dim() != 2 or n_features not in (1, 2):
        raise ValueError(f"snapshots need 1-D or 2-D points; {config.dataset} has other inputs")
    grid = _grid(train.inputs, resolution)
    frames: list[pd.DataFrame] = []

    def record(event: Record) -> None:
        if isinstance(event, EpochRecord):
            frames.append(_answers(parts.model, grid, event.epoch))

    result = run(parts, on_event=record)
    last = result.epochs[-1] if result.epochs else None
    return Snapshots(
        points=_table(train.inputs, train.targets),
        grid=pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
        final_train_loss=last.train_loss if last else float("nan"),
        final_val_loss=last.val_loss if last else float("nan"),
        final_val_acc=last.val_acc if last else None,
    )


def _grid(inputs: torch.Tensor, resolution: int) -> torch.Tensor:
    """Evenly spaced points covering the data with a small margin on every side."""
    low, high = inputs.min(dim=0).values, inputs.max(dim=0).values
    margin = 0.1 * (high - low)
    ends = zip(low - margin, high + margin, strict=True)
    axes = [torch.linspace(float(a), float(b), resolution) for a, b in ends]
    if len(axes) == 1:
        return axes[0][:, None]
    xs, ys = torch.meshgrid(axes[0], axes[1], indexing="xy")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


@torch.no_grad()
def _answers(model: torch.nn.Module, grid: torch.Tensor, epoch: int) -> pd.DataFrame:
    model.eval()  # dropout off, as when validating
    device = next(model.parameters()).device
    outputs = model(grid.to(device)).float().cpu()
    model.train()
    table = _table(grid)
    table.insert(0, "epoch", epoch)
    if outputs.shape[1] == 1:
        table["prediction"] = outputs[:, 0].numpy()
    else:
        probabilities = outputs.softmax(dim=1)
        table["class"] = probabilities.argmax(dim=1).numpy()
        table["confidence"] = probabilities.max(dim=1).values.numpy()
    return table


def _table(inputs: torch.Tensor, targets: torch.Tensor | None = None) -> pd.DataFrame:
    columns = {"x": inputs[:, 0].numpy()}
    if inputs.shape[1] == 2:
        columns["y"] = inputs[:, 1].numpy()
    if targets is not None:
        columns["target"] = targets.flatten().numpy()
    return pd.DataFrame(columns)
