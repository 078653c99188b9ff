"""Exported scripts run on their own and reproduce the engine's curves."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from engine.config import default_config
from engine.export import ExportError, code_diff, export_script, replace_block
from engine.training import train
from engine.variants import all_variants, apply_variant, get_variant
from tests.warm_python import Finished, run_script

EPOCHS = 3
EPOCH_LINE = re.compile(r"epoch +(\d+) +train_loss (\S+) +train_acc (\S+) +val_loss (\S+)")


def run_exported(text: str, folder: Path) -> Finished:
    path = folder / "exported.py"
    path.write_text(text)
    # Run from an empty folder with no project on the path: torch and sklearn only.
    return run_script(path, folder, timeout_s=180)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-4 * max(1.0, abs(b))


@pytest.mark.parametrize(
    "variant_id",
    [
        None,
        "lr_too_high",
        "no_shuffle",
        "tiny_subset",
        "no_zero_grad",
        "softmax_before_ce",
        "dropout_in_eval",
        "labels_misaligned",
        "exploding_gradients",
        "swapped_loss_args_one_hot",
        "zero_grad_after_backward",
        "accumulation_not_divided",
        "augment_val",
        "schedule_restarted_on_resume",
        "schedule_per_batch",
        "adam_l2_not_adamw",
    ],
)
def test_exported_script_reproduces_the_engine(variant_id: str | None, tmp_path: Path) -> None:
    baseline = default_config(epochs=EPOCHS)
    text = export_script(baseline, variant_id)
    finished = run_exported(text, tmp_path)
    assert finished.returncode == 0, finished.stderr
    printed = [
        (int(e), float(tl), float(vl)) for e, tl, _, vl in EPOCH_LINE.findall(finished.stdout)
    ]
    engine = train(baseline if variant_id is None else apply_variant(baseline, variant_id))
    assert len(printed) == len(engine.epochs) >= 1
    for (epoch, train_loss, val_loss), record in zip(printed, engine.epochs, strict=True):
        assert epoch == record.epoch
        assert same(train_loss, record.train_loss) and same(val_loss, record.val_loss)


@pytest.mark.parametrize(
    "options",
    [  # lessons 3.1-3.4's options, several per script to keep the runs few
        {
            "optimizer": "sgd",
            "lr": 0.05,
            "momentum": 0.9,
            "nesterov": True,
            "schedule": "plateau",
            "plateau_patience": 0,
            "hidden": (32, 32, 32),
            "residual": True,
            "init": "xavier_normal",
            "init_scale": 0.5,
        },
        {
            "optimizer": "adamw",
            "weight_decay": 0.1,
            "bias_correction": False,
            "betas": (0.8, 0.99),
            "eps": 1e-6,
            "schedule": "onecycle",
        },
        {"schedule": "cosine", "warmup_steps": 30, "init": "kaiming_normal", "init_scale": 2.0},
    ],
)
def test_exported_script_reproduces_new_options(options: dict[str, object], tmp_path: Path) -> None:
    config = default_config(epochs=EPOCHS, **options)
    finished = run_exported(export_script(config), tmp_path)
    assert finished.returncode == 0, finished.stderr
    printed = [(float(tl), float(vl)) for _, tl, _, vl in EPOCH_LINE.findall(finished.stdout)]
    engine = train(config)
    assert len(printed) == len(engine.epochs)
    for (train_loss, val_loss), record in zip(printed, engine.epochs, strict=True):
        assert same(train_loss, record.train_loss) and same(val_loss, record.val_loss)


def test_a_crashing_bug_crashes_the_script_the_same_way(tmp_path: Path) -> None:
    finished = run_exported(export_script(default_config(epochs=1), "swapped_loss_args"), tmp_path)
    assert finished.returncode != 0
    assert "not implemented for 'Long'" in finished.stderr


@pytest.mark.parametrize("variant_id", sorted(all_variants()))
def test_every_variant_exports_with_its_bug_marked(variant_id: str) -> None:
    text = export_script(default_config(), variant_id)
    compile(text, f"{variant_id}.py", "exec")
    assert f"# BUG ({variant_id})" in text
    assert text.startswith(f"# Broken variant: {variant_id}")
    diff = code_diff(default_config(), variant_id)
    assert diff.startswith("--- healthy.py")


def test_behaviour_bugs_show_the_very_lines_that_run() -> None:
    healthy = export_script(default_config())
    for variant_id in (
        "no_zero_grad",
        "no_step",
        "swapped_loss_args",
        "softmax_before_ce",
        "dropout_in_eval",
        "unregistered_layers",
        "leaky_validation",
        "logging_tensors",
        "labels_misaligned",
        "zero_grad_after_backward",
    ):
        variant = get_variant(variant_id)
        assert replace_block(healthy, variant.healthy_code, variant.broken_code, variant_id)


def test_healthy_script_is_plain_and_typed() -> None:
    text = export_script(default_config())
    assert "# BUG" not in text and "engine" not in text.replace("the engine", "")
    assert "def train_step(\n    model: nn.Module," in text
    assert "cuda" in text and "mps" in text


def test_unsupported_runs_say_what_is_supported() -> None:
    with pytest.raises(ExportError, match="digits, mnist, fashion_mnist"):
        export_script(default_config("moons"))
