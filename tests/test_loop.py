from __future__ import annotations

import ast
import inspect
import math
import textwrap

import pytest
import torch

from engine.config import default_config
from engine.device import pick_device
from engine.models import build_model, count_parameters
from engine.records import EpochRecord, StepRecord
from engine.results import RunResult
from engine.step import train_step
from engine.training import train


def test_train_step_reads_as_the_four_steps_in_order() -> None:
    source = inspect.getsource(train_step)
    positions = [
        source.index(code)
        for code in (
            "optimizer.zero_grad()",
            "outputs = model(inputs)",
            "loss = loss_fn(outputs, targets)",
            "loss.backward()",
            "optimizer.step()",
        )
    ]
    assert positions == sorted(positions)
    assert len(statements_a_learner_reads(train_step)) <= 8


def statements_a_learner_reads(function: object) -> list[str]:
    """The body's statements, one entry each however the formatter wraps them (no docstring)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return [ast.unparse(statement) for statement in body]


def test_healthy_digits_run_reaches_95_percent(baseline_run: RunResult) -> None:
    assert baseline_run.status == "completed"
    assert len(baseline_run.epochs) == 20 and len(baseline_run.steps) == 20 * 40
    assert baseline_run.epochs[-1].val_acc >= 0.95
    assert baseline_run.test is not None and baseline_run.test["acc"] >= 0.95
    losses = [e.train_loss for e in baseline_run.epochs]
    assert losses[-1] < 0.1 * losses[0]
    assert baseline_run.epochs[-1].train_acc == pytest.approx(1.0, abs=0.01)


def test_epoch_records_carry_predictions_confidence_and_layer_gradients(
    baseline_run: RunResult,
) -> None:
    last = baseline_run.epochs[-1]
    assert last.class_counts is not None and sum(last.class_counts) == 269
    assert max(last.class_counts) < 0.2 * 269  # spread over all ten classes
    assert 0.9 < (last.mean_confidence or 0) <= 1.0
    assert set(last.layer_grad_norms) == {"fc1", "fc2", "out"}
    assert all(s.grad_norm > 0 and s.lr == 1e-3 for s in baseline_run.steps)


def test_events_stream_every_step_and_epoch() -> None:
    seen: list[StepRecord | EpochRecord] = []
    result = train(default_config(epochs=2), on_event=seen.append)
    steps = [r for r in seen if isinstance(r, StepRecord)]
    epochs = [r for r in seen if isinstance(r, EpochRecord)]
    assert [s.step for s in steps] == list(range(1, 81))
    assert [e.epoch for e in epochs] == [1, 2] and result.steps == steps


def test_same_config_gives_the_same_numbers() -> None:
    a = train(default_config(epochs=2, dropout=0.3))
    b = train(default_config(epochs=2, dropout=0.3))
    assert [s.loss for s in a.steps] == [s.loss for s in b.steps]


def test_stop_between_steps_keeps_what_was_trained() -> None:
    seen: list[StepRecord] = []
    result = train(
        default_config(epochs=5),
        on_event=lambda r: seen.append(r),
        should_stop=lambda: sum(isinstance(r, StepRecord) for r in seen) >= 10,
    )
    assert result.status == "stopped" and len(result.steps) == 10
    assert result.test is not None


def test_nan_loss_is_a_result_marked_diverged() -> None:
    result = train(default_config(optimizer="sgd", lr=50.0, epochs=3))
    assert result.status == "diverged"
    assert result.diverged_at_step == len(result.steps)
    assert not math.isfinite(result.steps[-1].loss)
    assert result.to_dict()["steps"][-1]["loss"] is None  # JSON has no NaN


def test_schedules_change_the_learning_rate() -> None:
    result = train(default_config(epochs=3, schedule="cosine"))
    rates = [s.lr for s in result.steps]
    assert rates[0] == pytest.approx(1e-3, rel=0.01) and rates[-1] < 1e-5
    warm = train(default_config(epochs=3, schedule="warmup_cosine"))
    assert warm.steps[0].lr < warm.steps[10].lr


def test_gradient_clipping_bounds_the_update_norm() -> None:
    result = train(default_config(epochs=1, lr=0.5, optimizer="sgd", grad_clip=0.1))
    assert max(s.grad_norm for s in result.steps) <= 0.1 + 1e-5


def test_other_datasets_and_models_train() -> None:
    line = train(default_config("line"))
    assert line.epochs[-1].val_acc is None and line.epochs[-1].val_loss < 0.5
    moons = train(default_config("moons"))
    assert moons.epochs[-1].val_acc >= 0.9
    cnn = train(default_config(model="cnn", epochs=3))
    assert cnn.epochs[-1].val_acc >= 0.85


def test_model_shapes_and_sizes() -> None:
    config = default_config()
    model = build_model(config, (1, 8, 8), 10)
    assert count_parameters(model) == 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert build_model(config.replace(model="cnn"), (1, 28, 28), 10)(
        torch.zeros(2, 1, 28, 28)
    ).shape == (2, 10)
    zeros = build_model(config.replace(init="zeros"), (1, 8, 8), 10)
    assert all(float(p.detach().abs().sum()) == 0 for p in zeros.parameters())
    same = build_model(config, (1, 8, 8), 10)
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), same.parameters(), strict=True)
    )
    normed = build_model(config.replace(batch_norm=True, dropout=0.2), (1, 8, 8), 10)
    names = [name for name, _ in normed.named_children()]
    assert "bn1" in names and "drop1" in names


def test_device_fallback_and_thread_limit() -> None:
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")
    train(default_config(epochs=1, threads=1))
    assert torch.get_num_threads() == 1
