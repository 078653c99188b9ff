"""The engine options of lessons 3.5, 3.7 and 3.8: each does what the lesson says it does."""

from __future__ import annotations

import json
from functools import partial

import pytest
import torch

from engine import distributed
from engine.augment import shift_and_rotate
from engine.cli import main
from engine.config import ConfigError, default_config
from engine.distributed import DistributedUnavailableError, train_data_parallel
from engine.loop import run
from engine.models import build_model
from engine.step import EarlyStopping, accumulation_step, evaluate
from engine.training import build_parts, train
from engine.variants import apply_variant
from engine.variants.practice import accumulation_step_undivided

# 1,024 training examples: batches of 128 and micro-batches of 32 divide them exactly.
EVEN = {"subset": 1024, "epochs": 3}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"accumulate": 0}, "accumulate = 0 is not allowed: expected an integer from 1 to 64"),
        ({"precision": "float8"}, "precision = 'float8' is not allowed"),
        ({"early_stopping": 0}, "early_stopping = 0 is not allowed"),
        ({"resume_at": 20}, "resume_at = 20 is not allowed: expected an epoch from 1 to 19"),
        ({"augment": "yes"}, "augment = 'yes' is not allowed: expected true or false"),
        ({"accumulate": 4, "precision": "bfloat16"}, "expected float32 when accumulate"),
        ({"batch_norm": True, "layer_norm": True}, "layer_norm = True is not allowed"),
    ],
)
def test_bad_settings_name_the_field_and_the_range(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        default_config("digits", **changes)


def test_augmenting_data_that_is_not_images_is_refused() -> None:
    with pytest.raises(ConfigError, match="augment = True is not allowed"):
        default_config("moons", augment=True)


def test_k_micro_batches_match_one_batch_k_times_larger() -> None:
    accumulated = train(default_config("digits", accumulate=4, batch_size=32, **EVEN))
    one_batch = train(default_config("digits", batch_size=128, **EVEN))
    assert len(accumulated.steps) == len(one_batch.steps) == 24
    for a, b in zip(accumulated.steps, one_batch.steps, strict=True):
        assert a.loss == pytest.approx(b.loss, abs=1e-5)
    assert accumulated.epochs[-1].val_loss == pytest.approx(one_batch.epochs[-1].val_loss, abs=1e-5)


def _gradients_after(step: object, k: int) -> list[torch.Tensor]:
    parts = build_parts(default_config("digits"))
    model = parts.model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: gradients, no change
    inputs, targets = parts.data.train.inputs[:128], parts.data.train.targets[:128]
    step(model, inputs, targets, parts.loss_fn, optimizer, None, micro_batch_size=128 // k)
    return [p.grad.clone() for p in model.parameters()]


def test_without_dividing_by_k_the_gradient_is_k_times_larger() -> None:
    divided = _gradients_after(accumulation_step, 4)
    undivided = _gradients_after(accumulation_step_undivided, 4)
    for healthy, broken in zip(divided, undivided, strict=True):
        torch.testing.assert_close(broken, 4 * healthy, rtol=1e-5, atol=1e-7)


def test_with_sgd_the_missing_division_is_a_k_times_larger_learning_rate() -> None:
    base = default_config("digits", optimizer="sgd", lr=0.01, momentum=0.9, accumulate=4, **EVEN)
    broken = train(apply_variant(base, "accumulation_not_divided").replace(lr=0.01))
    four_times_lr = train(base.replace(lr=0.04))
    for a, b in zip(broken.steps, four_times_lr.steps, strict=True):
        assert a.loss == pytest.approx(b.loss, rel=1e-4, abs=1e-5)


def test_with_adam_the_missing_division_barely_shows() -> None:
    base = default_config("digits", accumulate=4, **EVEN)
    healthy = train(base)
    parts = build_parts(base)
    parts.train_step = partial(accumulation_step_undivided, micro_batch_size=32)
    broken = run(parts)
    assert broken.epochs[-1].val_loss == pytest.approx(healthy.epochs[-1].val_loss, rel=0.05)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_follows_the_float32_curve(precision: str) -> None:
    full = train(default_config("digits", epochs=3))
    mixed = train(default_config("digits", epochs=3, precision=precision))
    assert mixed.status == "completed"
    assert mixed.epochs[-1].val_loss == pytest.approx(full.epochs[-1].val_loss, abs=0.03)
    assert mixed.steps[0].loss != full.steps[0].loss  # really computed in 16 bits


def test_float16_scales_the_loss_and_bfloat16_does_not() -> None:
    for precision, enabled in (("float16", True), ("bfloat16", False)):
        step = build_parts(default_config("digits", precision=precision)).train_step
        assert step.keywords["scaler"].is_enabled() is enabled


def test_early_stopping_restores_the_best_epochs_weights() -> None:
    config = default_config(
        "digits", subset=200, label_noise=0.2, lr=3e-3, epochs=60, early_stopping=5
    )
    parts = build_parts(config)
    result = run(parts)
    val_losses = [e.val_loss for e in result.epochs]
    best = min(range(len(val_losses)), key=val_losses.__getitem__) + 1
    assert result.best_epoch == best and result.early_stopped_at == best + 5 < 60
    now = evaluate(parts.model, parts.data.val, parts.loss_fn).loss
    assert now == pytest.approx(val_losses[best - 1], abs=1e-6)  # the best weights, not the last


def test_patience_counts_epochs_without_improvement() -> None:
    model = torch.nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    verdicts = [
        stopper.should_stop(e, v, model) for e, v in enumerate([3.0, 2.0, 2.5, 2.1, 1.0], 1)
    ]
    assert verdicts == [False, False, False, True, False]
    assert stopper.best_epoch == 5


def test_early_stopping_on_the_training_loss_never_stops() -> None:
    base = default_config("digits", subset=200, label_noise=0.2, lr=3e-3, epochs=60)
    broken = train(apply_variant(base, "early_stop_on_train"))
    assert broken.early_stopped_at is None and len(broken.epochs) == 60


def test_resuming_with_everything_reproduces_the_uninterrupted_run() -> None:
    uninterrupted = train(default_config("digits", epochs=4, schedule="cosine"))
    resumed = train(default_config("digits", epochs=4, schedule="cosine", resume_at=2))
    assert resumed.resumed_at_step == 80
    assert [s.loss for s in resumed.steps] == [s.loss for s in uninterrupted.steps]


def test_resuming_without_the_optimizer_or_the_schedule_changes_the_curve() -> None:
    base = default_config("digits", lr=3e-3, epochs=20, schedule="cosine", resume_at=10)
    healthy = train(base)
    no_moments = train(apply_variant(base, "resume_without_optimizer_state"))
    restarted = train(apply_variant(base, "schedule_restarted_on_resume"))
    at = healthy.resumed_at_step
    assert [s.loss for s in no_moments.steps[:at]] == [s.loss for s in healthy.steps[:at]]
    after = slice(at, at + 40)
    # Adam restarts: bias correction makes its first updates full size, and the loss jumps.
    assert max(s.loss for s in no_moments.steps[after]) > 2 * max(
        s.loss for s in healthy.steps[after]
    )
    assert restarted.steps[at].lr == pytest.approx(3e-3, rel=1e-3)  # back at the peak
    assert healthy.steps[at].lr < 0.5 * 3e-3


def test_augmentation_moves_and_turns_the_digit_but_keeps_its_ink() -> None:
    images = torch.zeros(64, 1, 8, 8)
    images[:, 0, 2:6, 3:5] = 1.0
    torch.manual_seed(0)
    moved = shift_and_rotate(images)
    assert moved.shape == images.shape
    assert not torch.equal(moved, images)
    assert moved.sum(dim=(1, 2, 3)).mean().item() == pytest.approx(8.0, rel=0.1)


def test_augment_val_makes_validation_look_worse() -> None:
    base = default_config("digits", epochs=2, augment=True)
    healthy, broken = train(base), train(apply_variant(base, "augment_val"))
    # Training is the same until the first validation, which then draws from the same
    # generator as the training augmentation (as torchvision's transforms would).
    first_epoch = slice(0, healthy.epochs[0].step)
    assert [s.loss for s in broken.steps[first_epoch]] == [
        s.loss for s in healthy.steps[first_epoch]
    ]
    assert broken.epochs[0].train_loss == healthy.epochs[0].train_loss
    assert broken.epochs[0].val_loss > healthy.epochs[0].val_loss


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_layer_norm_normalises_each_example(model: str) -> None:
    config = default_config("digits", model=model, layer_norm=True)
    net = build_model(config, (1, 8, 8), 10)
    layer = net.ln1
    captured: list[torch.Tensor] = []
    layer.register_forward_hook(lambda module, args, out: captured.append(out))
    net(torch.randn(5, 1, 8, 8) * 3 + 1)
    per_example = captured[0].flatten(start_dim=1)
    torch.testing.assert_close(per_example.mean(dim=1), torch.zeros(5), atol=1e-5, rtol=0)
    assert "bn1" not in dict(net.named_children())


def test_cnn_batch_norm_follows_each_convolution() -> None:
    net = build_model(default_config("digits", model="cnn", batch_norm=True), (1, 8, 8), 10)
    names = list(dict(net.named_children()))
    assert names[:3] == ["conv1", "bn1", "act1"]
    assert isinstance(net.bn2, torch.nn.BatchNorm2d)


def test_data_parallel_on_two_processes_matches_one_process(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["ddp", "--epochs", "1", "--optimizer", "sgd", "--lr", "0.05", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["world_size"] == 2
    assert report["steps"] == 19 and report["examples_per_rank"] == 630
    assert report["max_weight_difference"] < 1e-6
    for parallel, single in zip(report["parallel_losses"], report["single_losses"], strict=True):
        assert parallel == pytest.approx(single, abs=1e-5)


def test_data_parallel_says_why_when_processes_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("fork not allowed here")

    monkeypatch.setattr(distributed.subprocess, "Popen", refuse)
    with pytest.raises(DistributedUnavailableError, match="could not start 2 training processes"):
        train_data_parallel(default_config("digits", epochs=1), 2)


def test_a_failing_rank_is_reported_with_its_last_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each rank reads its settings from its command line: hand it settings that fail there.
    monkeypatch.setattr(distributed.json, "dumps", lambda data: '{"dataset": "nope"}')
    with pytest.raises(DistributedUnavailableError, match="failed: .*dataset = 'nope'"):
        train_data_parallel(default_config("digits", epochs=1), 2, timeout=60)


def test_data_parallel_refuses_settings_it_cannot_reproduce() -> None:
    with pytest.raises(ValueError, match="dropout = 0.5"):
        train_data_parallel(default_config("digits", dropout=0.5), 2)
    with pytest.raises(ValueError, match="world_size = 9"):
        train_data_parallel(default_config("digits"), 9)


def test_scale_command_prints_the_calculators_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["scale", "--parameters", "7e9", "--tokens", "2e12", "--gpus", "1024", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["flops"] == pytest.approx(8.4e22)
    assert report["memory_gb"] == {"float32": pytest.approx(112.0), "mixed": pytest.approx(112.0)}
    assert report["gpus_80gb_at_least"] == 2 and report["days"] == pytest.approx(2.40, abs=0.01)
    assert main(["scale", "--parameters", "-1", "--tokens", "1"]) == 2
    assert "parameters = -1.0 is not allowed" in capsys.readouterr().err


def test_transfer_command_reports_the_three_ways(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transfer", "--shots", "5", "--json"]) == 0
    final = json.loads(capsys.readouterr().out)["final_val_acc"]
    assert set(final) == {"frozen", "unfrozen", "scratch"}
    assert all(0.2 < acc <= 1.0 for acc in final.values())  # every way beats chance (0.2)
    assert main(["transfer", "--shots", "0"]) == 2
    assert "shots = 0 is not allowed" in capsys.readouterr().err
