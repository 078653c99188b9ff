"""Reading users' CSV training logs: names, formats, odd cells, and every error message."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.diagnosis import LABELS, diagnose
from engine.training_log import (
    EXAMPLE_LOG_CSV,
    LogFormatError,
    TrainingLog,
    parse_training_log,
    read_training_log,
)


def error_message(text: str, **kwargs: int) -> str:
    with pytest.raises(LogFormatError) as caught:
        parse_training_log(text, **kwargs)
    return str(caught.value)


def test_example_log_parses_into_five_epochs() -> None:
    log = parse_training_log(EXAMPLE_LOG_CSV, n_classes=10)
    assert log.x == (1.0, 2.0, 3.0, 4.0, 5.0) and log.x_name == "epoch"
    assert log.train_loss[0] == 1.52 and log.val_loss is not None and log.val_loss[-1] == 0.33
    assert log.train_acc is not None and log.val_acc == (0.68, 0.84, 0.88, 0.90, 0.91)
    assert log.n_classes == 10 and log.status == "completed"
    assert diagnose(log).label in LABELS


@pytest.mark.parametrize(
    ("header", "x_name"),
    [
        ("epoch,loss,val_loss,acc,val_acc", "epoch"),
        ("Epoch,Training Loss,Validation Loss,Accuracy,Val Accuracy", "epoch"),
        ("iteration,training_loss,eval_loss,train_accuracy,valid_acc", "step"),
        ("global_step,train-loss,test loss,train_acc,eval_accuracy", "step"),
        ("iter,train/loss,valid_loss,accuracy,validation_accuracy", "step"),
    ],
)
def test_common_column_names_are_recognised(header: str, x_name: str) -> None:
    log = parse_training_log(f"{header}\n1,2.0,2.1,0.5,0.4\n2,1.0,1.2,0.7,0.6\n")
    assert log.x_name == x_name and log.x == (1.0, 2.0)
    assert log.train_loss == (2.0, 1.0) and log.val_loss == (2.1, 1.2)
    assert log.train_acc == (0.5, 0.7) and log.val_acc == (0.4, 0.6)


def test_keras_column_order_and_exact_name_beats_synonym() -> None:
    log = parse_training_log(
        "epoch,accuracy,loss,train_loss,val_accuracy,val_loss\n0,0.5,9,2.0,0.4,2.2\n"
    )
    assert log.train_loss == (2.0,) and log.val_acc == (0.4,) and log.val_loss == (2.2,)


def test_only_a_loss_column_uses_row_numbers_as_epochs() -> None:
    log = parse_training_log("loss\n2.3\n1.1\n0.7\n")
    assert log.x == (1.0, 2.0, 3.0) and log.x_name == "epoch"
    assert log.val_loss is None and log.train_acc is None and log.val_acc is None


def test_percentage_accuracies_become_fractions() -> None:
    log = parse_training_log("epoch,loss,acc,val_acc\n1,2.0,45,0.5\n2,1.0,97.5,0.9\n")
    assert log.train_acc == (0.45, 0.975)
    assert log.val_acc == (0.5, 0.9)  # already fractions: left alone


@pytest.mark.parametrize(
    "text",
    [
        "epoch\ttrain_loss\tval_loss\n1\t2.5\t2.4\n2\t1.5\t1.6\n",
        "epoch;train_loss;val_loss\n1;2.5;2.4\n2;1.5;1.6\n",
        "epoch;train_loss;val_loss\n1;2,5;2,4\n2;1,5;1,6\n",  # decimal commas
        "\ufeffepoch,train_loss,val_loss\r\n1,2.5,2.4\r\n2,1.5,1.6\r\n\r\n",
        "# exported by my script\nepoch,train_loss,val_loss\n\n1,2.5,2.4\n2,1.5,1.6\n",
        "# run 3; lr 0.1; seed 42\nepoch\ttrain_loss\tval_loss\n1\t2.5\t2.4\n2\t1.5\t1.6\n",
    ],
)
def test_separators_line_endings_and_comments(text: str) -> None:
    log = parse_training_log(text)
    assert log.train_loss == (2.5, 1.5) and log.val_loss == (2.4, 1.6)


def test_nan_and_inf_are_kept_as_data_and_blank_means_not_logged() -> None:
    log = parse_training_log("epoch,loss,val_loss\n1,2.3,\n2,nan,NaN\n3,inf,2.0\n4,-inf,1.0\n")
    loss, val = log.train_loss, log.val_loss
    assert loss[0] == 2.3 and math.isnan(loss[1]) and loss[2] == math.inf and loss[3] == -math.inf
    # val was not logged at epoch 1: its curve starts at epoch 2, with the explicit NaN
    assert log.val_x == (2.0, 3.0, 4.0)
    assert val is not None and math.isnan(val[0]) and val[1:] == (2.0, 1.0)


def test_rows_without_a_train_loss_are_validation_rows() -> None:
    # the Hugging Face Trainer: train loss every 10 steps, eval every 20 on rows of its own
    text = "step,loss,eval_loss\n10,2.0,\n20,1.5,\n20,,1.6\n30,1.2,\n40,1.0,\n40,,1.3\n"
    log = parse_training_log(text)
    assert log.x == (10.0, 20.0, 30.0, 40.0) and log.train_loss == (2.0, 1.5, 1.2, 1.0)
    assert log.val_x == (20.0, 40.0) and log.val_loss == (1.6, 1.3)
    frame = log.to_frame()
    assert list(frame["step"]) == [10.0, 20.0, 30.0, 40.0]
    assert frame["val_loss"].isna().tolist() == [True, False, True, False]


def test_all_blank_optional_column_is_missing() -> None:
    assert parse_training_log("epoch,loss,val_loss\n1,2.3,\n2,1.1,\n").val_loss is None


def test_repeated_epochs_fall_back_to_steps() -> None:
    log = parse_training_log("epoch,step,loss\n1,10,2.0\n1,20,1.5\n2,30,1.0\n")
    assert log.x_name == "step" and log.x == (10.0, 20.0, 30.0)
    log = parse_training_log("epoch,loss\n1,2.0\n1,1.5\n2,1.0\n")
    assert log.x_name == "step" and log.x == (1.0, 2.0, 3.0)


def test_lightning_rows_of_one_step_are_merged() -> None:
    text = (
        "epoch,step,train_loss,val_loss,val_acc\n"
        "0,99,,0.5,0.8\n0,99,1.2,,\n1,199,,0.3,0.9\n1,199,0.8,,\n"
    )
    log = parse_training_log(text)
    assert log.x == (99.0, 199.0) and log.train_loss == (1.2, 0.8)
    assert log.val_loss == (0.5, 0.3) and log.val_acc == (0.8, 0.9)


# errors: what was wrong, and what is expected


@pytest.mark.parametrize("text", ["", "   \n\n", "\ufeff"])
def test_empty_text(text: str) -> None:
    message = error_message(text)
    assert "empty" in message and "header row" in message and "train_loss" in message


def test_only_comments() -> None:
    assert "only blank or comment lines" in error_message("# nothing logged yet\n")


def test_header_without_rows() -> None:
    message = error_message("epoch,train_loss\n")
    assert "no data rows" in message and "epoch, train_loss" in message
    assert "one row per epoch" in message


def test_no_loss_column_lists_the_columns_and_shows_an_example() -> None:
    message = error_message("epoch,acc\n1,0.5\n")
    assert message.startswith("No train loss column found (columns: epoch, acc).")
    assert "Expected a column named train_loss (or loss)" in message
    assert "epoch,train_loss,val_loss\n1,2.10,2.05" in message


def test_misspelt_loss_column_gets_a_suggestion() -> None:
    message = error_message("epoch,trian_loss\n1,2.0\n")
    assert "did you mean train_loss" in message.lower() and "trian_loss" in message


def test_data_without_header_is_explained() -> None:
    message = error_message("1,2.3,2.2\n2,1.1,1.3\n")
    assert "looks like data, not a header" in message and "header row" in message


def test_too_many_rows_names_the_limit() -> None:
    text = "loss\n" + "1.0\n" * 11
    assert parse_training_log(text, max_rows=11).train_loss == (1.0,) * 11
    message = error_message(text, max_rows=10)
    assert "more than 10 data rows" in message and "at most 10 rows" in message


def test_row_with_the_wrong_number_of_fields() -> None:
    message = error_message("epoch,loss,val_loss\n1,2.0,2.1\n2,1.0\n")
    assert "Row 2 (line 3) has 2 values but the header has 3 columns" in message
    assert "one value per column" in message and "commas" in message


def test_trailing_separator_is_tolerated() -> None:
    assert parse_training_log("epoch,loss\n1,2.0,\n2,1.0,\n").train_loss == (2.0, 1.0)


def test_bad_cell_names_column_row_and_value() -> None:
    message = error_message("epoch,loss\n1,2.0\n2,abc\n")
    assert "Row 2 (line 3)" in message and "'loss'" in message and "'abc'" in message
    assert "Expected a plain number" in message and "nan" in message


def test_tensor_cell_gets_the_item_hint() -> None:
    message = error_message("epoch,loss\n1,tensor(2.3010)\n")
    assert "loss.item()" in message


def test_accuracy_out_of_range() -> None:
    message = error_message("epoch,loss,acc\n1,2.0,150\n")
    assert "150" in message and "0 to 1" in message and "0 to 100" in message


def test_blank_epoch_cell() -> None:
    message = error_message("epoch,loss\n1,2.0\n,1.0\n")
    assert "Row 2" in message and "'epoch' is blank" in message


def test_all_blank_loss_column() -> None:
    message = error_message("epoch,loss,val_loss\n1,,2.0\n")
    assert "'loss' is blank on every row" in message


def test_binary_text_is_rejected() -> None:
    assert "binary" in error_message("epoch,loss\n1,\x00\x01\x02\x03\n")


def test_bad_n_classes() -> None:
    with pytest.raises(LogFormatError, match="n_classes is 1"):
        parse_training_log(EXAMPLE_LOG_CSV, n_classes=1)


# reading files


def test_read_from_path_bytes_and_text_buffers(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(EXAMPLE_LOG_CSV, encoding="utf-8")
    expected = parse_training_log(EXAMPLE_LOG_CSV)
    assert read_training_log(path) == expected
    assert read_training_log(str(path)) == expected
    assert read_training_log(io.BytesIO(EXAMPLE_LOG_CSV.encode("utf-8-sig"))) == expected
    assert read_training_log(io.BytesIO(EXAMPLE_LOG_CSV.encode("utf-16"))) == expected
    assert read_training_log(io.StringIO(EXAMPLE_LOG_CSV), n_classes=10).n_classes == 10


def test_undecodable_bytes_are_rejected() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
    with pytest.raises(LogFormatError) as caught:
        read_training_log(io.BytesIO(png))
    assert "not readable text" in str(caught.value) and "UTF-8" in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LogFormatError, match="Could not open the log file"):
        read_training_log(tmp_path / "nope.csv")


def test_to_frame_has_the_x_and_curve_columns() -> None:
    frame = parse_training_log(EXAMPLE_LOG_CSV).to_frame()
    assert list(frame.columns) == ["epoch", "train_loss", "val_loss", "train_acc", "val_acc"]
    assert len(frame) == 5


# fuzz: arbitrary text is either a log or a LogFormatError, never anything else

csv_like = st.text(alphabet=st.sampled_from(list('epochstlavicury_-;,\t\n\r 0123456789.naifNI%"')))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), csv_like, csv_like.map(lambda body: "epoch,loss,val_acc\n" + body)))
def test_any_text_parses_or_raises_log_format_error(text: str) -> None:
    try:
        log = parse_training_log(text, max_rows=50)
    except LogFormatError as err:
        assert str(err).strip()
    else:
        assert isinstance(log, TrainingLog) and len(log.x) == len(log.train_loss) >= 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_read_or_raise_log_format_error(data: bytes) -> None:
    try:
        log = read_training_log(io.BytesIO(data))
    except LogFormatError:
        return
    assert isinstance(log, TrainingLog)


# logs with a byte-order mark, as Windows tools write them, from a file or piped in

WINDOWS_CSV = (
    "epoch,train_loss,val_loss\r\n1,0.90,0.63\r\n2,0.50,0.60\r\n3,0.30,0.66\r\n4,0.18,0.82\r\n"
)
WITH_BOM = {
    "utf-8-bom": WINDOWS_CSV.encode("utf-8-sig"),
    "utf-16-le-bom": b"\xff\xfe" + WINDOWS_CSV.encode("utf-16-le"),
    "utf-16-be-bom": b"\xfe\xff" + WINDOWS_CSV.encode("utf-16-be"),
}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


@pytest.mark.parametrize("encoded", WITH_BOM.values(), ids=WITH_BOM.keys())
def test_bom_encoded_bytes_read_like_utf8(encoded: bytes) -> None:
    expected = parse_training_log(WINDOWS_CSV)
    assert read_training_log(io.BytesIO(encoded)) == expected
    assert diagnose(read_training_log(io.BytesIO(encoded))).label == "overfitting"


@pytest.mark.parametrize("encoded", WITH_BOM.values(), ids=WITH_BOM.keys())
def test_bom_encoded_text_from_standard_input_parses_like_utf8(encoded: bytes) -> None:
    # Python's stdin under a C/POSIX locale (or in UTF-8 mode) keeps each byte that is not
    # UTF-8 as a lone surrogate: this is the text `sys.stdin.read()` hands over.
    piped = encoded.decode("utf-8", "surrogateescape")
    assert parse_training_log(piped) == parse_training_log(WINDOWS_CSV)


def test_binary_bytes_from_standard_input_are_called_binary() -> None:
    message = error_message(PNG.decode("utf-8", "surrogateescape"))
    assert "binary" in message and "0x89" in message and "UTF-8" in message


def diagnose_piped(data: bytes, stdin_errors: str) -> subprocess.CompletedProcess[bytes]:
    """`python -m engine diagnose - --json` with `data` on standard input, decoded by Python
    with the given error handler: surrogateescape under a C/POSIX locale, strict under most
    UTF-8 locales."""
    env = {**os.environ, "PYTHONIOENCODING": f"utf-8:{stdin_errors}"}
    return subprocess.run(
        [sys.executable, "-m", "engine", "diagnose", "-", "--json"],
        input=data,
        capture_output=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("encoded", WITH_BOM.values(), ids=WITH_BOM.keys())
def test_cli_diagnoses_bom_encoded_standard_input_like_utf8(encoded: bytes) -> None:
    finished = diagnose_piped(encoded, "surrogateescape")
    assert finished.returncode == 0, finished.stderr.decode()
    payload = json.loads(finished.stdout)
    assert payload["diagnosis"]["label"] == "overfitting"
    assert payload == {"diagnosis": diagnose(parse_training_log(WINDOWS_CSV)).to_dict()}


def test_cli_calls_binary_standard_input_binary() -> None:
    finished = diagnose_piped(PNG, "surrogateescape")
    err = finished.stderr.decode()
    assert finished.returncode == 2 and finished.stdout == b""
    assert "binary" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_diagnoses_utf16_standard_input_under_a_strict_locale() -> None:
    finished = diagnose_piped(WITH_BOM["utf-16-le-bom"], "strict")
    assert finished.returncode == 0, finished.stderr.decode()
    assert json.loads(finished.stdout)["diagnosis"]["label"] == "overfitting"


def test_a_log_over_max_bytes_is_refused_with_the_limit(tmp_path: Path) -> None:
    data = EXAMPLE_LOG_CSV.encode()
    path = tmp_path / "log.csv"
    path.write_bytes(data)
    for source in (path, io.BytesIO(data)):
        with pytest.raises(LogFormatError) as caught:
            read_training_log(source, max_bytes=len(data) - 1)
        assert "larger than" in str(caught.value) and "Expected" in str(caught.value)
    assert read_training_log(io.BytesIO(data), max_bytes=len(data)).train_loss[0] == 1.52
