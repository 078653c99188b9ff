"""A training history as plain data, and reading the CSV logs learners bring from their tools.

The engine fills a `TrainingLog` as it trains. A learner can also upload the CSV their own
tool wrote (Keras' CSVLogger, Lightning's CSVLogger, a hand-written print loop) and the same
Curve Doctor reads it. Divergence is data: NaN and infinity cells are kept, not rejected.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import os
import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class TrainingLog:
    """One run's curves, from the engine or from a user's CSV."""

    train_loss: tuple[float, ...]  # required, one per row (epoch or logged step)
    x: tuple[float, ...]  # epoch or step numbers, same length
    x_name: str = "epoch"  # "epoch" or "step"
    val_loss: tuple[float, ...] | None = None  # same length when present (values may be nan)
    train_acc: tuple[float, ...] | None = None  # fractions 0..1
    val_acc: tuple[float, ...] | None = None
    n_classes: int | None = None  # K; enables the ln K reference
    step_loss: tuple[float, ...] | None = None  # per-step training loss (engine only)
    grad_norm: tuple[float, ...] | None = None  # per-step total gradient norm
    first_layer_grad_norm: tuple[float, ...] | None = None  # per-epoch, first layer
    top_class_share: float | None = None  # share of last-epoch predictions in the top class
    status: str = "completed"  # "completed", "diverged", "stopped", "crashed"
    error_type: str | None = None  # exception type name when crashed
    error_message: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """The per-row columns as a wide DataFrame: x_name, then each curve that is present."""
        # lazy: only charts need pandas; reading and diagnosing a log stays light
        import pandas as pd

        columns: dict[str, tuple[float, ...]] = {self.x_name: self.x, "train_loss": self.train_loss}
        for name in ("val_loss", "train_acc", "val_acc"):
            values = getattr(self, name)
            if values is not None and len(values) == len(self.train_loss):
                columns[name] = values
        return pd.DataFrame(columns)


class LogFormatError(ValueError):
    """A user's log could not be read; the message says what was wrong and what is expected."""


EXAMPLE_LOG_CSV = """epoch,train_loss,val_loss,train_acc,val_acc
1,1.52,1.31,0.62,0.68
2,0.71,0.66,0.83,0.84
3,0.42,0.45,0.89,0.88
4,0.29,0.36,0.92,0.90
5,0.22,0.33,0.94,0.91
"""

_SNIPPET = "epoch,train_loss,val_loss\n1,2.10,2.05"
MAX_LOG_BYTES = 50 * 1024 * 1024  # far above 100,000 rows of a dozen numbers

# Names real tools write (Keras, Lightning, Hugging Face, hand-rolled loops), after
# normalisation, mapped to the one name the engine uses.
_ALIASES = {
    "train_loss": "train_loss loss training_loss tr_loss train_loss_epoch",
    "val_loss": "val_loss valid_loss validation_loss eval_loss test_loss dev_loss val_loss_epoch",
    "train_acc": "train_acc acc accuracy train_accuracy training_accuracy training_acc",
    "val_acc": "val_acc val_accuracy valid_acc valid_accuracy validation_acc "
    "validation_accuracy eval_acc eval_accuracy test_acc test_accuracy",
    "epoch": "epoch epochs",
    "step": "step steps iteration iter global_step it",
}
_SYNONYMS = {name: tuple(words.split()) for name, words in _ALIASES.items()}
_CANONICAL = {alias: name for name, aliases in _SYNONYMS.items() for alias in aliases}
_MISSING_WORDS = {"nan", "-nan", "na", "n/a", "null", "none"}
_SEPARATOR_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons"}


def _normalise(name: str) -> str:
    """'Val Loss', 'val-loss' and 'val/loss' all become 'val_loss'."""
    return re.sub(r"[\s\-/.]+", "_", name.strip().strip("\"'").lower()).strip("_")


def parse_training_log(
    text: str, n_classes: int | None = None, max_rows: int = 100_000
) -> TrainingLog:
    """Parse CSV text (comma, tab or semicolon separated, with a header row) into a TrainingLog.

    Only a train loss column is required; epoch/step, val_loss, train_acc and val_acc are
    picked up under their common names. Text read with errors="surrogateescape" (standard
    input under a C locale) is decoded from its bytes first, so a UTF-16 log piped in reads
    like UTF-8. Raises LogFormatError, whose message says what was wrong and what is
    expected, for anything that cannot be read.
    """
    _check_n_classes(n_classes)
    text = _check_text(_unescape_bytes(text))
    delimiter = _detect_delimiter(text)
    rows = _read_rows(text, delimiter, max_rows)
    header, body = rows[0][1], rows[1:]
    columns = _map_columns(header)
    cells = _read_cells(columns, header, body, delimiter)
    return _build_log(cells, columns, header, n_classes)


def read_training_log(
    path_or_buffer: str | os.PathLike[str] | IO[bytes] | IO[str],
    n_classes: int | None = None,
    max_bytes: int = MAX_LOG_BYTES,
) -> TrainingLog:
    """Read a CSV log of at most `max_bytes` from a file path or an open (binary or text)
    file, then parse it.

    Bytes are decoded as UTF-8, or as UTF-16 when they start with its byte-order mark.
    Raises LogFormatError when the file cannot be opened, is too large, is not text in one
    of those encodings, or is not a valid log (see parse_training_log).
    """
    if isinstance(path_or_buffer, (str, os.PathLike)):
        try:
            with open(path_or_buffer, "rb") as file:
                raw: bytes | str = file.read(max_bytes + 1)
        except OSError as err:
            raise LogFormatError(
                f"Could not open the log file {os.fspath(path_or_buffer)!r}: "
                f"{err.strerror or err}. Expected the path of a readable CSV file."
            ) from err
    else:
        raw = path_or_buffer.read(max_bytes + 1)
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if len(raw) > max_bytes:
        raise LogFormatError(
            f"The file is larger than {max_bytes / 2**20:g} MB. "
            "Expected a CSV log of at most 100,000 rows; log every few steps instead."
        )
    text = raw if isinstance(raw, str) else _decode(raw)
    return parse_training_log(text, n_classes)


def _decode(raw: bytes) -> str:
    # Excel's "Unicode text" export and PowerShell's redirection write UTF-16 with a
    # byte-order mark.
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LogFormatError(
            f"The log is not readable text: it looks like binary data (byte "
            f"0x{raw[err.start]:02x} at position {err.start} is not UTF-8). Expected a "
            f"plain-text CSV file saved as UTF-8 (or UTF-16 with a byte-order mark), e.g.\n"
            f"{_SNIPPET}"
        ) from err


# Bytes that are not UTF-8, kept as lone surrogates U+DC80..U+DCFF by errors="surrogateescape".
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _unescape_bytes(text: str) -> str:
    """Text as its bytes say, when it was decoded as UTF-8 with errors="surrogateescape".

    Python reads standard input that way under a C or POSIX locale and in UTF-8 mode, so a
    UTF-16 log piped in arrives with its byte-order mark as two lone surrogates: turn them
    back into the bytes and decode those as a file's bytes are decoded.
    """
    if not _ESCAPED_BYTE.search(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates: not escaped bytes, left to the checks
        return text
    return _decode(raw)


def _check_n_classes(n_classes: int | None) -> None:
    if n_classes is not None and (not isinstance(n_classes, int) or n_classes < 2):
        raise LogFormatError(
            f"n_classes is {n_classes!r}. Expected a whole number of classes, 2 or more "
            "(or None when it is unknown)."
        )


def _check_text(text: str) -> str:
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise LogFormatError(
            "The log is empty. Expected a CSV with a header row and one row per epoch, e.g.\n"
            f"{_SNIPPET}"
        )
    sample = text[:4096]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r")
    if "\x00" in text or control > max(2, len(sample) // 100):
        raise LogFormatError(
            "The log looks like binary data, not text. Expected a plain-text CSV file, e.g.\n"
            f"{_SNIPPET}"
        )
    return text


def _detect_delimiter(text: str) -> str:
    lines = (line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    header = next(lines, "")
    counts = {sep: header.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda sep: counts[sep])  # ties keep the comma, listed first
    return best if counts[best] else ","


def _read_rows(text: str, delimiter: str, max_rows: int) -> list[tuple[int, list[str]]]:
    """(line number, fields) of the header and each non-blank, non-comment row."""
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for fields in reader:
            if not any(f.strip() for f in fields) or fields[0].lstrip().startswith("#"):
                continue
            rows.append((reader.line_num, fields))
            if len(rows) > max_rows + 1:
                raise LogFormatError(
                    f"The log has more than {max_rows:,} data rows, the limit. Expected at "
                    f"most {max_rows:,} rows: log every epoch or every few steps instead."
                )
    except csv.Error as err:
        raise LogFormatError(
            f"Line {reader.line_num} could not be read as CSV ({err}). Expected plain "
            f"values separated by {_SEPARATOR_NAMES[delimiter]}, e.g.\n{_SNIPPET}"
        ) from err
    if not rows:
        raise LogFormatError(
            "The log has only blank or comment lines. Expected a header row and one row per "
            f"epoch, e.g.\n{_SNIPPET}"
        )
    if len(rows) < 2:
        names = ", ".join(f.strip() for f in rows[0][1])
        raise LogFormatError(
            f"The log has a header ({names}) but no data rows. Expected one row per epoch "
            f"below the header, e.g.\n{_SNIPPET}"
        )
    return rows


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _map_columns(header: list[str]) -> dict[str, int]:
    """Engine column name -> index in the row. An exact name beats a synonym."""
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _normalise(name)
        canonical = _CANONICAL.get(key)
        if canonical and (canonical not in columns or key == canonical):
            columns[canonical] = index
    if "train_loss" not in columns:
        raise LogFormatError(_missing_loss_message(header))
    return columns


def _missing_loss_message(header: list[str]) -> str:
    names = ", ".join(h.strip() for h in header)
    if header and all(_looks_numeric(h) for h in header):
        return (
            f"The first row ({names}) looks like data, not a header. Expected a header "
            f"row naming the columns first, e.g.\n{_SNIPPET}"
        )
    hint = ""
    for name in header:
        close = difflib.get_close_matches(_normalise(name), _SYNONYMS["train_loss"], 1, 0.75)
        if close and _normalise(name) not in _CANONICAL:
            hint = f" Did you mean train_loss instead of '{name.strip()}'?"
            break
    return (
        f"No train loss column found (columns: {names}).{hint} Expected a column named "
        f"train_loss (or loss), e.g.\n{_SNIPPET}"
    )


def _parse_cell(cell: str, decimal_comma: bool) -> float | None:
    """A cell's value: None when blank, nan/inf kept. Raises ValueError when not a number."""
    value = cell.strip()
    if not value:
        return None
    if value.lower() in _MISSING_WORDS:
        return math.nan
    if decimal_comma and value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")  # "2,31" in a semicolon file is 2.31
    return float(value)


def _read_cells(
    columns: dict[str, int], header: list[str], body: list[tuple[int, list[str]]], delimiter: str
) -> dict[str, list[float | None]]:
    cells: dict[str, list[float | None]] = {name: [] for name in columns}
    width = len(header)
    for row_number, (line, fields) in enumerate(body, start=1):
        extra = fields[width:]
        if len(fields) < width or any(f.strip() for f in extra):
            raise LogFormatError(
                f"Row {row_number} (line {line}) has {len(fields)} values but the header has "
                f"{width} columns. Expected one value per column on every row, separated by "
                f"{_SEPARATOR_NAMES[delimiter]}."
            )
        for name, index in columns.items():
            try:
                value = _parse_cell(fields[index], delimiter == ";")
            except ValueError:
                raise LogFormatError(
                    _bad_cell_message(header[index], row_number, line, fields[index])
                ) from None
            cells[name].append(value)
    return cells


def _bad_cell_message(column: str, row_number: int, line: int, cell: str) -> str:
    shown = cell.strip()[:40]
    hint = " (log loss.item(), not the tensor)" if shown.startswith("tensor(") else ""
    return (
        f"Row {row_number} (line {line}): column '{column.strip()}' holds '{shown}', which "
        f"is not a number. Expected a plain number{hint}, or blank / nan / inf for a "
        "missing or diverged value."
    )


def _merge_repeated_steps(
    cells: dict[str, list[float | None]], key: str
) -> dict[str, list[float | None]]:
    """Lightning writes train and val metrics of one step on separate rows: join them."""
    merged: dict[str, list[float | None]] = {name: [] for name in cells}
    for i, x in enumerate(cells[key]):
        if i == 0 or x != cells[key][i - 1]:
            for name in cells:
                merged[name].append(cells[name][i])
            continue
        for name in cells:
            if cells[name][i] is not None:
                merged[name][-1] = cells[name][i]
    return merged


def _choose_x(
    cells: dict[str, list[float | None]], columns: dict[str, int], header: list[str]
) -> tuple[str, str | None]:
    """(x_name, column holding x or None for row numbers); per-step logs repeat the epoch."""
    epochs = cells.get("epoch")
    unique_epochs = epochs is not None and len(set(epochs)) == len(epochs)
    key = "epoch" if unique_epochs else "step" if "step" in cells else None
    if key is not None:
        for row_number, value in enumerate(cells[key], start=1):
            if value is None or not math.isfinite(value):
                raise LogFormatError(
                    f"Row {row_number}: column '{header[columns[key]].strip()}' is "
                    f"{'blank' if value is None else value}. Expected a number in the {key} "
                    f"column on every row (or no {key} column at all)."
                )
    if key is None:  # row numbers: per-step rows when an epoch column repeats
        return ("epoch" if epochs is None else "step"), None
    return key, key


def _accuracy(values: list[float | None], column: str) -> tuple[float, ...] | None:
    floats = [math.nan if v is None else v for v in values]
    finite = [v for v in floats if math.isfinite(v)]
    if not finite:
        return None
    if min(finite) < 0 or max(finite) > 100:
        bad = min(finite) if min(finite) < 0 else max(finite)
        raise LogFormatError(
            f"Column '{column}' holds the accuracy {bad:g}. Expected fractions from 0 to 1 "
            "or percentages from 0 to 100."
        )
    scale = 100.0 if max(finite) > 1.0 else 1.0  # 97.5 means 97.5 %
    return tuple(v / scale for v in floats)


def _build_log(
    cells: dict[str, list[float | None]],
    columns: dict[str, int],
    header: list[str],
    n_classes: int | None,
) -> TrainingLog:
    x_name, key = _choose_x(cells, columns, header)
    if key == "step":
        cells = _merge_repeated_steps(cells, "step")
    loss_column = header[columns["train_loss"]].strip()
    if all(v is None for v in cells["train_loss"]):
        raise LogFormatError(
            f"The train loss column '{loss_column}' is blank on every row. Expected a number "
            "(or nan) on each row."
        )

    def floats(name: str) -> tuple[float, ...] | None:
        values = cells.get(name)
        if values is None or all(v is None for v in values):
            return None
        return tuple(math.nan if v is None else v for v in values)

    train_loss = floats("train_loss") or ()
    x = floats(key) if key else None
    return TrainingLog(
        train_loss=train_loss,
        x=x or tuple(float(i) for i in range(1, len(train_loss) + 1)),
        x_name=x_name,
        val_loss=floats("val_loss"),
        train_acc=_accuracy(cells["train_acc"], header[columns["train_acc"]].strip())
        if "train_acc" in cells
        else None,
        val_acc=_accuracy(cells["val_acc"], header[columns["val_acc"]].strip())
        if "val_acc" in cells
        else None,
        n_classes=n_classes,
    )
