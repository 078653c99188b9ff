"""The shapes of a training log: the numeric columns a reader found (LogTable), and the
curves the Curve Doctor reads once each column has its role (TrainingLog).

Every log format (a CSV, Hugging Face's trainer_state.json, a TensorBoard event file, pasted
console output) is read into one `LogTable`; one set of rules then decides which column is
the train loss, the val loss, the accuracy and the x axis (see engine.log_roles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


class LogFormatError(ValueError):
    """A user's log could not be read; the message says what was wrong and what is expected."""


def quote(text: str, limit: int = 60) -> str:
    """A name or cell from the learner's log as an error message quotes it: on one line (the
    command line prints a message's first line only) and at most `limit` characters, saying
    how long it was when cut."""
    one_line = " ".join(text.splitlines())
    if len(one_line) <= limit:
        return one_line
    return f"{one_line[:limit]}… ({len(one_line):,} characters)"


@dataclass(frozen=True)
class TrainingLog:
    """One run's curves, from the engine or from a learner's own log."""

    train_loss: tuple[float, ...]  # required, one per row (epoch or logged step)
    x: tuple[float, ...]  # epoch or step numbers, same length
    x_name: str = "epoch"  # "epoch" or "step"
    val_loss: tuple[float, ...] | None = None  # one per val row (values may be nan)
    train_acc: tuple[float, ...] | None = None  # fractions 0..1, on the train rows
    val_acc: tuple[float, ...] | None = None  # on the val rows
    n_classes: int | None = None  # K; enables the ln K reference
    step_loss: tuple[float, ...] | None = None  # per-step training loss (engine only)
    grad_norm: tuple[float, ...] | None = None  # per-step total gradient norm
    first_layer_grad_norm: tuple[float, ...] | None = None  # per-epoch, first layer
    top_class_share: float | None = None  # share of last-epoch predictions in the top class
    status: str = "completed"  # "completed", "diverged", "stopped", "crashed"
    planned_epochs: int | None = None  # what the run was set to train (the engine knows)
    error_type: str | None = None  # exception type name when crashed
    error_message: str | None = None
    # x of the val rows when validation was logged on other rows than the train loss (the
    # Hugging Face Trainer evaluates every few hundred steps); None: the same rows as x.
    val_x: tuple[float, ...] | None = None
    learning_rate: tuple[float, ...] | None = None  # the logged learning rates, in order
    columns: dict[str, str] = field(default_factory=dict)  # role -> the log's column name
    source_format: str = "engine"  # which tool wrote the log (FORMAT_NAMES)
    acc_name: str = "acc"  # what the accuracy-like column measures: "acc", "mAP50"

    @property
    def val_positions(self) -> tuple[float, ...]:
        """The x of each val row."""
        return self.x if self.val_x is None else self.val_x

    def to_frame(self) -> pd.DataFrame:
        """The curves as a wide DataFrame: x_name, then each curve that is present; a curve
        logged on other rows is blank (NaN) on the rows it skipped."""
        # lazy: only charts need pandas; reading and diagnosing a log stays light
        import pandas as pd

        frame = pd.DataFrame({self.x_name: self.x, "train_loss": self.train_loss})
        if self.train_acc is not None and len(self.train_acc) == len(self.x):
            frame["train_acc"] = self.train_acc
        val = {
            name: values
            for name in ("val_loss", "val_acc")
            if (values := getattr(self, name)) is not None
            and len(values) == len(self.val_positions)
        }
        if not val:
            return frame
        val_frame = pd.DataFrame({self.x_name: self.val_positions, **val})
        if self.val_x is None:
            frame = pd.concat([frame, val_frame.drop(columns=self.x_name)], axis=1)
        else:
            frame = frame.merge(val_frame, on=self.x_name, how="outer", sort=True)
        order = [self.x_name, "train_loss", "val_loss", "train_acc", "val_acc"]
        return frame[[name for name in order if name in frame.columns]]


Cells = list[float | None]  # one cell per row; None: not logged on this row; nan/inf kept


@dataclass(frozen=True)
class LogTable:
    """Columns as the log names them, every one with the same number of rows.

    A cell is None where the tool logged nothing on that row (Lightning writes train and val
    metrics on separate rows; the Hugging Face Trainer logs eval every few hundred steps).
    An explicit nan or inf stays a float: it is what the tool wrote.
    """

    source_format: str  # which tool wrote it, as a short id: "keras_csv", "tensorboard_events"
    columns: dict[str, Cells]
    # Roles the format itself fixes, role -> column name: fastai's `accuracy` is measured on
    # the validation set, Ultralytics' train loss is the sum of its loss parts.
    hints: dict[str, str] = field(default_factory=dict)
    # Columns that could not be read as numbers: name -> why (the first bad cell), so that a
    # learner who picks one is told what is in it.
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """How many rows the table has (0 without columns)."""
        return max((len(cells) for cells in self.columns.values()), default=0)


# What each format's id means, for the sentence "Read as ...".
FORMAT_NAMES = {
    "csv": "a CSV log",
    "keras_csv": "a Keras CSVLogger log",
    "lightning_csv": "a PyTorch Lightning metrics.csv",
    "fastai_csv": "a fastai CSVLogger log",
    "ultralytics_csv": "an Ultralytics results.csv",
    "hf_trainer_state": "a Hugging Face trainer_state.json",
    "tensorboard_events": "a TensorBoard event file",
    "tensorboard_csv": "TensorBoard scalar CSV exports",
    "wandb_csv": "Weights & Biases CSV exports",
    "keras_console": "Keras fit() console output",
    "hf_console": "Hugging Face Trainer console output",
    "print_console": "printed training lines",
}
