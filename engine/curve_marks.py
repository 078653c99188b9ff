"""What the Curve Doctor draws on a log's chart beside the curves: the evidence as marks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.curve_measures import LONG, chunk_points
from engine.log_table import TrainingLog


@dataclass(frozen=True)
class ChartMarks:
    """Points and lines that show the evidence on the loss chart, in the log's x units."""

    best_val: tuple[float, float] | None  # (x, val loss) where validation was best
    blow_up: tuple[float, str] | None  # (x, what happened) where the train loss blew up
    trend: tuple[tuple[float, float], ...]  # the smoothed train loss of a long, noisy log
    chance: float | None  # ln K: the loss of a chance-level guess over K classes


def chart_marks(log: TrainingLog) -> ChartMarks:
    """The marks for a log: the best val point, where the train loss blew up (its first NaN
    or infinity, else its peak when that is 10x where it started), the smoothed trend of a
    log longer than LONG rows, and the ln K chance line when K is known."""
    with np.errstate(all="ignore"):
        train = np.asarray(log.train_loss, dtype=float)
        x = np.asarray(log.x, dtype=float)
        trend = chunk_points(x, train) if len(train) > LONG else (np.array([]), np.array([]))
        return ChartMarks(
            best_val=_best_val(log),
            blow_up=_blow_up(x, train),
            trend=tuple(zip(trend[0].tolist(), trend[1].tolist(), strict=True)),
            chance=math.log(log.n_classes) if log.n_classes and log.n_classes >= 2 else None,
        )


def _best_val(log: TrainingLog) -> tuple[float, float] | None:
    if log.val_loss is None or len(log.val_loss) != len(log.val_positions):
        return None
    xs, values = chunk_points(
        np.asarray(log.val_positions, dtype=float), np.asarray(log.val_loss, dtype=float)
    )
    if not values.size:
        return None
    best = int(np.argmin(values))
    return float(xs[best]), float(values[best])


def _blow_up(x: np.ndarray, train: np.ndarray) -> tuple[float, str] | None:
    if len(x) != len(train) or not train.size:
        return None
    bad = np.flatnonzero(~np.isfinite(train))
    if bad.size:
        return float(x[bad[0]]), f"loss became {'NaN' if math.isnan(train[bad[0]]) else 'infinite'}"
    first, peak = float(train[0]), int(np.argmax(train))
    if first > 0 and train[peak] >= 10 * first:
        return float(x[peak]), f"loss peaked at {train[peak]:.3g}"
    return None
