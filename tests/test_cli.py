"""`python -m engine`: JSON contracts, exit codes and one-line errors."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.checkpoint import FORMAT
from engine.cli import build_parser, config_from, main

RUN_KEYS = {"config", "epochs", "steps", "test", "seconds", "diagnosis", "variant", "error"}
EPOCH_KEYS = {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_run_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        ["run", "--epochs", "2", "--batch-size", "64", "--lr", "0.002", "--seed", "3", "--json"],
        capsys,
    )
    assert code == 0
    payload = json.loads(out)
    assert set(payload) >= RUN_KEYS
    assert payload["config"]["batch_size"] == 64 and payload["config"]["seed"] == 3
    assert [e["epoch"] for e in payload["epochs"]] == [1, 2]
    assert set(payload["epochs"][0]) >= EPOCH_KEYS
    assert {"step", "loss", "grad_norm"} <= set(payload["steps"][0])
    assert len(payload["steps"]) == 2 * 20  # ceil(1259 / 64) steps per epoch
    assert set(payload["test"]) == {"loss", "acc"} and payload["seconds"] > 0
    assert {"label", "alternatives", "evidence", "next_experiment"} <= set(payload["diagnosis"])
    assert payload["variant"] is None and payload["error"] is None


def test_an_mlp_on_the_wave_with_a_chosen_activation(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "--dataset", "wave", "--epochs", "3", "--activation", "identity", "--json"]
    code, out, _ = run_cli(args, capsys)
    payload = json.loads(out)
    assert code == 0 and payload["config"]["activation"] == "identity"
    assert payload["config"]["model"] == "mlp" and payload["test"]["acc"] is None
    assert payload["epochs"][-1]["activation_stats"] == {}  # identity has nothing to watch
    assert payload["epochs"][-1]["weight_norm"] > 0


def test_human_output_shows_a_table_and_the_diagnosis(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["run", "--epochs", "2"], capsys)
    assert code == 0 and "train_loss" in out and "diagnosis:" in out


def test_variants_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["variants", "--json"], capsys)
    items = json.loads(out)
    assert code == 0 and len(items) >= 19
    assert set(items[0]) == {"id", "title", "category", "symptom", "expected_label"}


def test_compare_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        [
            "compare",
            "--variant",
            "lr_too_high",
            "--variant",
            "swapped_loss_args",
            "--epochs",
            "2",
            "--json",
        ],
        capsys,
    )
    payload = json.loads(out)
    assert code == 0 and payload["baseline"]["variant"] is None
    high, swapped = payload["variants"]
    assert set(high) >= RUN_KEYS and high["variant"] == "lr_too_high"
    assert swapped["error"]["type"] == "NotImplementedError"
    assert set(swapped["error"]) == {"type", "message", "explanation"}
    assert swapped["diagnosis"]["label"] == "crashed"


def test_diagnose_file_and_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "epoch,train_loss,val_loss\n1,0.90,0.63\n2,0.50,0.60\n3,0.30,0.66\n4,0.18,0.82\n"
    )
    code, out, _ = run_cli(["diagnose", str(log), "--json"], capsys)
    assert code == 0 and json.loads(out)["diagnosis"]["label"] == "overfitting"
    monkeypatch.setattr(sys, "stdin", io.StringIO(log.read_text()))
    code, out, _ = run_cli(["diagnose", "-", "--json"], capsys)
    assert code == 0 and set(json.loads(out)) == {"diagnosis"}


def test_export_writes_a_script(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["export", "--variant", "no_zero_grad", "--epochs", "3"], capsys)
    assert code == 0 and "EPOCHS = 3" in out and "# BUG (no_zero_grad)" in out
    compile(out, "script.py", "exec")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["run", "--epochs", "0"], "epochs = 0 is not allowed"),
        (["run", "--epochs", "many"], "invalid int value"),
        (["run", "--lr", "-1"], "lr = -1.0 is not allowed"),
        (["run", "--dataset", "imagenet"], "invalid choice"),
        (["run", "--hidden", "12,x"], "comma-separated layer widths"),
        (["run", "--variant", "nope"], "unknown variant 'nope'"),
        (["compare", "--epochs", "2"], "--variant"),
        (["diagnose", "/no/such/file.csv"], "No such file"),
        (["run", "--resume", "/no/such/ckpt.pt"], "no checkpoint"),
        (["export", "--dataset", "moons"], "export supports"),
        ([], "required"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(args, capsys)
    assert code == 2 and out == ""
    assert reason in err and len(err.strip().splitlines()) == 1


def test_bad_csv_gets_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,acc\n1,0.5\n")
    code, _, err = run_cli(["diagnose", str(bad)], capsys)
    assert code == 2 and "train_loss" in err


def test_missing_dataset_as_a_real_process(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "engine", "run", "--dataset", "mnist", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2 and "Traceback" not in finished.stderr
    assert "digits" in finished.stderr and finished.stdout == ""


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_download_to_an_unwritable_folder_fails_before_downloading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_network(monkeypatch)
    (tmp_path / "afile").write_text("a file, so nothing can be created under it")
    target = tmp_path / "afile" / "sub"
    code, out, err = run_cli(["download", "mnist", "--data-dir", str(target)], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert str(target) in err and "cannot be written" in err and "--data-dir" in err


def test_resume_from_a_hand_edited_checkpoint_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    path = tmp_path / "edited.pt"
    torch.save({"format": FORMAT}, path)
    code, out, err = run_cli(["run", "--epochs", "1", "--resume", str(path)], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "missing 'config'" in err


@pytest.mark.parametrize(
    ("folder", "reason"),
    [
        pytest.param(Path("missing") / "deeper", "does not exist", id="missing-folder"),
        pytest.param(Path("afile") / "sub", "does not exist", id="under-a-file"),
        pytest.param(Path("afile"), "is not a folder", id="a-file"),
    ],
)
def test_checkpoint_to_an_unwritable_folder_exits_2_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], folder: Path, reason: str
) -> None:
    (tmp_path / "afile").write_text("a file, not a folder")
    before = sorted(tmp_path.rglob("*"))
    checkpoint = tmp_path / folder / "run.pt"
    code, out, err = run_cli(["run", "--epochs", "1", "--checkpoint", str(checkpoint)], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert str(tmp_path / folder) in err and reason in err
    assert sorted(tmp_path.rglob("*")) == before  # no folders or files created


def test_checkpoint_path_that_is_a_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["run", "--epochs", "1", "--checkpoint", str(tmp_path)], capsys)
    assert code == 2 and out == "" and "is a folder" in err


@pytest.mark.parametrize("command", ["run", "compare", "export"])
@pytest.mark.parametrize("variant", ["", "   "])
def test_blank_variant_exits_2_listing_the_valid_ids(
    command: str, variant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli([command, "--epochs", "1", "--variant", variant], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"unknown variant {variant!r}" in err and "lr_too_high" in err


def test_lesson_3_options_reach_the_trained_run(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "run", "--epochs", "3", "--subset", "200", "--hidden", "32,32,32,32", "--residual",
        "--init", "kaiming_normal", "--init-scale", "0.5", "--optimizer", "sgd", "--lr", "0.05",
        "--momentum", "0.9", "--nesterov", "--schedule", "step", "--milestones", "1,2",
        "--gamma", "0.5", "--json",
    ]  # fmt: skip
    code, out, _ = run_cli(args, capsys)
    config = json.loads(out)["config"]
    assert code == 0 and config["residual"] and config["nesterov"]
    assert (config["init"], config["init_scale"]) == ("kaiming_normal", 0.5)
    assert (config["milestones"], config["gamma"]) == ([1, 2], 0.5)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--betas", "0.8,0.99", "--eps", "1e-6", "--no-bias-correction"],
            {"betas": (0.8, 0.99), "eps": 1e-6, "bias_correction": False},
        ),
        (
            ["--schedule", "plateau", "--plateau-patience", "4", "--gamma", "0.3"],
            {"schedule": "plateau", "plateau_patience": 4, "gamma": 0.3},
        ),
        (
            ["--schedule", "warmup_cosine", "--warmup-steps", "50", "--init", "xavier_normal"],
            {"warmup_steps": 50, "init": "xavier_normal"},
        ),
        ([], {"betas": (0.9, 0.999), "bias_correction": True, "milestones": (), "gamma": None}),
    ],
)
def test_lesson_3_flags_become_config_fields(args: list[str], expected: dict[str, object]) -> None:
    config = config_from(build_parser().parse_args(["run", *args]))
    assert {name: getattr(config, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--nesterov"], "nesterov = True is not allowed"),
        (["--optimizer", "adam", "--momentum", "0.9", "--nesterov"], "nesterov = True"),
        (["--milestones", "5,10"], "milestones = (5, 10) is not allowed"),
        (["--schedule", "step", "--milestones", "10,5"], "milestones = (10, 5)"),
        (["--gamma", "0.5"], "gamma = 0.5 is not allowed"),
        (["--schedule", "onecycle", "--warmup-steps", "10"], "warmup_steps = 10"),
        (["--optimizer", "sgd", "--no-bias-correction"], "bias_correction = False"),
        (["--model", "cnn", "--residual"], "residual = True"),
        (["--betas", "0.9,1.5"], "betas = (0.9, 1.5) is not allowed"),
        (["--betas", "0.9"], "two comma-separated numbers"),
        (["--milestones", "5,x"], "comma-separated epochs"),
        (["--init-scale", "-1"], "init_scale = -1.0"),
        (["--init", "orthogonal"], "invalid choice"),
    ],
)
def test_a_bad_lesson_3_combination_exits_2_naming_the_field(
    args: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["run", "--epochs", "20", *args], capsys)
    assert code == 2 and out == ""
    assert reason in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
