"""Give a LogTable's columns their roles (train loss, val loss, accuracy, x axis) and build the
TrainingLog the Curve Doctor reads.

Each series keeps the rows it was logged on: a blank cell means "not logged here", never a
NaN, so a Hugging Face log with eval every 500 steps, or a Lightning log with train and val
on alternating rows, reads as two clean curves. Only an explicit nan or inf is a NaN.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping

from engine.log_table import Cells, LogFormatError, LogTable, TrainingLog, quote

ROLES = ("train_loss", "val_loss", "train_acc", "val_acc", "x", "learning_rate")
SNIPPET = "epoch,train_loss,val_loss\n1,2.10,2.05"

# Names real tools write (Keras, Lightning, Hugging Face, fastai, hand-rolled loops), after
# normalisation, for each role. Earlier names win when a log has several.
_ALIASES = {
    # TensorBoard tags put the split last: Loss/train, Accuracy/val.
    "train_loss": "train_loss loss training_loss tr_loss train_epoch_loss loss_train",
    "val_loss": "val_loss valid_loss validation_loss eval_loss test_loss dev_loss loss_val "
    "loss_valid loss_validation loss_test loss_eval",
    "train_acc": "train_acc acc accuracy train_accuracy training_accuracy training_acc "
    "accuracy_train acc_train",
    "val_acc": "val_acc val_accuracy valid_acc valid_accuracy validation_acc "
    "validation_accuracy eval_acc eval_accuracy test_acc test_accuracy accuracy_val acc_val "
    "accuracy_validation accuracy_test",
    "epoch": "epoch epochs",
    "step": "step steps iteration iter global_step it",
    "learning_rate": "learning_rate lr learningrate lr_pg0",
}
_SYNONYMS = {name: tuple(words.split()) for name, words in _ALIASES.items()}
_RANK = {
    alias: (name, rank) for name, words in _SYNONYMS.items() for rank, alias in enumerate(words)
}


def normalise(name: str) -> str:
    """'Val Loss', 'val-loss' and 'val/loss' all become 'val_loss'."""
    return re.sub(r"[\s\-/.]+", "_", name.strip().strip("\"'").lower()).strip("_")


def _role_of(name: str) -> tuple[str, int] | None:
    """(role or x kind, rank: lower is a more usual name) for a column name, or None.

    Lightning adds `_epoch` and `_step` to names logged both ways: `train_loss_epoch` is the
    epoch mean and ranks first, `train_loss_step` one batch and ranks after it.
    """
    key = normalise(name)
    if key in _RANK:
        return _RANK[key]
    for suffix, penalty in (("_epoch", 0.25), ("_step", 0.5)):
        base = key.removesuffix(suffix)
        if base != key and base in _RANK and _RANK[base][0] not in ("epoch", "step"):
            role, rank = _RANK[base]
            return role, rank + penalty  # type: ignore[return-value]
    return None


def _logged(cells: Cells) -> int:
    return sum(value is not None for value in cells)


def pick_columns(table: LogTable, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Role -> column name: the learner's choice first, then what the format fixes, then the
    most usual name (a Lightning epoch mean when it has 3 or more rows, else per step)."""
    picked = {role: name for role, name in table.hints.items() if name in table.columns}
    ranked: dict[str, list[tuple[float, str]]] = {}
    for name, cells in table.columns.items():
        found = _role_of(name)
        if found:
            role, rank = found
            sparse = rank % 1 == 0.25 and _logged(cells) < 3  # an epoch mean of 1-2 rows
            blank = not _logged(cells)  # chosen only when no other column fits
            ranked.setdefault(role, []).append((rank + sparse + 100 * blank, name))
    for role, candidates in ranked.items():
        picked.setdefault(role, min(candidates)[1])
    for role, name in (overrides or {}).items():
        _check_role(role)
        if name == "" and role not in ("train_loss", "x"):  # the learner's "none"
            picked.pop(role, None)
        else:
            picked[role] = _checked_override(table, role, name)
    _check_unreadable(table, picked)
    return picked


def _check_unreadable(table: LogTable, picked: dict[str, str]) -> None:
    """A column named like a role that holds text is an error the learner should see (a
    tensor repr, a typo), unless another column was chosen for that role."""
    for name, reason in table.unreadable.items():
        found = _role_of(name)
        if found and found[0] not in picked:
            raise LogFormatError(reason)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise LogFormatError(
            f"'{quote(role)}' is not a column role. Expected one of: {', '.join(ROLES)}."
        )


def _checked_override(table: LogTable, role: str, name: str) -> str:
    if name in table.unreadable:
        raise LogFormatError(
            f"Column '{quote(name)}' cannot be the {role.replace('_', ' ')}: "
            f"{table.unreadable[name]}"
        )
    if name not in table.columns:
        close = difflib.get_close_matches(name, list(table.columns), 1, 0.6)
        hint = f" Did you mean '{quote(close[0])}'?" if close else ""
        raise LogFormatError(
            f"The log has no column '{quote(name)}' for the {role.replace('_', ' ')}.{hint} "
            f"Expected one of its numeric columns: {quote(', '.join(table.columns), 200)}."
        )
    return name


def check_train_loss(table: LogTable, overrides: Mapping[str, str] | None = None) -> None:
    """Raise LogFormatError, naming the columns there are, when no column can be the train
    loss."""
    if "train_loss" not in pick_columns(table, overrides):
        raise LogFormatError(_missing_loss_message(table))


def build_log(
    table: LogTable,
    n_classes: int | None = None,
    overrides: Mapping[str, str] | None = None,
) -> TrainingLog:
    """The TrainingLog of a table: each role's column on the rows it was logged on."""
    columns = pick_columns(table, overrides)
    if "train_loss" not in columns:
        raise LogFormatError(_missing_loss_message(table))
    train_rows = _rows_with(table.columns[columns["train_loss"]])
    if not train_rows:
        raise LogFormatError(
            f"The train loss column '{quote(columns['train_loss'])}' is blank on every row. "
            "Expected a number (or nan) on each row."
        )
    x_name, x_column = _x_axis(table, columns)
    x_values = table.columns[x_column] if x_column else None
    used = {role: columns[role] for role in ROLES if role in columns}
    if x_column:
        used["x"] = x_column
    val_rows = _val_rows(table, columns)
    x = _at(x_values, train_rows, x_column or x_name)
    val_x = _at(x_values, val_rows, x_column or x_name) if val_rows else None
    return TrainingLog(
        train_loss=_values(table, columns["train_loss"], train_rows),
        x=x,
        x_name=x_name,
        val_loss=_series(table, columns.get("val_loss"), val_rows),
        train_acc=_accuracy(table, columns.get("train_acc"), train_rows),
        val_acc=_accuracy(table, columns.get("val_acc"), val_rows),
        n_classes=n_classes,
        val_x=None if val_x == x else val_x,  # None: val shares the train rows' x
        learning_rate=_finite(table, columns.get("learning_rate")),
        columns=used,
        source_format=table.source_format,
        acc_name=_acc_name(columns),
    )


def _rows_with(cells: Cells) -> list[int]:
    return [row for row, value in enumerate(cells) if value is not None]


def _val_rows(table: LogTable, columns: dict[str, str]) -> list[int]:
    rows: set[int] = set()
    for role in ("val_loss", "val_acc"):
        if role in columns:
            rows.update(_rows_with(table.columns[columns[role]]))
    return sorted(rows)


def _x_axis(table: LogTable, columns: dict[str, str]) -> tuple[str, str | None]:
    """("epoch" or "step", the x column or None for row numbers): epochs when each row has
    its own, steps when a per-step log repeats the epoch."""
    if "x" in columns:
        name = columns["x"]
        return ("epoch" if "epoch" in normalise(name) else "step"), name
    epochs = table.columns.get(columns["epoch"]) if "epoch" in columns else None
    logged = [value for value in epochs or [] if value is not None]
    if epochs is not None and len(set(logged)) == len(logged):
        return "epoch", columns["epoch"]
    if "step" in columns:
        return "step", columns["step"]
    return ("epoch" if epochs is None else "step"), None


def _at(x_values: Cells | None, rows: list[int], column: str) -> tuple[float, ...]:
    """The x of each row: the x column's value, or the row number (1, 2, ...) when the log
    has no x column."""
    if x_values is None:
        return tuple(float(row + 1) for row in rows)
    for row in rows:
        value = x_values[row]
        if value is None or not math.isfinite(value):
            name = quote(column)
            raise LogFormatError(
                f"Row {row + 1}: column '{name}' is {'blank' if value is None else value}. "
                f"Expected a number in the '{name}' column on every row that logs a loss "
                f"(or no such column at all)."
            )
    return tuple(float(x_values[row]) for row in rows)  # type: ignore[arg-type]


def _values(table: LogTable, name: str, rows: list[int]) -> tuple[float, ...]:
    cells = table.columns[name]
    return tuple(math.nan if cells[row] is None else cells[row] for row in rows)  # type: ignore[misc]


def _series(table: LogTable, name: str | None, rows: list[int]) -> tuple[float, ...] | None:
    if name is None or not _logged(table.columns[name]):
        return None
    return _values(table, name, rows)


def _accuracy(table: LogTable, name: str | None, rows: list[int]) -> tuple[float, ...] | None:
    """Fractions 0..1 on the given rows; percentages (any value above 1) are divided by 100."""
    values = _series(table, name, rows)
    finite = [v for v in values or () if math.isfinite(v)]
    if values is None or not finite:
        return None
    if min(finite) < 0 or max(finite) > 100:
        bad = min(finite) if min(finite) < 0 else max(finite)
        raise LogFormatError(
            f"Column '{quote(name or '')}' holds the accuracy {bad:g}. Expected fractions "
            "from 0 to 1 or percentages from 0 to 100."
        )
    scale = 100.0 if max(finite) > 1.0 else 1.0  # 97.5 means 97.5 %
    return tuple(v / scale for v in values)


def _finite(table: LogTable, name: str | None) -> tuple[float, ...] | None:
    if name is None:
        return None
    values = tuple(v for v in table.columns[name] if v is not None and math.isfinite(v))
    return values or None


def _acc_name(columns: dict[str, str]) -> str:
    """What the accuracy-like column measures, for sentences: 'acc', or 'mAP50' for a
    detector's mean average precision."""
    name = normalise(columns.get("val_acc", columns.get("train_acc", "")))
    found = re.search(r"map\d*(_\d+)?", name)
    return found.group(0).replace("map", "mAP") if found else "acc"


def _missing_loss_message(table: LogTable) -> str:
    names = quote(", ".join(table.columns) or ", ".join(table.unreadable), 200)
    hint = ""
    for name in table.columns:
        close = difflib.get_close_matches(normalise(name), _SYNONYMS["train_loss"], 1, 0.75)
        if close and _role_of(name) is None:
            hint = f" Did you mean train_loss instead of '{quote(name)}'?"
            break
    return (
        f"No train loss column found (columns: {names}).{hint} Expected a column named "
        f"train_loss (or loss), e.g.\n{SNIPPET}"
    )
