"""Reading the training logs learners bring from their tools into a TrainingLog.

The engine fills a `TrainingLog` as it trains. A learner can also bring the log their own
tool wrote: a CSV (Keras, Lightning, fastai, Ultralytics, a print loop), Hugging Face's
trainer_state.json, a TensorBoard event file or scalar exports, or pasted console output,
and the same Curve Doctor reads it. Divergence is data: NaN and infinity cells are kept, not
rejected; a blank cell is "not logged on this row".
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import IO

from engine.log_console import parse_console, read_trainer_state
from engine.log_csv import SNIPPET, detect_delimiter, read_csv_table, read_rows
from engine.log_roles import build_log, check_train_loss
from engine.log_table import LogFormatError, LogTable, TrainingLog
from engine.log_tensorboard import (
    combine_exports,
    export_kind,
    looks_like_event_file,
    read_event_file,
)

__all__ = ["LogFormatError", "TrainingLog", "parse_training_log", "read_training_log"]

EXAMPLE_LOG_CSV = """epoch,train_loss,val_loss,train_acc,val_acc
1,1.52,1.31,0.62,0.68
2,0.71,0.66,0.83,0.84
3,0.42,0.45,0.89,0.88
4,0.29,0.36,0.92,0.90
5,0.22,0.33,0.94,0.91
"""

MAX_LOG_BYTES = 50 * 1024 * 1024  # far above 100,000 rows of a dozen numbers
Columns = Mapping[str, str]  # role -> column name, the learner's choice of columns


def parse_training_log(
    text: str,
    n_classes: int | None = None,
    max_rows: int = 100_000,
    columns: Columns | None = None,
    name: str = "log.csv",
) -> TrainingLog:
    """Parse a log's text into a TrainingLog: CSV (comma, tab or semicolon separated, with a
    header row), a Hugging Face trainer_state.json, or pasted console output.

    Only a train loss is required; epoch/step, val loss, accuracies and the learning rate are
    picked up under their common names, or as `columns` (role -> column name) says. Text read
    with errors="surrogateescape" (standard input under a C locale) is decoded from its bytes
    first, so a UTF-16 log piped in reads like UTF-8. Raises LogFormatError, whose message says
    what was wrong and what is expected, for anything that cannot be read.
    """
    _check_n_classes(n_classes)
    return build_log(table_from_text(text, max_rows, columns, name), n_classes, columns)


def table_from_text(
    text: str, max_rows: int = 100_000, columns: Columns | None = None, name: str = "log.csv"
) -> LogTable:
    """The LogTable of a log's text, checked and decoded first (see parse_training_log)."""
    return read_table(_check_text(_unescape_bytes(text)), max_rows, columns, name)


def table_from_files(
    files: Sequence[tuple[str, bytes | str]], columns: Columns | None = None
) -> LogTable:
    """The LogTable of uploaded files, given as (file name, contents): one log of any
    format (a TensorBoard event file is recognised from its bytes), or several one-metric
    CSV exports (TensorBoard's or W&B's download) joined on their step."""
    if not files:
        raise LogFormatError("No file was given. Expected a training log file.")
    if len(files) > 1:
        texts = [(name, data if isinstance(data, str) else _decode(data)) for name, data in files]
        return combine_exports(texts)
    name, data = files[0]
    if isinstance(data, bytes) and looks_like_event_file(data):
        return read_event_file(data)
    return table_from_text(
        data if isinstance(data, str) else _decode(data), columns=columns, name=name
    )


def read_table(
    text: str, max_rows: int = 100_000, columns: Columns | None = None, name: str = "log.csv"
) -> LogTable:
    """The LogTable of a log's text, whatever tool wrote it (see parse_training_log); `name`
    is the file's name, which names the metric of a TensorBoard CSV export."""
    if text.lstrip().startswith(("{", "[")):
        table = read_trainer_state(text)
        if table is not None:
            return table
    try:
        delimiter = detect_delimiter(text)
        rows = read_rows(text, delimiter, max_rows)
        if export_kind([cell.strip().strip("\"'") for cell in rows[0][1]]):
            return combine_exports([(name, text)])
        table = read_csv_table(rows, delimiter)
        check_train_loss(table, columns)  # a CSV reading must find its train loss
        return table
    except LogFormatError:
        console = parse_console(text)
        if console is None:
            raise
        return console


def read_training_log(
    path_or_buffer: str | os.PathLike[str] | IO[bytes] | IO[str],
    n_classes: int | None = None,
    max_bytes: int = MAX_LOG_BYTES,
    columns: Columns | None = None,
) -> TrainingLog:
    """Read a log of at most `max_bytes` from a file path or an open (binary or text) file,
    then parse it; a TensorBoard event file is recognised from its bytes.

    Bytes are decoded as UTF-8, or as UTF-16 when they start with its byte-order mark.
    Raises LogFormatError when the file cannot be opened, is too large, is not text in one
    of those encodings, or is not a valid log (see parse_training_log).
    """
    _check_n_classes(n_classes)
    raw = _read_bytes(path_or_buffer, max_bytes)
    return read_training_logs([(_file_name(path_or_buffer), raw)], n_classes, columns)


def read_training_logs(
    files: Sequence[tuple[str, bytes | str]],
    n_classes: int | None = None,
    columns: Columns | None = None,
) -> TrainingLog:
    """One TrainingLog from several single-metric exports (TensorBoard's or W&B's CSV
    download, one metric per file), given as (file name, contents); one file of any format
    is read like read_training_log reads it."""
    _check_n_classes(n_classes)
    return build_log(table_from_files(files, columns), n_classes, columns)


def _file_name(path_or_buffer: object) -> str:
    """The file's own name (a TensorBoard export names its metric only there)."""
    path = path_or_buffer if isinstance(path_or_buffer, (str, os.PathLike)) else None
    name = os.fspath(path) if path is not None else getattr(path_or_buffer, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else "log.csv"


def _read_bytes(
    path_or_buffer: str | os.PathLike[str] | IO[bytes] | IO[str], max_bytes: int
) -> bytes | str:
    if isinstance(path_or_buffer, (str, os.PathLike)):
        try:
            with open(path_or_buffer, "rb") as file:
                raw: bytes | str = file.read(max_bytes + 1)
        except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
            reason = getattr(err, "strerror", None) or err
            raise LogFormatError(
                f"Could not open the log file {os.fspath(path_or_buffer)!r}: "
                f"{reason}. Expected the path of a readable log file."
            ) from err
    else:
        raw = path_or_buffer.read(max_bytes + 1)
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if len(raw) > max_bytes:
        raise LogFormatError(
            f"The file is larger than {max_bytes / 2**20:g} MB. "
            "Expected a log of at most 100,000 rows; log every few steps instead."
        )
    return raw


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
            f"{SNIPPET}"
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
            f"{SNIPPET}"
        )
    sample = text[:4096]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r")
    if "\x00" in text or control > max(2, len(sample) // 100):
        raise LogFormatError(
            "The log looks like binary data, not text. Expected a plain-text CSV file, e.g.\n"
            f"{SNIPPET}"
        )
    return text
