"""Read TensorBoard logs into a LogTable: event files (events.out.tfevents.*) and the
single-metric CSV files that TensorBoard's and Weights & Biases' charts export.

An event file is a TFRecord file of Event protos, the first naming the file version. Its
scalars are read with tensorboard's own record reader, imported only when an event file
arrives, because importing tensorboard takes a moment and most logs are CSV.

A chart export holds one metric (W&B: one metric for each run on the chart), so a learner
uploads several files together and they are joined on their step.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, NamedTuple

from engine.log_table import Cells, LogFormatError, LogTable, quote

if TYPE_CHECKING:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

EVENTS_EXPECTED = (
    "Expected an events.out.tfevents.* file written by SummaryWriter, holding scalars "
    "logged with add_scalar."
)
EXPORTS_EXPECTED = (
    "Expected CSV files exported from a chart: TensorBoard's (header Wall time,Step,Value) "
    'or Weights & Biases\' (header Step,"<run> - <metric>",...), one metric per file.'
)

# A TFRecord: an 8-byte little-endian length and its 4-byte checksum, the data, the data's
# 4-byte checksum.
_LENGTH = struct.Struct("<Q")
_FRAMING = _LENGTH.size + 4 + 4
# The first Event is wall_time, maybe step, then file_version (field 3: tag byte 0x1a, a
# one-byte length, the text). It is a few dozen bytes; a far larger length is not a header.
_FILE_VERSION = re.compile(rb"\x1a.brain\.Event:\d", re.DOTALL)
_MAX_FIRST_RECORD = 4096

# How a TensorBoard export is named when downloaded from its UI; a browser may add " (1)".
_TENSORBOARD_NAME = re.compile(
    r"run-(?P<run>.*?)-tag-(?P<tag>.+?)(?: \(\d+\))?\.csv", re.IGNORECASE
)
_WANDB_BOUNDS = ("__MIN", "__MAX")  # min and max of the points W&B sampled for its chart
_VAL_WORDS = {"val", "valid", "validation", "eval", "evaluation", "test", "dev"}

Series = dict[float, float]  # step -> value
Rows = list[tuple[int, list[str]]]  # (line number, fields), the header first


@dataclass
class _Scan:
    """What the records of an event file held, as far as they could be read."""

    series: dict[str, Series] = field(default_factory=dict)  # scalar tag -> its values
    kinds: dict[str, str] = field(default_factory=dict)  # tag -> what its first value holds
    read: int = 0  # records decoded
    undecodable: bool = False  # a record passed its checksum but was not an Event


class _Export(NamedTuple):
    """One metric's series from an export, and names to tell it apart from another's."""

    metric: str
    qualifiers: tuple[str, ...]  # W&B: the run, then the file; TensorBoard: the file
    values: Series


# ---- event files ----------------------------------------------------------------------


def looks_like_event_file(raw: bytes) -> bool:
    """Whether the bytes are a TensorBoard event file, whatever the file is called: TFRecord
    framing whose first record is the Event naming the file version ("brain.Event:2")."""
    if len(raw) < _FRAMING:
        return False
    (length,) = _LENGTH.unpack_from(raw)
    if length > _MAX_FIRST_RECORD or len(raw) < _FRAMING + length:
        return False
    first = raw[_LENGTH.size + 4 : _LENGTH.size + 4 + length]
    return _FILE_VERSION.search(first) is not None


def read_event_file(raw: bytes) -> LogTable:
    """The scalars of a TensorBoard event file: a `step` column (each distinct step, sorted)
    and one column per scalar tag, None where a tag has no value at a step.

    Legacy scalars (`simple_value`, what SummaryWriter.add_scalar writes) and TF2 tensor
    scalars are read; histograms, images, text and other values are skipped. A tag written
    twice at one step keeps the last value. A truncated or corrupt file yields what precedes
    the damage. Raises LogFormatError when the bytes are not an event file or hold no scalar.
    """
    if not looks_like_event_file(raw):
        raise LogFormatError(f"{_not_events(raw)} {EVENTS_EXPECTED}")
    scan = _scan(_records(raw))
    if not scan.series:
        raise LogFormatError(_no_scalars_message(scan, raw))
    series = {_unique(tag, {"step"}, ("tag",)): values for tag, values in scan.series.items()}
    return LogTable("tensorboard_events", _join(series), {"x": "step"})


def _not_events(raw: bytes) -> str:
    """Why the bytes are not an event file, in the learner's terms."""
    if _FILE_VERSION.search(raw[:_MAX_FIRST_RECORD]):
        return "The TensorBoard event file is cut off inside its first record."
    start = re.sub(r"\s+", " ", raw[:30].decode("utf-8", errors="replace")).strip()
    if start.isprintable() and "\ufffd" not in start:
        return f"The file is not a TensorBoard event file: it is text, starting '{start}'."
    return "The file is not a TensorBoard event file: its first bytes are no event header."


def _records(raw: bytes) -> list[bytes]:
    """The serialized Events that tensorboard's reader gets out of the bytes; it stops at
    the first truncated or corrupt record."""
    # lazy: tensorboard is slow to import and only event files need it
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

    # The reader takes a path, not bytes.
    with tempfile.TemporaryDirectory(prefix="curve_doctor_") as folder:
        path = Path(folder) / "events.out.tfevents.upload"
        path.write_bytes(raw)
        return list(RawEventFileLoader(str(path)).Load())


def _scan(records: list[bytes]) -> _Scan:
    """The scalar series and the kind of every tag in the records, in the order written."""
    # lazy: tensorboard (and the protobuf it brings) is slow to import; only event files need it
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event  # lazy: as above

    scan = _Scan()
    for record in records:
        try:
            event = Event.FromString(record)
        except DecodeError:
            scan.undecodable = True
            break
        scan.read += 1
        _add_event(scan, event)
    return scan


def _add_event(scan: _Scan, event: Event) -> None:
    if event.HasField("graph_def") or event.HasField("meta_graph_def"):
        scan.kinds.setdefault("", "a model graph")
    for value in event.summary.value:
        # TF2 writers give a tag's metadata (what the tensor is) on its first value only.
        kind = scan.kinds.get(value.tag) or scan.kinds.setdefault(value.tag, _kind(value))
        number = _scalar(value) if kind == "scalar" else None
        if number is not None:
            scan.series.setdefault(value.tag, {})[event.step] = number


def _kind(value: Summary.Value) -> str:
    """What a summary value holds: "scalar", or a word for the learner ("histogram")."""
    # lazy: tensorboard is slow to import and only event files need it
    from tensorboard.compat.proto.summary_pb2 import DATA_CLASS_SCALAR

    held = value.WhichOneof("value")
    if held == "simple_value":
        return "scalar"
    if held == "tensor":
        plugin = value.metadata.plugin_data.plugin_name
        scalar = plugin == "scalars" or value.metadata.data_class == DATA_CLASS_SCALAR
        return "scalar" if scalar else plugin or "tensor"
    return {"histo": "histogram"}.get(held or "", held or "empty value")


def _scalar(value: Summary.Value) -> float | None:
    """The number a scalar value holds, or None when it holds something else."""
    # lazy: tensorboard is slow to import and only event files need it
    from tensorboard.util.tensor_util import make_ndarray

    held = value.WhichOneof("value")
    if held == "simple_value":
        return float(value.simple_value)
    if held != "tensor":
        return None
    array = make_ndarray(value.tensor)
    if array.size != 1 or array.dtype.kind not in "fiub":
        return None
    return float(array.reshape(-1)[0])


def _no_scalars_message(scan: _Scan, raw: bytes) -> str:
    """What the file holds instead of scalars, and whether it was damaged."""
    held = [f"{kind} '{quote(tag)}'" if tag else kind for tag, kind in scan.kinds.items()]
    shown = ", ".join(held[:8]) + (f" and {len(held) - 8} more" if len(held) > 8 else "")
    holds = f" It holds {shown}." if held else " It holds no values at all."
    whole, clean_end = _framed_records(raw)
    damage = ""
    if scan.undecodable or scan.read < whole or not clean_end:
        damage = f" It is cut off or corrupt after its first {scan.read} records."
    return f"The TensorBoard event file holds no scalars.{holds}{damage} {EVENTS_EXPECTED}"


def _framed_records(raw: bytes) -> tuple[int, bool]:
    """How many whole records the bytes frame, and whether they end where a record does."""
    offset = count = 0
    while offset + _FRAMING <= len(raw):
        (length,) = _LENGTH.unpack_from(raw, offset)
        if offset + _FRAMING + length > len(raw):
            return count, False
        offset, count = offset + _FRAMING + length, count + 1
    return count, offset == len(raw)


# ---- chart exports (CSV) --------------------------------------------------------------


def export_kind(header: list[str]) -> str | None:
    """Which tool exported a chart, from its parsed header row: "tensorboard_csv" for
    `Wall time,Step,Value`, "wandb_csv" for `Step` then "<run> - <metric>" columns (with
    or without __MIN/__MAX), None for anything else."""
    names = [name.strip() for name in header]
    if [name.lower() for name in names] == ["wall time", "step", "value"]:
        return "tensorboard_csv"
    if len(names) < 2 or not _is_step_name(names[0]):
        return None
    runs = names[1:]
    if all(" - " in name for name in runs) and any(not _is_bound(name) for name in runs):
        return "wandb_csv"
    return None


def combine_exports(files: list[tuple[str, str]]) -> LogTable:
    """One table from several chart exports, given as (file name, text) pairs.

    Each file gives its metrics' series: W&B names each column "<run> - <metric>" (its
    __MIN/__MAX columns are dropped); a TensorBoard export is named after its tag by the
    file name `run-<run>-tag-<tag>.csv` (a `/` in the tag shows as `_`), else by the file's
    stem. A repeated name gets the run, else the file's stem, in brackets. The series are
    joined on their step: a `step` column of the sorted distinct steps, None where a series
    has no value. Hints: x is the step, and loss/accuracy roles guessed from the metric
    names (a lone series is the train loss). Raises LogFormatError naming the file, line and
    cell when a file is not an export or holds something other than numbers.
    """
    if not files:
        raise LogFormatError(f"No export files were given. {EXPORTS_EXPECTED}")
    read = [_read_export(file_name, text) for file_name, text in files]
    taken = {"step"}
    named = [
        (export, _unique(export.metric, taken, export.qualifiers))
        for _, exports in read
        for export in exports
    ]
    hints = {"x": "step", **_guess_roles([(export.metric, name) for export, name in named])}
    series = {name: export.values for export, name in named}
    # The kind only says which tool wrote the files; with a mix, the first file's is shown.
    return LogTable(read[0][0], _join(series), hints)


def _read_export(file_name: str, text: str) -> tuple[str, list[_Export]]:
    """(kind, series) of one export file."""
    rows = _csv_rows(file_name, text)
    header = [name.strip() for name in rows[0][1]]
    kind = export_kind(header)
    if kind is None:
        raise LogFormatError(
            f"'{quote(file_name)}' is not a chart export: its header is "
            f"{quote(', '.join(header), 200)}. {EXPORTS_EXPECTED}"
        )
    if len(rows) < 2:
        raise LogFormatError(
            f"'{quote(file_name)}' has a header but no data rows. {EXPORTS_EXPECTED}"
        )
    stem = PurePath(file_name.replace("\\", "/")).stem
    if kind == "tensorboard_csv":
        values = _series(file_name, rows, step_index=1, index=2)
        return kind, [_Export(_tensorboard_tag(file_name), (stem,), values)]
    return kind, _wandb_exports(file_name, rows, stem)


def _wandb_exports(file_name: str, rows: Rows, stem: str) -> list[_Export]:
    """Each run's plain column of a W&B export; a run name may hold " - ", a metric not."""
    exports = []
    for index, name in enumerate(rows[0][1]):
        if index and not _is_bound(name.strip()):
            run, metric = (part.strip() for part in name.strip().rsplit(" - ", 1))
            exports.append(_Export(metric, (run, stem), _series(file_name, rows, 0, index)))
    return exports


def _csv_rows(file_name: str, text: str) -> Rows:
    """The non-blank rows of a file as (line number, fields), header first."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        rows = [(reader.line_num, fields) for fields in reader if any(f.strip() for f in fields)]
    except csv.Error as err:
        raise LogFormatError(
            f"'{quote(file_name)}', line {reader.line_num}, could not be read as CSV ({err}). "
            f"{EXPORTS_EXPECTED}"
        ) from err
    if not rows:
        raise LogFormatError(f"'{quote(file_name)}' is empty. {EXPORTS_EXPECTED}")
    return rows


def _series(file_name: str, rows: Rows, step_index: int, index: int) -> Series:
    """Column `index` keyed by the step in column `step_index`; blank cells are skipped, and
    a step given twice keeps its last value."""
    header = [name.strip() for name in rows[0][1]]
    values: Series = {}
    for line, fields in rows[1:]:
        if len(fields) < len(header):
            raise LogFormatError(
                f"'{quote(file_name)}', line {line}, has {len(fields)} cells but the header has "
                f"{len(header)} columns. {EXPORTS_EXPECTED}"
            )
        step = _number(file_name, line, header[step_index], fields[step_index])
        if step is None:
            raise LogFormatError(
                f"'{quote(file_name)}', line {line}: the {quote(header[step_index])} cell is "
                "blank. Expected the step of every row."
            )
        value = _number(file_name, line, header[index], fields[index])
        if value is not None:
            values[step] = value
    return values


def _number(file_name: str, line: int, column: str, cell: str) -> float | None:
    """A cell's number (nan and inf kept), None when blank."""
    text = cell.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise LogFormatError(
            f"'{quote(file_name)}', line {line}: the '{quote(column)}' cell holds "
            f"'{quote(text, 40)}', which is "
            "not a number. Expected a number in every step and value cell, blank where "
            "nothing was logged."
        ) from None


def _tensorboard_tag(file_name: str) -> str:
    """The tag a TensorBoard export was downloaded for, from its name; else the stem."""
    name = PurePath(file_name.replace("\\", "/")).name
    match = _TENSORBOARD_NAME.fullmatch(name)
    return match["tag"] if match else PurePath(name).stem


def _is_step_name(name: str) -> bool:
    # W&B names the x axis after what the chart plots it against: "Step" unless changed.
    return name.lower().lstrip("_").endswith("step")


def _is_bound(name: str) -> bool:
    return name.endswith(_WANDB_BOUNDS)


# ---- shared ---------------------------------------------------------------------------


def _unique(name: str, taken: set[str], qualifiers: tuple[str, ...]) -> str:
    """The name, else the name with the first free qualifier in brackets, else numbered;
    the name chosen is added to `taken`."""
    candidates = [name, *(f"{name} ({qualifier})" for qualifier in qualifiers)]
    numbered = (f"{candidates[-1]} {count}" for count in itertools.count(2))
    chosen = next(c for c in itertools.chain(candidates, numbered) if c not in taken)
    taken.add(chosen)
    return chosen


def _join(series: dict[str, Series]) -> dict[str, Cells]:
    """A `step` column of every distinct step, sorted, then each series on those rows."""
    steps = sorted({step for values in series.values() for step in values})
    columns: dict[str, Cells] = {"step": [float(step) for step in steps]}
    for name, values in series.items():
        columns[name] = [values.get(step) for step in steps]
    return columns


def _guess_roles(named: list[tuple[str, str]]) -> dict[str, str]:
    """Role -> column from (metric, column) pairs, the first column per role winning; a
    lone series is the train loss, whatever it is called (the learner can change it)."""
    if len(named) == 1:
        return {"train_loss": named[0][1]}
    roles: dict[str, str] = {}
    for metric, column in named:
        role = _role(metric)
        if role:
            roles.setdefault(role, column)
    return roles


def _role(metric: str) -> str | None:
    """The role a metric's name says: "Loss/val" and "eval_loss" are val losses."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", metric)  # valLoss -> val Loss
    words = set(re.split(r"[^a-z0-9]+", spaced.lower()))
    stage = "val" if words & _VAL_WORDS else "train"
    if any("loss" in word for word in words):
        return f"{stage}_loss"
    if words & {"acc", "accuracy"}:
        return f"{stage}_acc"
    if "lr" in words or {"learning", "rate"} <= words:
        return "learning_rate"
    return None
