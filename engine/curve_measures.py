"""Measures the Curve Doctor reads off a training log: cleaned columns, noise-aware curve
points, soft thresholds, and numbers formatted for evidence sentences."""

from __future__ import annotations

import math

import numpy as np

from engine.log_table import TrainingLog

# Up to LONG rows (an epoch log) are judged as logged; longer ones (a per-step log) are first
# reduced to MAX_POINTS chunk medians so batch noise cannot pass for shape.
LONG = 60
MAX_POINTS = 30
DEAD_GRAD = 1e-6  # a gradient norm this small moves no weight at any sane learning rate


def fmt(value: float) -> str:
    """2-3 significant digits; NaN and infinity as words so no sentence shows a raw 'nan'."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "infinity" if value > 0 else "minus infinity"
    return f"{value:.3g}"


def ramp(value: float, low: float, high: float) -> float:
    """0 at or below `low`, 1 at or above `high`, linear between: a soft threshold."""
    if not math.isfinite(value):
        return 1.0 if value > 0 else 0.0
    return min(1.0, max(0.0, (value - low) / (high - low)))


def clip(score: float) -> float:
    """A score rounded to 2 decimals in [0, 1]; NaN counts as no evidence."""
    score = float(score)
    return round(min(1.0, max(0.0, score)), 2) if math.isfinite(score) else 0.0


def as_array(values: object) -> np.ndarray | None:
    """A 1-D float array, or None for a missing column or one with no finite value."""
    if values is None:
        return None
    try:
        array = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        return None
    return array if np.isfinite(array).any() else None


def last_finite(values: np.ndarray | None) -> float | None:
    """The last finite value of a column, or None."""
    finite = np.array([]) if values is None else values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else None


def chunk_medians(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(points, their noise): the finite values with zero noise, or for a long curve up to
    MAX_POINTS chunk medians with their standard errors, so a 500-step log is judged like a
    20-epoch one and batch-to-batch noise cannot pass for shape."""
    finite = values[np.isfinite(values)]
    if len(finite) <= LONG:
        return finite, np.zeros(len(finite))
    chunks = np.array_split(finite, min(MAX_POINTS, len(finite) // 5))
    medians = np.array([np.median(chunk) for chunk in chunks])
    # Batch noise grows with the loss: pool the chunks' relative spread (1.4826 * MAD), then
    # turn it into each median's standard error (1.2533 / sqrt(n)).
    mad = np.array(
        [np.median(np.abs(chunk - median)) for chunk, median in zip(chunks, medians, strict=True)]
    )
    relative = np.median(mad / np.maximum(np.abs(medians), 1e-12))
    sizes = np.array([len(chunk) for chunk in chunks])
    return medians, 1.8581 * relative * np.abs(medians) / np.sqrt(sizes)


class Curves:
    """The log's columns as float arrays (missing or all-NaN: None), plus shared numbers: the
    class count and ln K, the smoothed train curve and its fall, whether the first layer is dead.
    """

    def __init__(self, log: TrainingLog) -> None:
        self.log = log
        self.step = as_array(log.step_loss)
        try:  # NaN and infinity stay in the train loss: divergence is data
            self.train = np.asarray(log.train_loss, dtype=float).ravel()
        except (TypeError, ValueError):
            self.train = np.array([])
        if not self.train.size and self.step is not None:
            self.train = self.step  # a run that died in its first epoch has only step losses
        self.val, self.grad = as_array(log.val_loss), as_array(log.grad_norm)
        self.val_x = np.asarray(log.val_positions, dtype=float) if self.val is not None else None
        if self.val_x is not None and len(self.val_x) != len(self.val):
            self.val_x = None  # an engine log may carry val on fewer rows than x: no positions
        self.train_acc, self.val_acc = as_array(log.train_acc), as_array(log.val_acc)
        self.first_grad = as_array(log.first_layer_grad_norm)
        n_classes = log.n_classes
        self.n_classes = n_classes if isinstance(n_classes, int) and n_classes >= 2 else None
        # ln K: the cross-entropy of a chance-level guess over K classes
        self.ln_k = math.log(self.n_classes) if self.n_classes else math.nan
        share = log.top_class_share
        finite = isinstance(share, (int, float)) and math.isfinite(share)
        self.top_share = float(share) if finite else None
        self.smooth = chunk_medians(self.train)[0]
        smooth = self.smooth  # relative fall from the first to the best train loss; 1.0 if unknown
        known = len(smooth) >= 2 and smooth[0]
        self.fall = float((smooth[0] - smooth.min()) / abs(smooth[0])) if known else 1.0
        first_grad = self.first_grad
        self.dead_layer = first_grad is not None and bool(
            np.all(np.abs(first_grad[np.isfinite(first_grad)]) < DEAD_GRAD)
        )
        self.classification = (
            bool(self.n_classes) or self.train_acc is not None or self.val_acc is not None
        )

    def final_acc(self) -> tuple[str, float] | None:
        """The last accuracy, val preferred: it is what the learner will be judged on."""
        acc = self.log.acc_name
        for name, values in ((f"val {acc}", self.val_acc), (f"train {acc}", self.train_acc)):
            value = last_finite(values)
            if value is not None:
                return name, value
        return None

    def at(self, index: int) -> str:
        """'epoch 3' for a row of the train curve, using the log's own x values; 'row 4' when
        the x values do not line up with the train loss or are not finite numbers."""
        x_values = self.log.x
        if len(x_values) == len(self.log.train_loss) and 0 <= index < len(x_values):
            try:
                value = float(x_values[index])
            except (TypeError, ValueError):
                value = math.nan
            if math.isfinite(value):
                shown = str(int(value)) if value.is_integer() and abs(value) < 1e12 else fmt(value)
                return f"{self.log.x_name} {shown}"
        return f"row {index + 1}"

    def val_at(self, point: int, points: int) -> str:
        """'epoch 4' for point `point` of `points` evenly spread over the val rows (chunk
        medians of a long log, or each row of a short one)."""
        val, positions = self.val, self.val_x
        if val is None or positions is None:
            return f"point {point + 1}"
        finite = positions[np.isfinite(val)]
        row = min(len(finite) - 1, int((point + 0.5) * len(finite) / max(points, 1)))
        value = float(finite[row])
        shown = str(int(value)) if value.is_integer() else fmt(value)
        return f"{self.log.x_name} {shown}"

    def train_near(self, fraction: float) -> float:
        """The smoothed train loss a `fraction` (0..1) of the way through the run, measured
        on the x axis when the val rows have their own positions."""
        smooth = self.smooth
        return float(smooth[min(len(smooth) - 1, max(0, round(fraction * (len(smooth) - 1))))])

    def chance(self, loss: float) -> str:
        """', which is ln 10: chance level for 10 classes' when the loss sits at ln K."""
        n_classes, ln_k = self.n_classes, self.ln_k
        if n_classes and abs(loss - ln_k) <= 0.1 * ln_k:
            return f", which is ln {n_classes} = {ln_k:.2f}: chance level for {n_classes} classes"
        return ""


def chunk_points(x: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, value) of the points chunk_medians judges: each finite row of a short curve, or
    each chunk's median x and median value of a long one."""
    keep = np.isfinite(values) & np.isfinite(x)
    x, values = x[keep], values[keep]
    if len(values) <= LONG:
        return x, values
    pieces = min(MAX_POINTS, len(values) // 5)
    xs = [float(np.median(chunk)) for chunk in np.array_split(x, pieces)]
    ys = [float(np.median(chunk)) for chunk in np.array_split(values, pieces)]
    return np.array(xs), np.array(ys)
