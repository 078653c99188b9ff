"""The Curve Doctor on real training logs, read in place from ../shared/real_logs.

Each log was written by a real tool in a public repository (shared/real_logs/SOURCES.md).
The label beside each is what a practitioner reading the curves would say; the numbers
behind it are written next to it and checked in the evidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.diagnosis import diagnose
from engine.training_log import read_training_log

REAL_LOGS = Path(__file__).resolve().parents[2] / "shared" / "real_logs"

# file: (label, words the evidence must hold, columns read, format)
READINGS: dict[str, tuple[str, tuple[str, ...], dict[str, str], str]] = {
    # 50 epochs of a NumPy MLP on CIFAR-10: val acc creeps to 0.40 with train (0.45) close
    # behind: too little model (or training) for the task.
    "custom_numpy_mlp_cifar10.csv": (
        "underfitting",
        ("levels off at 0.396",),
        {"train_loss": "train_loss", "val_loss": "val_loss", "val_acc": "val_acc"},
        "csv",
    ),
    # train 1.46 -> 0.193, test loss 1.14 -> 0.342, test acc 89%: a sound run.
    "custom_pytorch_cifar_lightnet.csv": (
        "healthy",
        ("1.46 -> 0.193", "0.891"),
        {"val_loss": "test_loss", "val_acc": "test_acc"},
        "csv",
    ),
    # 3-way NLI: the loss sits at 1.10-1.15, ln 3 = 1.10, for 2 epochs: nothing learned.
    "hf_camembert_nli.csv": ("not_learning", ("1.13 to 1.11",), {"x": "epoch"}, "csv"),
    # token classification: eval loss best 0.509 at epoch 2, then up to ~1.2 while the train
    # loss falls to 0.036.
    "hf_gptneo_tokencls.csv": (
        "overfitting",
        ("best at epoch 2 (0.509)", "0.0361"),
        {"val_loss": "val_loss"},
        "csv",
    ),
    # Whisper fine-tune: 100,000 steps, eval every 1,000, loss 1.19 -> 0.513 the whole way.
    "hf_whisper_tiny_asr.csv": ("healthy", ("0.513",), {"x": "step"}, "csv"),
    # val accuracy 0.20000000298 on all 8 epochs (5 classes): one answer for every image.
    "keras_cnn_liver.csv": (
        "collapsed",
        ("0.2 on every one of the 8 validation rows",),
        {"train_loss": "loss", "val_acc": "val_accuracy", "learning_rate": "learning_rate"},
        "keras_csv",
    ),
    # 9 emotions: loss 2.21 -> 2.11 (ln 9 = 2.20) in 35 epochs, val acc <= 0.19.
    "keras_mlp_emotion9.csv": ("not_learning", ("2.21 to 2.11",), {}, "keras_csv"),
    # val loss best at epoch 0 (4.21) and up to 5.5; train acc 0.87 vs val 0.615.
    "keras_speaker250_voiceid.csv": (
        "overfitting",
        ("best at epoch 0 (4.21)", "a gap of 0.25"),
        {"train_acc": "acc", "val_acc": "val_acc"},
        "keras_csv",
    ),
    # val loss best 0.257 at row 4, then zig-zags up to 0.6 while train acc reaches 0.989.
    "keras_waste_cnn.csv": (
        "overfitting",
        ("best at epoch 4 (0.257)", "0.989"),
        {"train_loss": "loss", "val_loss": "val_loss"},
        "keras_csv",
    ),
    # an MSE regression whose train loss jumps 5,630 -> 11,300 -> 1,500 and back up again:
    # learning, but far from steady.
    "lightning_chemistry_mlp_mse.csv": (
        "unstable",
        ("zig-zags",),
        {"train_loss": "Train loss", "x": "step"},
        "lightning_csv",
    ),
    # val loss best 0.314 at step 2051, then ~0.58 while train falls 0.61 -> 0.16.
    "lightning_discharge_transformer.csv": (
        "overfitting",
        ("best at step 2051 (0.314)",),
        {"x": "step"},
        "lightning_csv",
    ),
    # a small GPT on WikiText: epoch loss 4.78 -> 3.69, val 4.13 -> 3.57 and still falling:
    # not converged, train longer.
    "lightning_gpt_lm_wikitext.csv": (
        "underfitting",
        ("3.68 -> 3.57",),
        {"train_loss": "train_loss_epoch", "val_loss": "val_loss"},
        "lightning_csv",
    ),
    # one loss tag exported from TensorBoard: a spike to 18.4 at step 1, then 5.6 -> 3.95
    # falling steadily for 28 steps.
    "tensorboard_wrn_imdb_agegender.csv": ("healthy", ("3.95",), {}, "tensorboard_csv"),
    # val mAP50 0.138 after epoch 1, then 0 (at most 0.05) to the end; val losses inf/NaN
    # on 27 of 30 epochs while the train loss stays finite.
    "ultralytics_yolo_chess.csv": (
        "not_learning",
        ("Val mAP50 stays at or near 0", "27 of 30 rows"),
        {"val_acc": "metrics/mAP50(B)"},
        "ultralytics_csv",
    ),
    # learning rate never above 3e-05: losses flat (13.2 -> 12.6), mAP50 0 for 100 epochs.
    "ultralytics_yolov5ghost_coco8.csv": (
        "not_learning",
        ("13.2 to 12.6", "Val mAP50 stays at or near 0"),
        {"train_loss": "train/box_loss + train/cls_loss + train/dfl_loss"},
        "ultralytics_csv",
    ),
    # 225 epochs, mAP50 0.84 and the summed train loss still falling 2.98 -> 2.44 over the
    # last third (val losses all nan: not computed): train longer.
    "ultralytics_yolov8n_court.csv": (
        "underfitting",
        ("2.98 -> 2.44",),
        {"learning_rate": "lr/pg0"},
        "ultralytics_csv",
    ),
}


def test_every_real_log_has_a_reading() -> None:
    assert sorted(READINGS) == sorted(p.name for p in REAL_LOGS.glob("*.csv"))


@pytest.mark.parametrize("name", sorted(READINGS))
def test_real_log_gets_the_practitioners_label(name: str) -> None:
    label, words, columns, source_format = READINGS[name]
    log = read_training_log(REAL_LOGS / name)
    result = diagnose(log)
    said = " ".join(result.evidence)
    assert result.label == label, said
    for word in words:
        assert word in said
    assert columns.items() <= log.columns.items()
    assert log.source_format == source_format
    # only numbers the log holds: no made-up learning rate
    assert "1.0 -> 0.1" not in result.next_experiment and "e.g." not in result.next_experiment


@pytest.mark.parametrize("name", ["lightning_gpt_lm_wikitext.csv", "hf_whisper_tiny_asr.csv"])
def test_blank_cells_are_not_nan(name: str) -> None:
    log = read_training_log(REAL_LOGS / name)
    assert all(value == value for value in log.train_loss)  # no NaN made from blanks
    assert log.val_loss is not None and all(value == value for value in log.val_loss)
    assert len(log.val_positions) == len(log.val_loss) <= len(log.x)


def test_ultralytics_loss_is_the_sum_of_its_parts() -> None:
    log = read_training_log(REAL_LOGS / "ultralytics_yolov8n_court.csv")
    assert log.train_loss[0] == pytest.approx(3.6966 + 4.4579 + 3.9808)
    assert log.acc_name == "mAP50" and log.val_acc is not None
    assert log.val_acc[0] == pytest.approx(0.00384)


def test_cli_json_names_the_columns_it_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(REAL_LOGS / "keras_waste_cnn.csv"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)["diagnosis"]
    assert payload["label"] == "overfitting" and payload["format"] == "keras_csv"
    assert payload["columns"] == {
        "train_loss": "loss",
        "val_loss": "val_loss",
        "train_acc": "accuracy",
        "val_acc": "val_accuracy",
    }


def test_cli_column_override(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(REAL_LOGS / "ultralytics_yolov8n_court.csv")
    assert main(["diagnose", path, "--train-loss", "train/cls_loss", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)["diagnosis"]
    assert payload["columns"]["train_loss"] == "train/cls_loss"
    assert main(["diagnose", path, "--val-loss", "val/nope"]) == 2
    err = capsys.readouterr().err
    assert "no column 'val/nope'" in err and "val/box_loss" in err
