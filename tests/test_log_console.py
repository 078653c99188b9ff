"""Reading trainer_state.json and pasted console output (Keras, Hugging Face, print loops)."""

from __future__ import annotations

import json
import math

import pytest

from engine.log_console import parse_console, read_trainer_state
from engine.log_table import LogFormatError, LogTable

NAN = math.nan
INF = math.inf
KERAS2_BAR = "[" + "=" * 30 + "]"
KERAS3_BAR = "━" * 20


def same(a: float | None, b: float | None) -> bool:
    """Cell equality where nan equals nan (a diverged loss must stay nan)."""
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


def assert_columns(table: LogTable | None, expected: dict[str, list[float | None]]) -> None:
    """The table has exactly these columns, in this order, with these cells."""
    assert table is not None
    assert list(table.columns) == list(expected)
    for name, cells in expected.items():
        got = table.columns[name]
        assert len(got) == len(cells), name
        assert all(same(g, e) for g, e in zip(got, cells, strict=True)), (name, got, cells)


def expect_error(text: str) -> str:
    with pytest.raises(LogFormatError) as caught:
        read_trainer_state(text)
    return str(caught.value)


# trainer_state.json ----------------------------------------------------------------------

TRAINER_STATE = {
    "best_metric": None,
    "epoch": 2.0,
    "global_step": 40,
    "log_history": [
        {"epoch": 0.5, "grad_norm": 3.21, "learning_rate": 4.5e-05, "loss": 0.5123, "step": 10},
        {"epoch": 1.0, "grad_norm": 2.9, "learning_rate": 4e-05, "loss": 0.41, "step": 20},
        {
            "epoch": 1.0,
            "eval_accuracy": 0.86,
            "eval_loss": 0.44,
            "eval_runtime": 2.1,
            "eval_samples_per_second": 95.2,
            "eval_steps_per_second": 12.0,
            "step": 20,
        },
        {"epoch": 1.5, "grad_norm": None, "learning_rate": 3e-05, "loss": NAN, "step": 30},
        {
            "epoch": 2.0,
            "grad_norm": "Infinity",
            "learning_rate": "2e-05",
            "loss": "NaN",
            "step": 40,
        },
        {
            "epoch": 2.0,
            "step": 40,
            "total_flos": 1.2e15,
            "train_loss": 0.61,
            "train_runtime": 120.5,
            "train_samples_per_second": 33.2,
            "train_steps_per_second": 4.1,
        },
    ],
    "max_steps": 40,
}


def test_trainer_state_reads_every_entry_but_the_summary() -> None:
    text = json.dumps(TRAINER_STATE, indent=2)
    assert "NaN" in text  # json.dumps writes the nan loss as the Trainer does
    table = read_trainer_state(text)
    assert table is not None and table.source_format == "hf_trainer_state"
    assert table.n_rows == 5
    assert_columns(
        table,
        {
            "epoch": [0.5, 1.0, 1.0, 1.5, 2.0],
            "grad_norm": [3.21, 2.9, None, None, INF],
            "learning_rate": [4.5e-05, 4e-05, None, 3e-05, 2e-05],
            "loss": [0.5123, 0.41, None, NAN, NAN],
            "step": [10.0, 20.0, 20.0, 30.0, 40.0],
            "eval_accuracy": [None, None, 0.86, None, None],
            "eval_loss": [None, None, 0.44, None, None],
        },
    )
    assert table.hints == {
        "train_loss": "loss",
        "val_loss": "eval_loss",
        "val_acc": "eval_accuracy",
        "x": "step",
    }
    assert table.unreadable == {}


def test_trainer_state_hints_only_columns_that_exist() -> None:
    state = {"log_history": [{"loss": 1.0, "step": 5}, {"loss": 0.8, "step": 10}]}
    table = read_trainer_state(json.dumps(state))
    assert table is not None
    assert table.hints == {"train_loss": "loss", "x": "step"}


def test_trainer_state_keeps_an_unreadable_key_out_of_the_columns() -> None:
    state = {"log_history": [{"loss": 1.0, "step": 5, "note": 1}, {"step": 10, "note": "x"}]}
    table = read_trainer_state(json.dumps(state))
    assert table is not None
    assert list(table.columns) == ["loss", "step"]
    assert table.unreadable == {"note": "row 2 holds 'x', not a number"}


@pytest.mark.parametrize("text", ["[1, 2, 3]", '"text"', "epoch,loss\n1,0.5", "{not json", ""])
def test_text_that_is_not_a_json_object_is_left_to_other_readers(text: str) -> None:
    assert read_trainer_state(text) is None


def test_a_json_object_without_log_history_says_what_was_expected() -> None:
    message = expect_error(json.dumps({"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}))
    assert "no log_history list" in message and "loss, val_loss" in message
    assert "trainer_state.json" in message and '{"loss": 0.51, "step": 10' in message


def test_a_log_history_that_is_no_list_is_an_error() -> None:
    message = expect_error(json.dumps({"log_history": {"loss": 0.5}}))
    assert "log_history that is no list" in message and "trainer_state.json" in message


def test_a_log_history_of_non_dicts_is_an_error() -> None:
    message = expect_error(json.dumps({"log_history": [{"loss": 0.5}, [0.4, 10]]}))
    assert "Entry 2 of log_history is [0.4, 10], not a dict" in message


def test_an_empty_log_history_says_the_trainer_had_not_logged() -> None:
    message = expect_error(json.dumps({"log_history": [], "global_step": 3}))
    assert "empty" in message and "logging_steps" in message


def test_a_log_history_with_only_the_summary_is_an_error() -> None:
    summary = {"train_runtime": 12.0, "train_loss": 0.6, "epoch": 1.0, "step": 10}
    message = expect_error(json.dumps({"log_history": [summary]}))
    assert "only the end-of-training summary" in message


# Keras -----------------------------------------------------------------------------------


def keras2_epoch(
    epoch: int, updates: list[tuple[int, float]], final: str, sep: str, acc: str = "accuracy"
) -> str:
    """One epoch as a terminal capture shows it: progress states joined by `sep`."""
    states = [
        f"{n:4d}/1875 [{'=' * (n * 29 // 1875)}>{'.' * 29}] - ETA: 2s - loss: {loss:.4f}"
        f" - {acc}: 0.5000"
        for n, loss in updates
    ]
    states.append(f"1875/1875 {KERAS2_BAR} - 5s 3ms/step - {final}")
    return f"Epoch {epoch}/3\n" + sep.join(states) + "\n"


def test_keras2_paste_with_carriage_returns_keeps_each_epochs_last_values() -> None:
    text = "".join(
        keras2_epoch(
            epoch,
            [(32, 2.1), (960, 0.9), (1875, 0.31 - epoch / 100)],
            f"loss: {0.3 - epoch / 100:.4f} - accuracy: 0.91{epoch} - val_loss: 0.32{epoch}"
            f" - val_accuracy: 0.90{epoch}",
            sep="\r",
        )
        for epoch in (1, 2, 3)
    )
    # evaluate() afterwards draws its own bar; it is not a fourth epoch nor epoch 3's values
    text += f"313/313 {KERAS2_BAR} - 1s 2ms/step - loss: 0.5000 - accuracy: 0.8000\n"
    text += f"1875/1875 {KERAS2_BAR} - 4s 2ms/step - loss: 0.2500 - accuracy: 0.9500\n"
    table = parse_console(text)
    assert table is not None and table.source_format == "keras_console"
    assert_columns(
        table,
        {
            "epoch": [1.0, 2.0, 3.0],
            "loss": [0.29, 0.28, 0.27],
            "accuracy": [0.911, 0.912, 0.913],
            "val_loss": [0.321, 0.322, 0.323],
            "val_accuracy": [0.901, 0.902, 0.903],
        },
    )
    assert table.hints == {
        "train_loss": "loss",
        "val_loss": "val_loss",
        "val_acc": "val_accuracy",
        "x": "epoch",
    }


def test_keras2_paste_with_backspaces_and_old_metric_names() -> None:
    text = "".join(
        keras2_epoch(
            epoch,
            [(100, 1.5), (1800, 0.7)],
            f"loss: 0.{5 - epoch}000 - acc: 0.8{epoch}00 - val_loss: nan - val_acc: 0.7{epoch}00"
            f" - lr: 1.0000e-0{epoch + 1}",
            sep="\x08" * 120,
            acc="acc",
        )
        for epoch in (1, 2)
    )
    assert_columns(
        parse_console(text),
        {
            "epoch": [1.0, 2.0],
            "loss": [0.4, 0.3],
            "acc": [0.81, 0.82],
            "val_loss": [NAN, NAN],
            "val_acc": [0.71, 0.72],
            "lr": [1e-2, 1e-3],
        },
    )


def test_keras2_updates_on_separate_lines_and_no_validation() -> None:
    text = (
        "Epoch 1/2\n"
        "   1/1875 [.........................] - ETA: 15:00 - loss: 2.3026 - accuracy: 0.0938\n"
        " 937/1875 [============>............] - ETA: 1s - loss: 0.6000 - accuracy: 0.8000\n"
        "1875/1875 [=========================] - 4s 2ms/step - loss: 0.4500 - accuracy: 0.8700\n"
        "Epoch 2/2\n"
        "1875/1875 [=========================] - 4s 2ms/step - loss: 0.3000 - accuracy: 0.9100\n"
    )
    table = parse_console(text)
    assert table is not None and table.source_format == "keras_console"
    assert_columns(table, {"epoch": [1.0, 2.0], "loss": [0.45, 0.3], "accuracy": [0.87, 0.91]})
    assert table.hints == {"train_loss": "loss", "x": "epoch"}


def test_keras3_paste_with_colours_learning_rate_and_a_nan_loss() -> None:
    lines = []
    for epoch, loss in ((1, "0.4580"), (2, "0.3100"), (3, "nan")):
        lines += [
            f"Epoch {epoch}/3",
            f"\x1b[1m 120/1875\x1b[0m \x1b[32m━━\x1b[0m 2s 1ms/step - accuracy: 0.5 - loss: 1.2\r"
            f"\x1b[1m1875/1875\x1b[0m \x1b[32m{KERAS3_BAR}\x1b[0m \x1b[1m3s\x1b[0m 2ms/step"
            f" - accuracy: 0.8{epoch}30 - loss: {loss} - val_accuracy: 0.9{epoch}00"
            f" - val_loss: 0.3{epoch}00 - learning_rate: 1.0000e-03",
        ]
    assert_columns(
        parse_console("\n".join(lines) + "\n"),
        {
            "epoch": [1.0, 2.0, 3.0],
            "accuracy": [0.813, 0.823, 0.833],
            "loss": [0.458, 0.31, NAN],
            "val_accuracy": [0.91, 0.92, 0.93],
            "val_loss": [0.31, 0.32, 0.33],
            "learning_rate": [1e-3, 1e-3, 1e-3],
        },
    )


# Hugging Face Trainer console -----------------------------------------------------------

HF_CONSOLE = (
    "***** Running training *****\n"
    "  Num examples = 1000\n"
    "  Num Epochs = 2\n"
    "  0%|          | 0/250 [00:00<?, ?it/s]\r  4%|▍         | 10/250 [00:03<01:12, 3.30it/s]"
    "{'loss': 0.6931, 'grad_norm': 3.21, 'learning_rate': 4.8e-05, 'epoch': 0.08}\n"
    " 50%|█████     | 125/250 [00:38<00:37, 3.31it/s]"
    "{'loss': '0.5123', 'grad_norm': nan, 'learning_rate': 2.5e-05, 'epoch': 1.0}\n"
    "\r  0%|          | 0/16 [00:00<?, ?it/s]\r100%|██████████| 16/16 [00:01<00:00, 9.1it/s]"
    "{'eval_loss': 0.41, 'eval_accuracy': 0.86, 'eval_runtime': 2.1, "
    "'eval_samples_per_second': 95.2, 'eval_steps_per_second': 12.0, 'epoch': 1.0}\n"
    "{'loss': inf, 'grad_norm': -inf, 'learning_rate': 1e-06, 'epoch': 1.96}\n"
    "{'eval_loss': 0.39, 'eval_accuracy': np.float64(0.88), 'eval_runtime': 2.0, "
    "'epoch': 2.0}\n"
    "{'train_runtime': 120.5, 'train_samples_per_second': 33.2, "
    "'train_steps_per_second': 4.1, 'train_loss': 0.61, 'epoch': 2.0}\n"
    "100%|██████████| 250/250 [02:00<00:00, 2.07it/s]\n"
)


def test_hf_printed_dicts_inside_progress_bars() -> None:
    table = parse_console(HF_CONSOLE)
    assert table is not None and table.source_format == "hf_console"
    assert table.n_rows == 5
    assert_columns(
        table,
        {
            "loss": [0.6931, 0.5123, None, INF, None],
            "grad_norm": [3.21, NAN, None, -INF, None],
            "learning_rate": [4.8e-05, 2.5e-05, None, 1e-06, None],
            "epoch": [0.08, 1.0, 1.0, 1.96, 2.0],
            "eval_loss": [None, None, 0.41, None, 0.39],
            "eval_accuracy": [None, None, 0.86, None, 0.88],
        },
    )
    assert table.hints == {
        "train_loss": "loss",
        "val_loss": "eval_loss",
        "val_acc": "eval_accuracy",
    }


def test_hf_console_ignores_dicts_that_are_not_logs() -> None:
    text = "{'lr': 0.001, 'epochs': 3}\n{'loss': 0.5, 'epoch': 0.5}\n{'loss_fn': 'mse'}\n"
    assert_columns(parse_console(text), {"loss": [0.5], "epoch": [0.5]})


# Print loops -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "epoch 3 train_loss=0.41 val_loss=0.52",
            {"epoch": 3, "train_loss": 0.41, "val_loss": 0.52},
        ),
        ("Epoch [3/10], Loss: 0.4100", {"epoch": 3, "loss": 0.41}),
        (
            "Epoch 3/10 | train loss: 0.41 | val loss: 0.52 | val acc: 91.2%",
            {"epoch": 3, "train loss": 0.41, "val loss": 0.52, "val acc": 91.2},
        ),
        (
            "Epoch: 3, Train Loss: 0.41, Val Loss: 0.52, Val Acc: 0.91",
            {"epoch": 3, "train loss": 0.41, "val loss": 0.52, "val acc": 0.91},
        ),
        ("[epoch 3] loss 0.41 acc 0.88", {"epoch": 3, "loss": 0.41, "acc": 0.88}),
        ("step 100: loss 2.31", {"step": 100, "loss": 2.31}),
        ("Epoch 3 of 10 done, loss 0.41.", {"epoch": 3, "loss": 0.41}),
        ("iter 200, loss = 1.9", {"iter": 200, "loss": 1.9}),
        ("Epoch [1/5], Step [100/600], Loss: 0.2211", {"epoch": 1, "step": 100, "loss": 0.2211}),
        (
            "epoch=2  loss=nan  val_loss=inf  grad_norm=-inf  lr=4.1e-3",
            {"epoch": 2, "loss": NAN, "val_loss": INF, "grad_norm": -INF, "lr": 4.1e-3},
        ),
        (
            "INFO: Epoch 4 finished in 12.3s, took 12 seconds - Val  Accuracy: 93.5%",
            {"epoch": 4, "val accuracy": 93.5},
        ),
        ("train loss 0.52 val loss 0.61 time 12.5", {"train loss": 0.52, "val loss": 0.61}),
        (
            "Epoch 1: 100%|██████████| 938/938 [00:15<00:00, loss=0.312]",
            {"epoch": 1, "loss": 0.312},
        ),
    ],
)
def test_print_loop_line(line: str, expected: dict[str, float]) -> None:
    table = parse_console(line)
    assert table is not None and table.source_format == "print_console"
    assert_columns(table, {name: [value] for name, value in expected.items()})


def test_print_loop_lines_one_row_each_and_noise_ignored() -> None:
    text = (
        "Downloading http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz\n"
        "100%|██████████| 9912422/9912422 [00:01<00:00, 8.1MB/s]\n"
        "Using device: cuda, batch size 64\n"
        "Epoch 1/3 | train loss: 0.9000 | val loss: 0.8000 | val acc: 71.0%\n"
        "Saving model to best.pt\n"
        "Epoch 2/3 | train loss: 0.5000 | val loss: 0.6000 | val acc: 80.5%\n"
        "Epoch 3/3 | train loss: 0.3000 | val loss: nan\n"
        "Training done in 42.0 seconds\n"
    )
    table = parse_console(text)
    assert table is not None and table.hints == {}
    assert_columns(
        table,
        {
            "epoch": [1.0, 2.0, 3.0],
            "train loss": [0.9, 0.5, 0.3],
            "val loss": [0.8, 0.6, NAN],
            "val acc": [71.0, 80.5, None],
        },
    )


def test_tutorial_steps_become_a_global_step_across_epochs() -> None:
    text = "\n".join(
        f"Epoch [{epoch}/2], Step [{step}/600], Loss: {loss}"
        for epoch, step, loss in [(1, 300, 0.5), (1, 600, 0.3), (2, 300, 0.2), (2, 600, 0.15)]
    )
    table = parse_console(text)
    assert_columns(
        table,
        {
            "epoch": [1.0, 1.0, 2.0, 2.0],
            "step": [300.0, 600.0, 900.0, 1200.0],
            "loss": [0.5, 0.3, 0.2, 0.15],
        },
    )
    assert table is not None and table.hints == {"x": "step"}


def test_zero_based_epochs_start_the_global_step_at_zero() -> None:
    text = "Epoch [0/2], Step [50/100], Loss: 0.5\nEpoch [1/2], Step [50/100], Loss: 0.4\n"
    table = parse_console(text)
    assert table is not None and table.columns["step"] == [50.0, 150.0]


def test_an_epoch_header_dates_the_metric_lines_below_it() -> None:
    text = (
        "Epoch 1/2\n"
        "Train loss: 0.80, acc: 0.70\n"
        "Validation loss: 0.90\n"
        "Epoch 2/2\n"
        "Train loss: 0.60, acc: 0.75\n"
        "Validation loss: 0.85\n"
    )
    assert_columns(
        parse_console(text),
        {
            "epoch": [1.0, 1.0, 2.0, 2.0],
            "train loss": [0.8, None, 0.6, None],
            "acc": [0.7, None, 0.75, None],
            "validation loss": [None, 0.9, None, 0.85],
        },
    )


# Choosing, and nothing to read -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Downloading...\nSaving model\nDone.\n",
        "The model trained for 3 epochs and the loss went down.\n",
        'Traceback (most recent call last):\n  File "train.py", line 3\nRuntimeError: boom\n',
        "epoch,loss\n1,0.5\n2,0.4\n",
    ],
)
def test_text_in_no_console_format_is_none(text: str) -> None:
    assert parse_console(text) is None


def test_the_format_that_reads_most_of_the_text_wins() -> None:
    keras = keras2_epoch(1, [(900, 0.7)], "loss: 0.5000 - val_loss: 0.6000", "\n")
    keras += keras2_epoch(2, [(900, 0.5)], "loss: 0.4000 - val_loss: 0.5000", "\n")
    table = parse_console("Starting run, best loss: 9.0\n" + keras)
    assert table is not None and table.source_format == "keras_console"
    assert table.columns["loss"] == [0.5, 0.4]
    hf = "{'loss': 0.5, 'epoch': 0.5}\n{'loss': 0.4, 'epoch': 1.0}\nepoch 1 loss 0.45\n"
    table = parse_console(hf)
    assert table is not None and table.source_format == "hf_console"
