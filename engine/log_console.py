"""Reading Hugging Face's trainer_state.json and pasted console output into a LogTable.

Most learners have no log file, only what their training printed: Keras' `fit()` progress
bars, the dicts the Hugging Face Trainer prints, or the lines of their own print loop. Each
is read into the columns the tool wrote, named as it named them; engine.log_roles decides
later which column is the train loss.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from engine.log_table import Cells, LogFormatError, LogTable, quote

Row = dict[str, object]  # column name -> the value one log line or entry gave it
Reading = tuple[LogTable, int]  # a format's table, and how many pieces of the text it used

# A number as the tools print it: 0.41, .5, 4.1e-3, 1.0000e-03, nan, inf, -inf.
_NUMBER = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?))"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours and bold in terminal captures
_REDRAW = re.compile(r"[\r\x08]+")  # progress bars redraw their line with \r or backspaces

# The Hugging Face Trainer's throughput and summary keys say nothing about learning.
_THROUGHPUT_KEY = re.compile(r"_runtime$|_per_second$|^total_flos$")
_HF_HINTS = {"train_loss": ("loss",), "val_loss": ("eval_loss",), "val_acc": ("eval_accuracy",)}
_TRAINER_STATE_EXAMPLE = '{"loss": 0.51, "step": 10, "epoch": 0.04}'

_KERAS_EPOCH = re.compile(r"^\s*Epoch (\d+)/(\d+)")
# At most 18 digits: a longer run of digits is no batch count, and int() refuses 4,300 or more.
_KERAS_COUNTER = re.compile(r"^\s*(\d{1,18})/(\d{1,18})\b")
# "- ETA: 15:00" is the time left, not a metric.
_KERAS_METRIC = re.compile(rf"(?:^|\s)-\s+(?!ETA:)([A-Za-z_]\w*):\s+({_NUMBER})(?![\w.:])")
_KERAS_HINTS = {
    "train_loss": ("loss",),
    "val_loss": ("val_loss",),
    "val_acc": ("val_accuracy", "val_acc"),
    "x": ("epoch",),
}

_HF_DICT = re.compile(r"\{[^{}]*\}")  # the Trainer's dicts are flat
# Python prints float("nan") as nan, which literal_eval cannot read: quote it first.
_BARE_NONFINITE = re.compile(r"(?<![\w.'\"])(-?(?:nan|inf))(?![\w'\"])")
# When literal_eval still fails (np.float64(0.86), tensor(0.5)): the numbers key by key.
_HF_PAIR = re.compile(rf"['\"](\w+)['\"]\s*:\s*(?:[\w.]+\()?['\"]?({_NUMBER})")

# Print-loop lines: counters (epoch 3, Epoch [3/10], step 100, iter 200) come out first, so
# that "3/10" is never read as a value and the words around them cannot join a name.
_COUNTER = re.compile(
    r"(?<![\w/])(?P<word>epoch|global[ _]step|step|iteration|iter|batch)"
    r"\s*[:=#]?\s*\[?\s*(?P<n>\d+(?:\.\d+)?)(?:\s*(?:/|of)\s*(?P<total>\d{1,18}))?\s*\]?(?!\w)",
    re.IGNORECASE,
)
_LOG_LEVEL = re.compile(r"\b(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b")
_WORD = r"[A-Za-z_][A-Za-z0-9_]*(?:[/-][A-Za-z_][A-Za-z0-9_]*)*"
_PAIR = re.compile(
    rf"(?<![\w/.-])(?P<name>{_WORD}(?:[ \t]+{_WORD}){{0,2}})"
    rf"(?P<sep>[ \t]*[:=][ \t]*|[ \t]+)(?P<value>{_NUMBER})(?P<percent>%)?(?![\w:/]|\.\w)"
)
# A line without a counter is a log line only when it names a loss or a metric.
_LOSS_LIKE = re.compile(
    r"loss|(?<![a-z])(?:acc|err|mse|rmse|mae|nll|ppl|perplexity|f1|auc|iou|dice|bleu"
    r"|precision|recall)",
    re.IGNORECASE,
)
# "took 12 seconds" is not a metric: without ":" or "=" a name must look like one.
_METRIC_LIKE = re.compile(rf"{_LOSS_LIKE.pattern}|(?<![a-z])(?:lr|rate|norm|score)", re.I)
# Words that may stand before a metric's name to say which one it is: "val acc 0.91".
_QUALIFIER_WORDS = (
    "train training val valid validation test eval evaluation dev avg average mean running "
    "batch epoch grad gradient learning top1 top5"
)
_QUALIFIERS = frozenset(_QUALIFIER_WORDS.split())


def read_trainer_state(text: str) -> LogTable | None:
    """Read the trainer_state.json that the Hugging Face Trainer writes in each checkpoint.

    Each `log_history` entry is one row; the columns are the union of the entries' numeric
    keys (None where an entry lacks one; NaN and Infinity kept). The end-of-training summary
    entry (the one with `train_runtime`) and the runtime, throughput and FLOs keys are left
    out. Returns None when the text is not a JSON object, so another format can be tried;
    raises LogFormatError when it is one without a usable log_history.
    """
    try:
        state = json.loads(text.lstrip("\ufeff"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(state, dict):
        return None
    rows = [_learning_keys(entry) for entry in _log_history(state) if not _is_summary(entry)]
    rows = [row for row in rows if row]
    if not rows:
        raise LogFormatError(
            "The log_history of this trainer_state.json holds only the end-of-training "
            "summary, no training or evaluation entries. Expected entries such as "
            f"{_TRAINER_STATE_EXAMPLE}."
        )
    return _table(rows, "hf_trainer_state", _HF_HINTS | {"x": ("step",)})


def parse_console(text: str) -> LogTable | None:
    """Read pasted console output: Keras `fit()` progress output (one row per epoch, with
    the last values shown for it), the dicts the Hugging Face Trainer prints (one row per
    dict), or print-loop lines such as "Epoch 3/10 | train loss: 0.41" (one row per line).

    When the text holds more than one of these, the format that used the most of the text
    wins. Returns None when nothing in the text is in any of these formats.
    """
    lines = _ANSI.sub("", text.lstrip("\ufeff")).replace("\r\n", "\n").split("\n")
    readings = [r for r in (_read_keras(lines), _read_hf(lines), _read_prints(lines)) if r]
    if not readings:
        return None
    # max() keeps the first of equals: the more specific format wins a tie.
    return max(readings, key=lambda reading: reading[1])[0]


def _log_history(state: dict[str, object]) -> list[dict[str, object]]:
    """The state's log_history entries; LogFormatError when there is no list of dicts."""
    history = state.get("log_history")
    if not isinstance(history, list):
        keys = quote(", ".join(list(map(str, state))[:8]), 200) or "none"
        found = "no log_history list" if history is None else "a log_history that is no list"
        raise LogFormatError(
            f"The JSON has {found} (its keys: {keys}). Expected the trainer_state.json that "
            "the Hugging Face Trainer writes in each checkpoint folder, with a log_history "
            f"list of entries such as {_TRAINER_STATE_EXAMPLE}."
        )
    if not history:
        raise LogFormatError(
            "The log_history of this trainer_state.json is empty: the Trainer had not logged "
            "yet. It logs every logging_steps steps (500 by default); use the "
            "trainer_state.json of a later checkpoint, or train with a smaller logging_steps."
        )
    for number, entry in enumerate(history, start=1):
        if not isinstance(entry, dict):
            raise LogFormatError(
                f"Entry {number} of log_history is {entry!r:.40}, not a dict. Expected the "
                f"Trainer's entries, each a dict such as {_TRAINER_STATE_EXAMPLE}."
            )
    return history


def _is_summary(entry: dict[str, object]) -> bool:
    """The Trainer's end-of-training entry: train_loss there is the average over the run."""
    return "train_runtime" in entry


def _learning_keys(entry: dict[str, object]) -> Row:
    return {str(k): v for k, v in entry.items() if not _THROUGHPUT_KEY.search(str(k))}


def _table(rows: list[Row], source_format: str, hints: dict[str, tuple[str, ...]]) -> LogTable:
    """A LogTable of the rows; a name whose value is not a number on some row is unreadable."""
    columns: dict[str, Cells] = {}
    unreadable: dict[str, str] = {}
    for name in dict.fromkeys(name for row in rows for name in row):
        try:
            columns[name] = _cells(rows, name)
        except ValueError as bad:
            unreadable[name] = str(bad)
    chosen = {role: [n for n in names if n in columns] for role, names in hints.items()}
    present = {role: names[0] for role, names in chosen.items() if names}
    return LogTable(source_format, columns, present, unreadable)


def _cells(rows: list[Row], name: str) -> Cells:
    cells: Cells = []
    for number, row in enumerate(rows, start=1):
        value = row.get(name)
        try:
            cells.append(None if value is None else _number(value))
        except (ValueError, OverflowError):
            raise ValueError(f"row {number} holds {value!r:.40}, not a number") from None
    return cells


def _number(value: object) -> float:
    """A logged value as a float: numbers, and strings holding one ("0.51", "NaN")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(value)
    return float(value)


def _is_number(value: object) -> bool:
    try:
        _number(value)
    except (ValueError, OverflowError):
        return False
    return True


def _segments(line: str) -> list[str]:
    """The states a progress line went through, oldest first."""
    return [segment for segment in _REDRAW.split(line) if segment.strip()]


# Keras ---------------------------------------------------------------------------------


@dataclass
class _KerasEpoch:
    """One epoch's row while its progress lines are read."""

    values: Row
    used: int = 1  # pieces of text it took: its "Epoch N/M" line, then progress states
    total: int | None = None  # batches in the epoch, from "1875/1875"
    count: int = 0  # batches done at the last progress state
    closed: bool = False  # its line with val_ metrics came: the epoch is complete

    def takes(self, segment: str) -> bool:
        """Whether a progress state belongs to this epoch, not to a later evaluate()."""
        counter = _KERAS_COUNTER.match(segment)
        if self.closed or counter is None:
            return not self.closed
        # evaluate() after fit() draws its own bar: another total, or counting from 1 again.
        count, total = int(counter[1]), int(counter[2])
        if self.total is not None and (total != self.total or count < self.count):
            return False
        self.total, self.count = total, count
        return True


def _read_keras(lines: list[str]) -> Reading | None:
    epochs: list[_KerasEpoch] = []
    for line in lines:
        for segment in _segments(line):
            _read_keras_segment(segment, epochs)
    read = [epoch for epoch in epochs if len(epoch.values) > 1]
    if not read:
        return None
    table = _table([epoch.values for epoch in read], "keras_console", _KERAS_HINTS)
    return table, sum(epoch.used for epoch in read)


def _read_keras_segment(segment: str, epochs: list[_KerasEpoch]) -> None:
    header = _KERAS_EPOCH.match(segment)
    if header:
        epochs.append(_KerasEpoch({"epoch": float(header[1])}))
        segment = segment[header.end() :]
    metrics = {m[1]: float(m[2]) for m in _KERAS_METRIC.finditer(segment)}
    if not metrics or not epochs or not epochs[-1].takes(segment):
        return
    epoch = epochs[-1]
    # Later states overwrite earlier ones: the last values shown are the epoch's values.
    epoch.values.update(metrics)
    if not header:  # the header's piece of text is counted already
        epoch.used += 1
    epoch.closed = any(name.startswith("val_") for name in metrics)


# Hugging Face Trainer --------------------------------------------------------------------


def _read_hf(lines: list[str]) -> Reading | None:
    rows: list[Row] = []
    for line in lines:
        for segment in _segments(line):
            entries = (_hf_entry(found) for found in _HF_DICT.findall(segment))
            rows.extend(_learning_keys(e) for e in entries if e and not _is_summary(e))
    if not rows:
        return None
    return _table(rows, "hf_console", _HF_HINTS), len(rows)


def _hf_entry(text: str) -> dict[str, object] | None:
    """A printed Trainer dict, or None when the braces hold something else."""
    try:
        entry = ast.literal_eval(_BARE_NONFINITE.sub(r"'\1'", text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        entry = {name: value for name, value in _HF_PAIR.findall(text)}
    if not isinstance(entry, dict) or not all(isinstance(key, str) for key in entry):
        return None
    # Every dict the Trainer logs carries the epoch; a loss shows a hand-printed one.
    numeric = [key for key, value in entry.items() if _is_number(value)]
    return entry if any(key == "epoch" or "loss" in key for key in numeric) else None


# Print loops -----------------------------------------------------------------------------


def _read_prints(lines: list[str]) -> Reading | None:
    # A terminal shows a redrawn line's last state only, so that is the line's content.
    parsed = [_counters(_LOG_LEVEL.sub(" | ", (_segments(line) or [""])[-1])) for line in lines]
    first = 0.0 if any(c.get("epoch", (1.0, None))[0] == 0 for c, _ in parsed) else 1.0
    rows: list[Row] = []
    global_steps: set[str] = set()
    epoch: float | None = None
    for counters, rest in parsed:
        # A header line ("Epoch 3/10") dates the metric lines printed under it.
        epoch = counters["epoch"][0] if "epoch" in counters else epoch
        pairs = _pairs(rest)
        if pairs and (counters or any(_LOSS_LIKE.search(name) for name in pairs)):
            steps, made_global = _steps(counters, epoch, first)
            global_steps |= made_global
            rows.append(({"epoch": epoch} if epoch is not None else {}) | steps | pairs)
    if not rows:
        return None
    # A step counted across epochs is the x axis; the epoch column repeats within an epoch.
    return _table(rows, "print_console", {"x": tuple(sorted(global_steps))}), len(rows)


def _counters(line: str) -> tuple[dict[str, tuple[float, int | None]], str]:
    """The line's counters, word -> (number, total or None), and the line without them."""
    found: dict[str, tuple[float, int | None]] = {}

    def cut(match: re.Match[str]) -> str:
        total = int(match["total"]) if match["total"] else None
        found.setdefault(_name(match["word"]), (float(match["n"]), total))
        return " | "

    return found, _COUNTER.sub(cut, line)


def _steps(
    counters: dict[str, tuple[float, int | None]], epoch: float | None, first: float
) -> tuple[dict[str, float], set[str]]:
    """The step-like counters, and which of them count across epochs: "Epoch [2/5],
    Step [100/600]" is global step 600 + 100, so that the x axis keeps increasing."""
    steps: dict[str, float] = {}
    made_global: set[str] = set()
    for word, (number, total) in counters.items():
        if word == "epoch":
            continue
        steps[word] = number
        if total and epoch is not None:
            steps[word] += (epoch - first) * total
            made_global.add(word)
    return steps, made_global


def _pairs(text: str) -> dict[str, float]:
    """The `name: value`, `name=value` and `name value` pairs of a line, names normalised."""
    pairs: dict[str, float] = {}
    for match in _PAIR.finditer(text):
        name = _pair_name(match["name"], explicit=bool(match["sep"].strip()))
        if name:
            pairs[name] = float(match["value"])
    return pairs


def _pair_name(words: str, explicit: bool) -> str | None:
    """A pair's column name; a name before a bare space keeps only its metric words."""
    name = _name(words)
    if explicit:
        return name
    kept = name.split()[-1:]
    for word in reversed(name.split()[:-1]):
        if word not in _QUALIFIERS:
            break
        kept.insert(0, word)
    name = " ".join(kept)
    return name if _METRIC_LIKE.search(name) else None


def _name(words: str) -> str:
    """'Val  Acc' -> 'val acc': the learner's words, lower case, single spaces."""
    return " ".join(words.lower().split())
