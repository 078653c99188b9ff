"""A finished run as plain data: tidy DataFrames for charts, a dict for JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from torch import nn

from engine.config import RunConfig
from engine.log_table import TrainingLog
from engine.records import EpochRecord, RunError, StepRecord

EPOCH_METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such values become null (the status says why)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass
class RunResult:
    """Everything a run produced. status: completed, stopped, diverged or crashed."""

    config: RunConfig
    status: str
    steps: list[StepRecord]
    epochs: list[EpochRecord]
    test: dict[str, float | None] | None
    seconds: float
    error: RunError | None = None
    diverged_at_step: int | None = None
    n_classes: int = 0
    parameter_count: int = 0
    model: nn.Module | None = field(default=None, repr=False, compare=False)
    best_epoch: int | None = None  # early stopping: the epoch whose weights were kept
    early_stopped_at: int | None = None  # early stopping: the epoch it stopped after
    resumed_at_step: int | None = None  # the step after which the run was resumed

    @property
    def label(self) -> str:
        """How the run is named in charts and tables: 'baseline' or the variant id."""
        return self.config.variant or "baseline"

    @property
    def train_seconds(self) -> float:
        """Sum of the epochs' training time, evaluation excluded."""
        return sum(e.seconds for e in self.epochs)

    def epoch_frame(self) -> pd.DataFrame:
        """Tidy per-epoch metrics: run, epoch, split, metric, value (one row per number)."""
        rows = []
        for record in self.epochs:
            for name in EPOCH_METRICS:
                value = getattr(record, name)
                if value is None:
                    continue
                split, metric = name.split("_")
                rows.append(
                    {
                        "run": self.label,
                        "epoch": record.epoch,
                        "step": record.step,
                        "split": split,
                        "metric": metric,
                        "value": value,
                    }
                )
        return pd.DataFrame(rows, columns=["run", "epoch", "step", "split", "metric", "value"])

    def step_frame(self) -> pd.DataFrame:
        """Tidy per-step records: run, step, epoch, metric (loss, grad_norm, lr), value."""
        rows = [
            {
                "run": self.label,
                "step": s.step,
                "epoch": s.epoch,
                "metric": metric,
                "value": getattr(s, metric),
            }
            for s in self.steps
            for metric in ("loss", "grad_norm", "lr")
        ]
        return pd.DataFrame(rows, columns=["run", "step", "epoch", "metric", "value"])

    def training_log(self) -> TrainingLog:
        """This run's curves in the form the diagnosis reads."""

        def column(name: str) -> tuple[float, ...] | None:
            values = [getattr(e, name) for e in self.epochs]
            if not values or any(v is None for v in values):
                return None
            return tuple(float(v) for v in values)

        counts = self.epochs[-1].class_counts if self.epochs else None
        top_share = max(counts) / sum(counts) if counts and sum(counts) else None
        first = _first_layer_series(self.epochs)
        return TrainingLog(
            train_loss=column("train_loss") or (),
            x=tuple(float(e.epoch) for e in self.epochs),
            x_name="epoch",
            val_loss=column("val_loss"),
            train_acc=column("train_acc"),
            val_acc=column("val_acc"),
            n_classes=self.n_classes or None,
            step_loss=tuple(s.loss for s in self.steps) or None,
            grad_norm=tuple(s.grad_norm for s in self.steps) or None,
            first_layer_grad_norm=first,
            learning_rate=tuple(s.lr for s in self.steps) or (self.config.lr,),
            top_class_share=top_share,
            status=self.status,
            planned_epochs=self.config.epochs,
            error_type=self.error.type if self.error else None,
            error_message=self.error.message if self.error else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The `run --json` object: config, epochs, steps, test, seconds, status, error."""
        return {
            "config": self.config.to_dict(),
            "status": self.status,
            "epochs": [_epoch_dict(e) for e in self.epochs],
            "steps": [
                {
                    "step": s.step,
                    "epoch": s.epoch,
                    "loss": finite_or_none(s.loss),
                    "grad_norm": finite_or_none(s.grad_norm),
                    "lr": s.lr,
                }
                for s in self.steps
            ],
            "test": None
            if self.test is None
            else {k: finite_or_none(v) for k, v in self.test.items()},
            "seconds": round(self.seconds, 4),
            "train_seconds": round(self.train_seconds, 4),
            "diverged_at_step": self.diverged_at_step,
            "n_classes": self.n_classes,
            "parameter_count": self.parameter_count,
            "variant": self.config.variant,
            "error": asdict(self.error) if self.error else None,
            "best_epoch": self.best_epoch,
            "early_stopped_at": self.early_stopped_at,
            "resumed_at_step": self.resumed_at_step,
        }


def _epoch_dict(record: EpochRecord) -> dict[str, Any]:
    return {
        "epoch": record.epoch,
        "step": record.step,
        "train_loss": finite_or_none(record.train_loss),
        "train_acc": finite_or_none(record.train_acc),
        "val_loss": finite_or_none(record.val_loss),
        "val_acc": finite_or_none(record.val_acc),
        "seconds": round(record.seconds, 4),
        "class_counts": list(record.class_counts) if record.class_counts else None,
        "mean_confidence": finite_or_none(record.mean_confidence),
        "memory_mb": finite_or_none(record.memory_mb),
        "layer_grad_norms": {k: finite_or_none(v) for k, v in record.layer_grad_norms.items()},
        "weight_norm": finite_or_none(record.weight_norm),
        "activation_stats": {
            layer: {k: finite_or_none(v) for k, v in stats.items()}
            for layer, stats in record.activation_stats.items()
        },
    }


def _first_layer_series(epochs: list[EpochRecord]) -> tuple[float, ...] | None:
    if not epochs or not epochs[0].layer_grad_norms:
        return None
    first = next(iter(epochs[0].layer_grad_norms))
    return tuple(e.layer_grad_norms.get(first, 0.0) for e in epochs)
