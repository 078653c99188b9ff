"""Fuzzing the Curve Doctor's readers: any text or bytes give a diagnosed log or a
LogFormatError whose message is one line (plus the example of a valid log), never another
exception and never a hang.

The inputs are random text and bytes, and real logs (../shared/real_logs, and one log of
each other format the Doctor reads) cut, flipped, stretched and re-encoded.
"""

from __future__ import annotations

import functools
import io
import math
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.curve_marks import chart_marks
from engine.diagnosis import diagnose
from engine.log_csv import SNIPPET
from engine.log_table import LogFormatError, TrainingLog
from engine.training_log import (
    EXAMPLE_LOG_CSV,
    parse_training_log,
    read_training_log,
    read_training_logs,
)

REAL_LOGS = Path(__file__).resolve().parents[2] / "shared" / "real_logs"
# Reproducible in CI: the same examples every run, no example database written.
FUZZ = settings(
    database=None,
    derandomize=True,
    deadline=timedelta(seconds=5),  # a reading that takes longer is a hang to fix
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONGEST_MESSAGE = 1_000  # characters: a sentence, whatever the log held

TRAINER_STATE = (
    '{"best_metric": null, "epoch": 2.0, "global_step": 40, "log_history": ['
    '{"epoch": 0.5, "learning_rate": 4.5e-05, "loss": 0.5123, "step": 10}, '
    '{"epoch": 1.0, "eval_accuracy": 0.86, "eval_loss": 0.44, "eval_runtime": 2.1, "step": 20}, '
    '{"epoch": 1.5, "grad_norm": NaN, "learning_rate": 3e-05, "loss": 0.41, "step": 30}, '
    '{"epoch": 2.0, "eval_accuracy": 0.88, "eval_loss": "Infinity", "step": 40}, '
    '{"epoch": 2.0, "step": 40, "train_loss": 0.61, "train_runtime": 120.5}]}'
)
HF_CONSOLE = (
    "  4%|▍         | 10/250 [00:03<01:12, 3.30it/s]"
    "{'loss': 0.6931, 'grad_norm': 3.21, 'learning_rate': 4.8e-05, 'epoch': 0.08}\n"
    "{'loss': '0.5123', 'grad_norm': nan, 'learning_rate': 2.5e-05, 'epoch': 1.0}\n"
    "{'eval_loss': 0.41, 'eval_accuracy': np.float64(0.86), 'epoch': 1.0}\n"
    "{'loss': inf, 'grad_norm': -inf, 'learning_rate': 1e-06, 'epoch': 1.96}\n"
    "{'train_runtime': 120.5, 'train_loss': 0.61, 'epoch': 2.0}\n"
)
KERAS_CONSOLE = "".join(
    f"Epoch {epoch}/3\n"
    f"  32/1875 [>.....] - ETA: 2s - loss: 2.1000 - accuracy: 0.5000\r"
    f"1875/1875 [======] - 5s 3ms/step - loss: 0.{30 - epoch} - accuracy: 0.9{epoch}"
    f" - val_loss: 0.3{epoch} - val_accuracy: 0.8{epoch}\n"
    for epoch in (1, 2, 3)
)
PRINT_LOOP = "".join(
    f"INFO Epoch [{epoch}/4], Step [{step}/600], train loss: {1 / (epoch * step):.4f}, "
    f"val acc = {50 + epoch * 10}%\n"
    for epoch in (1, 2, 3, 4)
    for step in (300, 600)
)
SEMICOLONS = "epoch;train_loss;val_loss\n1;2,31;2,40\n2;1,20;1,35\n3;0,80;nan\n"
TENSORBOARD_EXPORT = "Wall time,Step,Value\n1700000000.0,1,0.9\n1700000001.0,2,0.7\n"
INLINE_SEEDS = {
    "example.csv": EXAMPLE_LOG_CSV,
    "semicolons.csv": SEMICOLONS,
    "trainer_state.json": TRAINER_STATE,
    "hf_console.txt": HF_CONSOLE,
    "keras_console.txt": KERAS_CONSOLE,
    "print_loop.txt": PRINT_LOOP,
    "run-train-tag-loss.csv": TENSORBOARD_EXPORT,
}
EVENTS = "events.out.tfevents.fuzz"
REAL_NAMES = sorted(path.name for path in REAL_LOGS.glob("*.csv")) if REAL_LOGS.is_dir() else []
SEED_NAMES = [*INLINE_SEEDS, EVENTS, *REAL_NAMES]


@functools.cache
def seed_bytes(name: str) -> bytes:
    """The bytes of a seed log: a real log, an inline one, or a SummaryWriter event file."""
    if name in INLINE_SEEDS:
        return INLINE_SEEDS[name].encode()
    if name == EVENTS:
        from torch.utils.tensorboard import SummaryWriter  # lazy: slow to import

        with tempfile.TemporaryDirectory() as folder:
            writer = SummaryWriter(log_dir=folder)
            writer.add_text("notes", "lr 0.1", 0)
            for step in range(1, 16):
                writer.add_scalar("Loss/train", 2.0 / step, step)
                if step % 5 == 0:
                    writer.add_scalar("Loss/val", 1.0 - step / 100, step)
            writer.close()
            (path,) = Path(folder).glob("events.out.tfevents.*")
            return path.read_bytes()
    return (REAL_LOGS / name).read_bytes()


@pytest.fixture(scope="module", autouse=True)
def warm_readers() -> None:
    """Pay the one-off imports (tensorboard, protobuf) before any example is timed."""
    read_training_logs([(EVENTS, seed_bytes(EVENTS))])


# ---- the property -----------------------------------------------------------------------


def check_reading(read: functools.partial[TrainingLog]) -> None:
    """`read()` gives a log the Doctor can diagnose and chart, or a clear LogFormatError."""
    try:
        log = read()
    except LogFormatError as error:
        check_message(str(error))
        return
    assert isinstance(log, TrainingLog)
    assert len(log.x) == len(log.train_loss) >= 1
    assert all(math.isfinite(x) for x in log.x)
    diagnosis = diagnose(log)
    assert diagnosis.label and diagnosis.next_experiment.strip()
    chart_marks(log)
    log.to_frame()


def check_message(message: str) -> None:
    """One sentence line, maybe followed by the example of a valid log; short whatever the
    log held, so the CLI's one line and the page's error box say all of it."""
    sentence = message.removesuffix("\n" + SNIPPET)
    assert sentence.strip(), repr(message)
    assert len(sentence.splitlines()) == 1, repr(message)
    assert len(sentence) <= LONGEST_MESSAGE, f"{len(sentence)} characters: {sentence[:300]!r}"
    assert "Traceback" not in message


# ---- random text and bytes --------------------------------------------------------------

NUMBERISH = st.sampled_from(
    ["nan", "inf", "-inf", "NaN", "Infinity", "1e999", "-0", "1_000", "٣", "0x10", "9" * 5000]
)
CSV_CELLS = st.one_of(
    st.from_regex(r"-?[0-9]{1,4}(\.[0-9]{1,4})?(e-?[0-9]{1,3})?", fullmatch=True),
    NUMBERISH,
    st.text(max_size=8),
)
HEADER = st.lists(
    st.sampled_from(["epoch", "step", "loss", "train_loss", "val_loss", "acc", "val_acc", "lr"])
    | st.text(max_size=12),
    min_size=1,
    max_size=6,
)


@st.composite
def csv_logs(draw: st.DrawFn) -> str:
    """CSV-shaped text: a header of real and random names, rows of number-like cells."""
    separator = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(HEADER)
    rows = draw(st.lists(st.lists(CSV_CELLS, min_size=0, max_size=len(header) + 1), max_size=8))
    lines = [separator.join(header), *(separator.join(row) for row in rows)]
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)


CONSOLE_WORDS = st.sampled_from(
    [
        "Epoch 1/3", "Epoch [2/5]", "Step [100/600]", " - loss: ", " - val_loss: ", "loss=",
        "{'loss': ", "'epoch': 1.0}", "{", "}", "\r", "\x08", "\x1b[1m", "INFO", " | ",
        "iter 200", "val acc ", "%", "0.5", "nan", "1e999", "9" * 4500, "\n", "/",
    ]
)  # fmt: skip
console_logs = st.lists(CONSOLE_WORDS | NUMBERISH | st.text(max_size=5), max_size=40).map("".join)


@settings(FUZZ, max_examples=300)
@given(st.one_of(st.text(max_size=400), csv_logs(), console_logs))
# Found by fuzzing: a form feed in the header split the message, so the CLI's one line
# stopped mid-sentence; a counter of 5,000 digits raised int()'s ValueError, a traceback on
# the page; a long column name made a 5,000-character message.
@example("0\x0c0")
@example("epoch 1/" + "9" * 5000 + " loss 0.5\n")
@example("Epoch 1/2\n1/" + "9" * 5000 + " - loss: 0.5\n")
@example("epoch," + "x" * 5000 + "\n1,2\n")
def test_any_pasted_text_is_a_log_or_one_clear_line(text: str) -> None:
    check_reading(functools.partial(parse_training_log, text, max_rows=200))


@settings(FUZZ, max_examples=150)
@given(st.binary(max_size=400) | csv_logs().map(str.encode) | console_logs.map(str.encode))
def test_any_uploaded_bytes_are_a_log_or_one_clear_line(data: bytes) -> None:
    check_reading(functools.partial(read_training_log, io.BytesIO(data)))


# ---- real logs, damaged ------------------------------------------------------------------

INSERTS = st.sampled_from(
    [
        b"nan", b"inf", b"-inf", b"1e999", b"-1e308", b"9" * 5000, b"\x00", b",", b";", b"\t",
        b"\n", b"\r", b'"', b"'", b"{", b"}", b"[", b"#", b"Epoch 1/2\n", b" - loss: 0.5",
        b"{'loss': 1e999, 'epoch': nan}", b"[x](http://evil.example)", b"<img src=x>",
        b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"\xe2\x80\xa8", b"\x0c", b"\x85",
        b"tensor(0.5)", b"n/a", b"NULL", b"1,2,3,4,5,6,7,8,9", b"Wall time,Step,Value\n",
    ]
)  # fmt: skip
MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 2**20)),
    st.tuples(st.just("flip"), st.integers(0, 2**20), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 2**20), INSERTS),
    st.tuples(st.just("delete"), st.integers(0, 2**20), st.integers(1, 64)),
    st.tuples(st.just("repeat"), st.integers(0, 2**20), st.integers(1, 80), st.integers(2, 800)),
    st.tuples(st.just("encode"), st.sampled_from(["utf-16", "utf-16-le", "latin-1", "cp1252"])),
    st.tuples(st.just("empty")),
)


def mutate(raw: bytes, mutations: list[tuple]) -> bytes:
    """The bytes after each mutation: positions are taken modulo the current length."""
    for kind, *args in mutations:
        where = args[0] % (len(raw) + 1) if args and isinstance(args[0], int) else 0
        if kind == "truncate":
            raw = raw[:where]
        elif kind == "flip" and raw:
            where %= len(raw)
            raw = raw[:where] + bytes([raw[where] ^ args[1]]) + raw[where + 1 :]
        elif kind == "insert":
            raw = raw[:where] + args[1] + raw[where:]
        elif kind == "delete":
            raw = raw[:where] + raw[where + args[1] :]
        elif kind == "repeat":  # a slice many times over: long lines, many rows or columns
            raw = raw[:where] + raw[where : where + args[1]] * args[2] + raw[where:]
        elif kind == "encode":
            raw = raw.decode("utf-8", "replace").encode(args[0], "replace")
        elif kind == "empty":
            raw = b""
    return raw


@settings(FUZZ, max_examples=250)
@given(st.sampled_from(SEED_NAMES), st.lists(MUTATIONS, min_size=1, max_size=4))
@example("example.csv", [("truncate", 2), ("repeat", 0, 2, 454)])  # a 1,000-character header
def test_damaged_real_logs_are_a_log_or_one_clear_line(name: str, mutations: list[tuple]) -> None:
    raw = mutate(seed_bytes(name), mutations)
    check_reading(functools.partial(read_training_logs, [(name, raw)]))  # an upload
    if name != EVENTS:  # pasted: the text a browser would give the page
        text = raw.decode("utf-8", "replace")
        check_reading(functools.partial(parse_training_log, text, name=name))


FILE_NAMES = st.text(max_size=30) | st.sampled_from(["a\nb.csv", "x" * 500 + ".csv", ""])


@settings(FUZZ, max_examples=100)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SEED_NAMES),
            st.lists(MUTATIONS, max_size=2),
            st.none() | FILE_NAMES,  # the name the browser gave the upload
        ),
        min_size=1,
        max_size=3,
    )
)
@example([("run-train-tag-loss.csv", [], "a\nb.csv"), ("example.csv", [], None)])
def test_uploads_under_any_names_are_a_log_or_one_clear_line(files: list[tuple]) -> None:
    uploads = [
        (name if name is not None else seed, mutate(seed_bytes(seed), mutations))
        for seed, mutations, name in files
    ]
    check_reading(functools.partial(read_training_logs, uploads))
