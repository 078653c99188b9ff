"""Reading TensorBoard event files and TensorBoard / W&B chart exports into a LogTable.

Event files are written here by the real writers (torch's SummaryWriter, tensorboard's own
EventFileWriter for TF2-style tensor scalars); the TensorBoard export is a real one, read in
place from ../shared/real_logs.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util.tensor_util import make_tensor_proto
from torch.utils.tensorboard import SummaryWriter

from engine.log_table import LogFormatError
from engine.log_tensorboard import (
    combine_exports,
    export_kind,
    looks_like_event_file,
    read_event_file,
)

REAL_LOGS = Path(__file__).resolve().parents[2] / "shared" / "real_logs"
STEPS = range(1, 31)
VAL_STEPS = (10, 20, 30)


def f32(value: float) -> float:
    """What an event file stores for a Python float: float32."""
    return float(np.float32(value))


def train_loss(step: int) -> float:
    return 2.0 / step + 0.1


def val_loss(step: int) -> float:
    return 1.5 - step / 100


def val_acc(step: int) -> float:
    return 0.3 + step / 50


def event_bytes(folder: Path) -> bytes:
    (path,) = folder.glob("events.out.tfevents.*")
    return path.read_bytes()


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A SummaryWriter run: train loss every step, val every 10, a histogram and text."""
    folder = tmp_path_factory.mktemp("run")
    writer = SummaryWriter(log_dir=str(folder))
    writer.add_histogram("weights", np.linspace(-1, 1, 50), 0)
    writer.add_text("notes", "lr 0.1, batch 64", 0)
    for step in STEPS:
        writer.add_scalar("Loss/train", train_loss(step), step)
        if step in VAL_STEPS:
            writer.add_scalar("Loss/val", val_loss(step), step)
            writer.add_scalar("Accuracy/val", val_acc(step), step)
            writer.add_histogram("weights", np.linspace(-1, 1, 50) * step, step)
    writer.close()
    return event_bytes(folder)


def val_cells(value_at: Callable[[int], float]) -> list[float | None]:
    return [f32(value_at(step)) if step in VAL_STEPS else None for step in STEPS]


# ---- event files ----------------------------------------------------------------------


def test_an_event_file_is_recognised_by_its_content(events: bytes) -> None:
    assert looks_like_event_file(events)
    assert not looks_like_event_file(b"epoch,loss\n1,2.3\n")
    assert not looks_like_event_file(random.Random(0).randbytes(4000))
    assert not looks_like_event_file(b"")
    assert not looks_like_event_file(events[:20])  # the first record cut off


def test_scalars_are_one_column_per_tag_on_one_row_per_step(events: bytes) -> None:
    table = read_event_file(events)
    assert table.source_format == "tensorboard_events"
    assert table.hints == {"x": "step"}
    assert table.unreadable == {}
    assert list(table.columns) == ["step", "Loss/train", "Loss/val", "Accuracy/val"]
    assert table.columns["step"] == [float(step) for step in STEPS]
    assert table.columns["Loss/train"] == [f32(train_loss(step)) for step in STEPS]
    assert table.columns["Loss/val"] == val_cells(val_loss)
    assert table.columns["Accuracy/val"] == val_cells(val_acc)
    assert table.columns["Loss/val"][9] == pytest.approx(1.4, rel=1e-7)


def test_nan_stays_nan_and_a_repeated_step_keeps_the_last_value(tmp_path: Path) -> None:
    writer = SummaryWriter(log_dir=str(tmp_path))
    writer.add_scalar("loss", 2.5, 0)
    writer.add_scalar("loss", math.nan, 1)
    writer.add_scalar("loss", 1.0, 2)
    writer.add_scalar("loss", 0.75, 2)  # logged twice at step 2
    writer.add_scalar("step", 7.0, 2)  # a tag that clashes with the step column
    writer.add_scalar("lr", 0.1, 5, new_style=True)  # torch's tensor-style scalar
    writer.close()
    table = read_event_file(event_bytes(tmp_path))
    assert list(table.columns) == ["step", "loss", "step (tag)", "lr"]
    assert table.columns["step"] == [0.0, 1.0, 2.0, 5.0]
    loss = table.columns["loss"]
    assert loss[0] == 2.5 and math.isnan(loss[1]) and loss[2] == 0.75 and loss[3] is None
    assert table.columns["step (tag)"] == [None, None, 7.0, None]
    assert table.columns["lr"] == [None, None, None, f32(0.1)]


def tensor_value(tag: str, data: object, plugin: str, first: bool) -> Summary.Value:
    """A TF2-style summary value: a tensor, its metadata on the tag's first value only (as
    TensorFlow's writer does)."""
    made = Summary.Value(tag=tag, tensor=make_tensor_proto(data))
    if first:
        made.metadata.plugin_data.plugin_name = plugin
    return made


def test_tf2_tensor_scalars_are_read_and_other_tensors_skipped(tmp_path: Path) -> None:
    writer = EventFileWriter(str(tmp_path))
    for step, loss in enumerate([0.9, 0.6, 0.4]):
        values = [
            tensor_value("epoch_loss", np.float32(loss), "scalars", step == 0),
            tensor_value("epoch_lr", np.float64(0.01 * (step + 1)), "scalars", step == 0),
            tensor_value("weights", np.ones((4, 3), np.float64), "histograms", step == 0),
            tensor_value("kernel_norm", np.float32(5.0), "histograms", step == 0),
            tensor_value("notes", np.array([b"text"]), "text", step == 0),
            tensor_value("pair", np.array([1.0, 2.0]), "scalars", step == 0),  # not one number
            tensor_value("label", np.array(b"cat"), "scalars", step == 0),
        ]
        writer.add_event(Event(step=step * 100, wall_time=1.0, summary=Summary(value=values)))
    writer.close()
    table = read_event_file(event_bytes(tmp_path))
    assert list(table.columns) == ["step", "epoch_loss", "epoch_lr"]
    assert table.columns["step"] == [0.0, 100.0, 200.0]
    assert table.columns["epoch_loss"] == [f32(0.9), f32(0.6), f32(0.4)]
    assert table.columns["epoch_lr"] == [0.01, 0.02, 0.03]  # float64 kept whole


def test_a_truncated_file_gives_the_scalars_before_the_cut(events: bytes) -> None:
    table = read_event_file(events[: len(events) // 2])
    rows = table.n_rows
    assert 0 < rows < len(STEPS)
    assert table.columns["step"] == [float(step) for step in STEPS[:rows]]
    assert table.columns["Loss/train"] == [f32(train_loss(step)) for step in STEPS[:rows]]


def record_spans(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of each TFRecord's data: an 8-byte length and its checksum first."""
    spans, offset = [], 0
    while offset < len(raw):
        length = int.from_bytes(raw[offset : offset + 8], "little")
        spans.append((offset + 12, offset + 12 + length))
        offset += 12 + length + 4
    return spans


def test_a_corrupt_record_ends_the_reading_there(events: bytes) -> None:
    losses = [span for span in record_spans(events) if b"Loss/train" in events[slice(*span)]]
    start, end = losses[14]  # the record of step 15
    damaged = bytearray(events)
    damaged[(start + end) // 2] ^= 0xFF  # its checksum no longer matches
    table = read_event_file(bytes(damaged))
    assert table.columns["step"] == [float(step) for step in range(1, 15)]
    assert table.columns["Loss/train"] == [f32(train_loss(step)) for step in range(1, 15)]
    assert table.columns["Loss/val"] == [None] * 9 + [f32(val_loss(10))] + [None] * 4


def test_bytes_that_are_not_an_event_file_are_refused() -> None:
    with pytest.raises(LogFormatError, match="not a TensorBoard event file.*SummaryWriter"):
        read_event_file(random.Random(1).randbytes(3000))
    with pytest.raises(LogFormatError, match="it is text, starting 'epoch,loss 1,2.3'"):
        read_event_file(b"epoch,loss\n1,2.3\n")


def test_an_event_file_without_scalars_says_what_it_holds(tmp_path: Path) -> None:
    writer = SummaryWriter(log_dir=str(tmp_path))
    writer.add_histogram("fc1.weight", np.arange(10.0), 0)
    writer.add_text("config", "lr=0.1", 0)
    writer.close()
    raw = event_bytes(tmp_path)
    with pytest.raises(LogFormatError) as raised:
        read_event_file(raw)
    message = str(raised.value)
    assert "holds no scalars" in message and "histogram 'fc1.weight'" in message
    assert "text 'config/text_summary'" in message and "add_scalar" in message
    assert "cut off" not in message
    with pytest.raises(LogFormatError, match="no scalars.*cut off or corrupt after its first 2"):
        read_event_file(raw[:-10])
    with pytest.raises(LogFormatError, match="cut off inside its first record"):
        read_event_file(raw[:40])


# ---- chart exports --------------------------------------------------------------------

VAL_EXPORT = """Wall time,Step,Value
1559702341.0,0,11.5
1559727805.2,10,4.75
1559753448.5,20,4.25
1559773945.0,29,NaN
"""

WANDB_LOSS = (
    'Step,"swift-fox-1 - train/loss","swift-fox-1 - train/loss__MIN",'
    '"swift-fox-1 - train/loss__MAX","calm sea - 2 - train/loss",'
    '"calm sea - 2 - train/loss__MIN","calm sea - 2 - train/loss__MAX"\n'
    "0,2.3,2.2,2.4,2.5,2.4,2.6\n"
    "50,1.1,1.0,1.2,,,\n"
    "100,0.7,0.6,0.8,0.9,0.8,1.0\n"
)
WANDB_VAL = (
    'Step,"swift-fox-1 - eval/accuracy","swift-fox-1 - eval/accuracy__MIN",'
    '"swift-fox-1 - eval/accuracy__MAX"\n'
    "50,0.61,0.61,0.61\n"
    "100,0.72,0.72,0.72\n"
    "150,0.78,0.78,0.78\n"
)


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["Wall time", "Step", "Value"], "tensorboard_csv"),
        (["Step", "run-1 - loss", "run-1 - loss__MIN", "run-1 - loss__MAX"], "wandb_csv"),
        (["Step", "a - loss", "b - loss"], "wandb_csv"),
        (["trainer/global_step", "a - loss"], "wandb_csv"),
        (["Step", "a - loss__MIN", "a - loss__MAX"], None),
        (["Step", "loss"], None),
        (["Wall time", "Step"], None),
        (["epoch", "loss", "val_loss"], None),
        (["Relative Time (Process)", "a - loss"], None),
        ([], None),
    ],
)
def test_export_kind_from_the_header(header: list[str], kind: str | None) -> None:
    assert export_kind(header) == kind


def test_a_real_tensorboard_export_joins_a_val_export_on_the_step() -> None:
    real = (REAL_LOGS / "tensorboard_wrn_imdb_agegender.csv").read_text()
    table = combine_exports([("run-.-tag-loss.csv", real), ("run-.-tag-Loss_val.csv", VAL_EXPORT)])
    assert table.source_format == "tensorboard_csv"
    assert list(table.columns) == ["step", "loss", "Loss_val"]
    assert table.columns["step"] == [float(step) for step in range(30)]
    loss = table.columns["loss"]
    assert loss[:3] == [12.435992240905762, 18.378080368041992, 5.607315540313721]
    assert loss[29] == 3.9541561603546143 and None not in loss
    val = table.columns["Loss_val"]
    assert [val[0], val[10], val[20]] == [11.5, 4.75, 4.25] and math.isnan(val[29])  # type: ignore[arg-type]
    assert val.count(None) == 26
    assert table.hints == {"x": "step", "train_loss": "loss", "val_loss": "Loss_val"}


def test_steps_are_sorted_whatever_order_the_files_give_them() -> None:
    late = "Step,run - loss\n16,0.5\n3,0.9\n"
    early = "Wall time,Step,Value\n1.0,40,0.25\n2.0,1,1.5\n"
    table = combine_exports([("late.csv", late), ("run-x-tag-val_loss.csv", early)])
    assert table.columns == {
        "step": [1.0, 3.0, 16.0, 40.0],
        "loss": [None, 0.9, 0.5, None],
        "val_loss": [1.5, None, None, 0.25],
    }


def test_a_lone_export_is_the_train_loss_named_after_its_file() -> None:
    table = combine_exports([("C:\\Users\\me\\my export.csv", VAL_EXPORT)])
    assert list(table.columns) == ["step", "my export"]
    assert table.columns["step"] == [0.0, 10.0, 20.0, 29.0]
    assert table.hints == {"x": "step", "train_loss": "my export"}
    browser_copy = combine_exports([("run-train-tag-epoch_accuracy (1).csv", VAL_EXPORT)])
    assert list(browser_copy.columns) == ["step", "epoch_accuracy"]


def test_wandb_exports_give_each_run_and_drop_min_max() -> None:
    table = combine_exports(
        [("wandb_export_2024-05-01.csv", WANDB_LOSS), ("wandb_export_val.csv", WANDB_VAL)]
    )
    assert table.source_format == "wandb_csv"
    assert list(table.columns) == [
        "step",
        "train/loss",
        "train/loss (calm sea - 2)",
        "eval/accuracy",
    ]
    assert table.columns["step"] == [0.0, 50.0, 100.0, 150.0]
    assert table.columns["train/loss"] == [2.3, 1.1, 0.7, None]
    assert table.columns["train/loss (calm sea - 2)"] == [2.5, None, 0.9, None]
    assert table.columns["eval/accuracy"] == [None, 0.61, 0.72, 0.78]
    assert table.hints == {"x": "step", "train_loss": "train/loss", "val_acc": "eval/accuracy"}


def test_the_same_name_from_several_files_is_told_apart_by_the_file() -> None:
    files = [
        ("run-a-tag-loss.csv", VAL_EXPORT),
        ("run-b-tag-loss.csv", VAL_EXPORT.replace("11.5", "9.5")),
        ("loss.csv", VAL_EXPORT),
        ("loss.csv", VAL_EXPORT),
        ("step.csv", VAL_EXPORT),
    ]
    table = combine_exports(files)
    names = ["step", "loss", "loss (run-b-tag-loss)", "loss (loss)", "loss (loss) 2"]
    assert list(table.columns) == [*names, "step (step)"]
    assert table.columns["loss"][0] == 11.5
    assert table.columns["loss (run-b-tag-loss)"][0] == 9.5
    assert table.hints["train_loss"] == "loss"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epoch,loss\n1,2.3\n", "'bad.csv' is not a chart export: its header is epoch, loss"),
        (
            "Wall time,Step,Value\n1.0,0,2.5\n2.0,1,tensor(0.5)\n",
            "'bad.csv', line 3: the 'Value' cell holds 'tensor(0.5)', which is not a number",
        ),
        ("Wall time,Step,Value\n1.0,zero,2.5\n", "'bad.csv', line 2: the 'Step' cell holds 'zero'"),
        ("Wall time,Step,Value\n1.0,,2.5\n", "'bad.csv', line 2: the Step cell is blank"),
        ("Wall time,Step,Value\n1.0,0\n", "'bad.csv', line 2, has 2 cells but the header has 3"),
        ("Wall time,Step,Value\n", "'bad.csv' has a header but no data rows"),
        ("\n\n", "'bad.csv' is empty"),
    ],
)
def test_a_bad_export_names_the_file_line_and_cell(text: str, message: str) -> None:
    good = ("run-.-tag-loss.csv", VAL_EXPORT)
    with pytest.raises(LogFormatError, match=re.escape(message)) as raised:
        combine_exports([good, ("bad.csv", text)])
    assert "Expected" in str(raised.value)


def test_no_export_files_is_an_error() -> None:
    with pytest.raises(LogFormatError, match="No export files"):
        combine_exports([])
