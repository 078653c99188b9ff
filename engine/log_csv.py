"""Read a CSV training log into a LogTable, recognising which tool wrote it.

Keras' CSVLogger, Lightning's metrics.csv, fastai's CSVLogger, Ultralytics' results.csv, the
Hugging Face log history saved as CSV and hand-written loops all write a header row and one
row per epoch or logged step; they differ in names, blank cells and padding, which is what
the format tells the role rules.
"""

from __future__ import annotations

import csv
import io
import math
import re

from engine.log_table import Cells, LogFormatError, LogTable, quote

SNIPPET = "epoch,train_loss,val_loss\n1,2.10,2.05"
_MISSING_WORDS = {"nan", "-nan", "na", "n/a", "null", "none"}
_SEPARATOR_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons"}

Rows = list[tuple[int, list[str]]]  # (line number, fields) of the header and each data row


def detect_delimiter(text: str) -> str:
    """The separator the header row uses most: comma, tab or semicolon (comma on a tie)."""
    lines = (line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    header = next(lines, "")
    counts = {sep: header.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda sep: counts[sep])  # ties keep the comma, listed first
    return best if counts[best] else ","


def read_rows(text: str, delimiter: str, max_rows: int) -> Rows:
    """The header and each non-blank, non-comment row; raises LogFormatError on bad CSV, no
    rows, or more than max_rows data rows."""
    rows: Rows = []
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
            f"values separated by {_SEPARATOR_NAMES[delimiter]}, e.g.\n{SNIPPET}"
        ) from err
    if not rows:
        raise LogFormatError(
            "The log has only blank or comment lines. Expected a header row and one row per "
            f"epoch, e.g.\n{SNIPPET}"
        )
    if len(rows) < 2:
        names = quote(", ".join(f.strip() for f in rows[0][1]), 200)
        raise LogFormatError(
            f"The log has a header ({names}) but no data rows. Expected one row per epoch "
            f"below the header, e.g.\n{SNIPPET}"
        )
    return rows


def looks_numeric(cell: str) -> bool:
    """Whether a cell reads as a number."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_csv_table(rows: Rows, delimiter: str) -> LogTable:
    """The table of a CSV's rows (header first): every column whose cells all read as
    numbers, the others listed as unreadable with their first bad cell."""
    header = [name.strip().strip("\"'") for name in rows[0][1]]
    if header and all(looks_numeric(name) for name in header):
        raise LogFormatError(
            f"The first row ({quote(', '.join(header), 200)}) looks like data, not a header. "
            f"Expected a header row naming the columns first, e.g.\n{SNIPPET}"
        )
    _check_widths(rows, delimiter)
    columns: dict[str, Cells] = {}
    unreadable: dict[str, str] = {}
    for index, name in enumerate(header):
        if not name or name in columns:  # a trailing separator, or a repeated name
            continue
        try:
            columns[name] = _column(rows, index, delimiter == ";")
        except ValueError as bad:
            unreadable[name] = str(bad)
    source_format, hints = _recognise(list(columns))
    columns, hints = _add_loss_sums(columns, hints)
    return LogTable(source_format, columns, hints, unreadable)


def _check_widths(rows: Rows, delimiter: str) -> None:
    width = len(rows[0][1])
    for row_number, (line, fields) in enumerate(rows[1:], start=1):
        if len(fields) < width or any(f.strip() for f in fields[width:]):
            raise LogFormatError(
                f"Row {row_number} (line {line}) has {len(fields)} values but the header has "
                f"{width} columns. Expected one value per column on every row, separated by "
                f"{_SEPARATOR_NAMES[delimiter]}."
            )


def _column(rows: Rows, index: int, decimal_comma: bool) -> Cells:
    """One column's cells; raises ValueError naming the first cell that is not a number."""
    cells: Cells = []
    name = rows[0][1][index].strip()
    for row_number, (line, fields) in enumerate(rows[1:], start=1):
        try:
            cells.append(parse_cell(fields[index], decimal_comma))
        except ValueError:
            raise ValueError(bad_cell_message(name, row_number, line, fields[index])) from None
    return cells


def parse_cell(cell: str, decimal_comma: bool = False) -> float | None:
    """A cell's value: None when blank, nan/inf kept. Raises ValueError when not a number."""
    value = cell.strip()
    if not value:
        return None
    if value.lower() in _MISSING_WORDS:
        return math.nan
    if decimal_comma and value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")  # "2,31" in a semicolon file is 2.31
    return float(value)


def bad_cell_message(column: str, row_number: int, line: int, cell: str) -> str:
    """What is wrong with a cell that should hold a number, and what is expected."""
    shown = quote(cell.strip(), 40)
    hint = " (log loss.item(), not the tensor)" if shown.startswith("tensor(") else ""
    return (
        f"Row {row_number} (line {line}): column '{quote(column)}' holds '{shown}', which "
        f"is not a number. Expected a plain number{hint}, or blank / nan / inf for a "
        "missing or diverged value."
    )


def _recognise(names: list[str]) -> tuple[str, dict[str, str]]:
    """(format id, roles the format fixes) from the numeric columns' names."""
    lowered = {name.lower(): name for name in names}
    if any(re.fullmatch(r"train/\w+_loss", name) for name in lowered):
        maps = [name for low, name in lowered.items() if low.startswith("metrics/map50")]
        return "ultralytics_csv", ({"val_acc": min(maps, key=len)} if maps else {})
    if "valid_loss" in lowered and "train_loss" in lowered:
        # fastai reports its metrics (accuracy, error_rate) on the validation set only.
        found = next((lowered[n] for n in ("accuracy", "acc") if n in lowered), None)
        return "fastai_csv", ({"val_acc": found} if found else {})
    # Lightning's CSVLogger writes its columns in sorted order, with `_step`/`_epoch` on
    # metrics logged both ways.
    suffixed = any(name.endswith(("_step", "_epoch")) for name in lowered)
    if suffixed or ({"epoch", "step"} <= set(lowered) and names == sorted(names)):
        return "lightning_csv", {}
    if any(name.startswith("val_") for name in lowered) and (
        {"loss", "acc", "accuracy"} & set(lowered)
    ):
        return "keras_csv", {}
    return "csv", {}


def _add_loss_sums(
    columns: dict[str, Cells], hints: dict[str, str]
) -> tuple[dict[str, Cells], dict[str, str]]:
    """Ultralytics logs its loss in parts (box, cls, dfl): the loss it optimises is their sum,
    added as a column named after its parts."""
    for split, role in (("train", "train_loss"), ("val", "val_loss")):
        parts = [name for name in columns if re.fullmatch(rf"{split}/\w+_loss", name.lower())]
        if len(parts) < 2:
            continue
        name = " + ".join(parts)
        rows = zip(*(columns[part] for part in parts), strict=True)
        columns = {**columns, name: [_sum(cells) for cells in rows]}
        hints = {**hints, role: name}
    return columns, hints


def _sum(cells: tuple[float | None, ...]) -> float | None:
    return None if any(cell is None for cell in cells) else math.fsum(cells)  # type: ignore[arg-type]
