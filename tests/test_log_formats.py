"""`python -m engine diagnose FILE --json` for every log format the Curve Doctor reads.

Each format's sample is written the way its tool writes it: by the tool itself where it is
installed (torch.utils.tensorboard.SummaryWriter), else by its documented format. The same
healthy-then-overfitting run is logged in each, so every format must give the same reading.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from engine.cli import main

# One run: the train loss falls steadily; val is best at epoch 4, then rises: overfitting.
TRAIN = [1.90, 1.20, 0.80, 0.55, 0.40, 0.30, 0.22, 0.16]
VAL = [1.70, 1.10, 0.85, 0.78, 0.82, 0.90, 1.01, 1.15]
TRAIN_ACC = [0.45, 0.62, 0.74, 0.82, 0.88, 0.92, 0.95, 0.97]
VAL_ACC = [0.50, 0.64, 0.71, 0.74, 0.74, 0.73, 0.73, 0.72]
EPOCHS = range(1, len(TRAIN) + 1)


def diagnose_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(["diagnose", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)["diagnosis"]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def rows(header: str, line: str) -> str:
    """A CSV: the header, then `line` formatted for each epoch with e, t, v, ta, va."""
    body = [
        line.format(e=e, t=t, v=v, ta=ta, va=va)
        for e, t, v, ta, va in zip(EPOCHS, TRAIN, VAL, TRAIN_ACC, VAL_ACC, strict=True)
    ]
    return "\n".join([header, *body]) + "\n"


CSV_FORMATS = {
    # Keras 2 CSVLogger: 0-based epochs, acc/val_acc
    "keras_old.csv": (
        rows("epoch,acc,loss,val_acc,val_loss", "{e},{ta},{t},{va},{v}"),
        "keras_csv",
        {"train_loss": "loss", "val_loss": "val_loss", "train_acc": "acc", "val_acc": "val_acc"},
    ),
    # Keras 3 CSVLogger: accuracy/val_accuracy and the learning rate
    "keras_new.csv": (
        rows(
            "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss",
            "{e},{ta},0.001,{t},{va},{v}",
        ),
        "keras_csv",
        {"train_acc": "accuracy", "val_acc": "val_accuracy", "learning_rate": "learning_rate"},
    ),
    # fastai CSVLogger: `accuracy` is measured on the validation set; time is mm:ss
    "fastai.csv": (
        rows("epoch,train_loss,valid_loss,accuracy,time", "{e},{t},{v},{va},00:04"),
        "fastai_csv",
        {"train_loss": "train_loss", "val_loss": "valid_loss", "val_acc": "accuracy"},
    ),
    # a print loop's CSV, percentages for accuracy
    "plain.csv": (
        rows("epoch,train_loss,val_loss,val_acc", "{e},{t},{v},{va}"),
        "csv",
        {"train_loss": "train_loss", "val_loss": "val_loss", "val_acc": "val_acc"},
    ),
}


@pytest.mark.parametrize("name", sorted(CSV_FORMATS))
def test_csv_formats(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, source_format, columns = CSV_FORMATS[name]
    payload = diagnose_json([write(tmp_path, name, text)], capsys)
    assert payload["label"] == "overfitting"
    assert payload["format"] == source_format
    assert columns.items() <= payload["columns"].items()  # type: ignore[union-attr]


def test_lightning_metrics_csv_with_step_and_epoch_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Lightning's CSVLogger: sorted columns, train_loss_step on every 10th step, the epoch
    # means and val on rows of their own with blanks everywhere else
    lines = ["epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss"]
    for epoch, (t, v, va) in enumerate(zip(TRAIN, VAL, VAL_ACC, strict=True)):
        for k in range(1, 4):
            lines.append(f"{epoch},{epoch * 30 + k * 10 - 1},,{t * (1.1 - 0.05 * k):.4f},,")
        end = epoch * 30 + 29
        lines += [f"{epoch},{end},,,{va},{v}", f"{epoch},{end},{t},,,"]
    payload = diagnose_json([write(tmp_path, "metrics.csv", "\n".join(lines) + "\n")], capsys)
    assert payload["label"] == "overfitting" and payload["format"] == "lightning_csv"
    assert payload["columns"] == {
        "train_loss": "train_loss_epoch",
        "val_loss": "val_loss",
        "val_acc": "val_acc",
        "x": "step",
    }


def test_hugging_face_trainer_state_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history: list[dict[str, float]] = []
    for epoch, (t, v, va) in enumerate(zip(TRAIN, VAL, VAL_ACC, strict=True), start=1):
        for k in (1, 2):  # train loss logged twice per epoch, eval once at its end
            step = (epoch - 1) * 100 + k * 50
            history.append({"epoch": step / 100, "step": step, "loss": t, "learning_rate": 5e-5})
        history.append({"epoch": float(epoch), "step": epoch * 100, "eval_loss": v,
                        "eval_accuracy": va, "eval_runtime": 1.2})  # fmt: skip
    history.append({"epoch": 8.0, "step": 800, "train_runtime": 60.0, "train_loss": 0.7})
    state = json.dumps({"global_step": 800, "log_history": history}, indent=2)
    payload = diagnose_json([write(tmp_path, "trainer_state.json", state)], capsys)
    assert payload["label"] == "overfitting" and payload["format"] == "hf_trainer_state"
    assert payload["columns"] == {
        "train_loss": "loss",
        "val_loss": "eval_loss",
        "val_acc": "eval_accuracy",
        "x": "step",
        "learning_rate": "learning_rate",
    }
    evidence = " ".join(payload["evidence"])  # type: ignore[arg-type]
    assert "best at step 400 (0.78)" in evidence


def test_tensorboard_event_file_from_summary_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path))
    for epoch, (t, v, va) in enumerate(zip(TRAIN, VAL, VAL_ACC, strict=True), start=1):
        writer.add_scalar("Loss/train", t, epoch)
        writer.add_scalar("Loss/val", v, epoch)
        writer.add_scalar("Accuracy/val", va, epoch)
    writer.close()
    (event_file,) = tmp_path.glob("events.out.tfevents.*")
    payload = diagnose_json([str(event_file)], capsys)
    assert payload["label"] == "overfitting" and payload["format"] == "tensorboard_events"
    assert payload["columns"] == {
        "train_loss": "Loss/train",
        "val_loss": "Loss/val",
        "val_acc": "Accuracy/val",
        "x": "step",
    }


def test_tensorboard_csv_exports_one_metric_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def export(values: list[float]) -> str:
        lines = [f"{1.7e9 + s:.1f},{s},{value}" for s, value in enumerate(values, start=1)]
        return "Wall time,Step,Value\n" + "\n".join(lines) + "\n"

    train = write(tmp_path, "run-.-tag-Loss_train.csv", export(TRAIN))
    val = write(tmp_path, "run-.-tag-Loss_val.csv", export(VAL))
    payload = diagnose_json([train, val], capsys)
    assert payload["label"] == "overfitting" and payload["format"] == "tensorboard_csv"
    assert payload["columns"]["train_loss"] == "Loss_train"  # type: ignore[index]
    assert payload["columns"]["val_loss"] == "Loss_val"  # type: ignore[index]
    # the learner says which is which when the names do not
    swapped = diagnose_json([train, val, "--train-loss", "Loss_val"], capsys)
    assert swapped["columns"]["train_loss"] == "Loss_val"  # type: ignore[index]


def test_wandb_csv_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = '"Step","calm-sea-3 - train/loss","calm-sea-3 - train/loss__MIN",' + (
        '"calm-sea-3 - train/loss__MAX","calm-sea-3 - val/loss"'
    )
    lines = [f"{e},{t},{t},{t},{v}" for e, t, v in zip(EPOCHS, TRAIN, VAL, strict=True)]
    payload = diagnose_json([write(tmp_path, "wandb.csv", "\n".join([header, *lines]))], capsys)
    assert payload["label"] == "overfitting" and payload["format"] == "wandb_csv"
    assert payload["columns"]["train_loss"] == "train/loss"  # type: ignore[index]
    assert payload["columns"]["val_loss"] == "val/loss"  # type: ignore[index]


def keras_console() -> str:
    out = []
    for e, t, v, ta, va in zip(EPOCHS, TRAIN, VAL, TRAIN_ACC, VAL_ACC, strict=True):
        out.append(f"Epoch {e}/8")
        progress = f"\r 10/100 [==>...] - ETA: 2s - loss: {t + 0.3:.4f} - accuracy: 0.3000"
        final = (
            f"\r100/100 [==============================] - 2s 20ms/step - loss: {t:.4f} - "
            f"accuracy: {ta:.4f} - val_loss: {v:.4f} - val_accuracy: {va:.4f}"
        )
        out.append(progress + final)
    return "\n".join(out) + "\n"


def hf_console() -> str:
    out = []
    for e, t, v, va in zip(EPOCHS, TRAIN, VAL, VAL_ACC, strict=True):
        out.append(f" {e * 12}%|█ | {e * 10}/80 [00:0{e}<00:20, 3.1it/s]{{'loss': {t}, "
                   f"'learning_rate': 4e-05, 'epoch': {e - 0.5}}}")  # fmt: skip
        out.append(f"{{'eval_loss': {v}, 'eval_accuracy': {va}, 'eval_runtime': 1.1, "
                   f"'epoch': {float(e)}}}")  # fmt: skip
    out.append("{'train_runtime': 30.2, 'train_loss': 0.6, 'epoch': 8.0}")
    return "\n".join(out) + "\n"


def print_console() -> str:
    lines = ["Loading data...", "Model has 101,770 parameters"]
    for e, t, v, va in zip(EPOCHS, TRAIN, VAL, VAL_ACC, strict=True):
        lines.append(f"Epoch [{e}/8], Train Loss: {t:.4f}, Val Loss: {v:.4f}, Val Acc: {va:.1%}")
    return "\n".join(lines) + "\nSaved model.pt\n"


@pytest.mark.parametrize(
    ("make", "source_format", "columns"),
    [
        (keras_console, "keras_console", {"train_loss": "loss", "val_acc": "val_accuracy"}),
        (hf_console, "hf_console", {"train_loss": "loss", "val_loss": "eval_loss"}),
        (print_console, "print_console", {"train_loss": "train loss", "val_acc": "val acc"}),
    ],
)
def test_pasted_console_output_through_stdin(
    make: object,
    source_format: str,
    columns: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = make()  # type: ignore[operator]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))
    payload = diagnose_json(["-"], capsys)
    assert payload["label"] == "overfitting" and payload["format"] == source_format
    assert columns.items() <= payload["columns"].items()  # type: ignore[union-attr]


def test_the_hf_log_is_read_as_two_curves_not_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # eval on its own rows: before, the blank train cells were read as NaN -> "diverged"
    text = "step,loss,eval_loss\n" + "".join(
        f"{s},{0.2 + 1.8 * 0.85**s:.4f},\n"
        + (f"{s},,{0.3 + 1.6 * 0.85**s:.4f}\n" if s % 10 == 0 else "")
        for s in range(1, 61)
    )
    payload = diagnose_json([write(tmp_path, "hf.csv", text)], capsys)
    assert payload["label"] != "diverged"
    assert not any("NaN" in sentence for sentence in payload["evidence"])  # type: ignore[union-attr]
    assert payload["label"] == "healthy"
