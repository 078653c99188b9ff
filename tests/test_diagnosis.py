"""The Curve Doctor on hand-written histories: every label, the borderline cases, and fuzz."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import default_config
from engine.diagnosis import LABELS, Diagnosis, diagnose
from engine.log_table import TrainingLog
from engine.records import EpochRecord
from engine.training import train

SERIES = ("val_loss", "train_acc", "val_acc", "step_loss", "grad_norm", "first_layer_grad_norm")


def make_log(train: list[float], **columns: Any) -> TrainingLog:
    """A TrainingLog over epochs 1..n unless `x` is given; lists become tuples of floats."""
    columns.setdefault("x", tuple(float(i) for i in range(1, len(train) + 1)))
    for name in SERIES:
        if columns.get(name) is not None:
            columns[name] = tuple(float(v) for v in columns[name])
    return TrainingLog(train_loss=tuple(float(v) for v in train), **columns)


def decay(start: float, end: float, n: int) -> list[float]:
    return [float(v) for v in np.geomspace(start, end, n)]


def ramp(start: float, end: float, n: int) -> list[float]:
    return [float(v) for v in np.linspace(start, end, n)]


def around(value: float, n: int) -> list[float]:
    """An accuracy that wobbles by 0.01 around `value` and ends on it, as a real one does (an
    accuracy that never changes at all is the collapsed model's signature)."""
    return [value + 0.01 * ((i % 2) * 2 - 1) for i in range(n - 1)] + [value]


def evidence(diagnosis: Diagnosis) -> str:
    return " ".join(diagnosis.evidence)


def digits_run(**overrides: Any) -> TrainingLog:
    """The healthy digits baseline: loss 2.0 -> 0.02, val loss best 0.065 then 0.072."""
    columns: dict[str, Any] = {
        "val_loss": decay(1.9, 0.065, 17) + [0.068, 0.070, 0.072],
        "train_acc": ramp(0.6, 1.0, 20),
        "val_acc": ramp(0.6, 0.978, 20),
        "n_classes": 10,
        "top_class_share": 0.11,
    }
    columns.update(overrides)
    return make_log(decay(2.0, 0.02, 20), **columns)


# healthy and its borderline cases


def test_healthy_digits_run_with_slight_val_uptick_stays_healthy() -> None:
    result = diagnose(digits_run())
    assert result.label == "healthy"
    assert "overfitting" not in dict(result.alternatives)
    assert "0.02" in evidence(result) and "0.072" in evidence(result)
    assert "0.978" in evidence(result)


def test_acc_gap_of_three_points_is_healthy_not_overfitting() -> None:
    result = diagnose(digits_run(train_acc=[1.0] * 20, val_acc=ramp(0.6, 0.97, 20)))
    assert result.label == "healthy"
    assert dict(result.alternatives).get("overfitting", 0) < 0.5


def test_noisy_healthy_step_curve_is_not_unstable() -> None:
    rng = np.random.default_rng(7)
    steps = np.arange(500)
    loss = (0.08 + 2.2 * np.exp(-steps / 80)) * np.exp(rng.normal(0, 0.4, 500))
    result = diagnose(make_log(list(loss), x=tuple(range(1, 501)), x_name="step"))
    assert result.label == "healthy"
    assert dict(result.alternatives).get("unstable", 0) < 0.5
    assert "Train loss fell" in evidence(result)


def test_regression_log_without_accuracy_is_healthy() -> None:
    result = diagnose(make_log(decay(35.0, 0.4, 30)))
    assert result.label == "healthy"
    assert "35" in evidence(result) and "0.4" in evidence(result)


def test_leaky_validation_is_pointed_out() -> None:
    train = decay(2.0, 0.02, 20)
    result = diagnose(make_log(train, val_loss=train, val_acc=ramp(0.6, 0.99, 20), n_classes=10))
    assert "Val loss equals train loss" in evidence(result)


# underfitting


def test_short_log_still_falling_is_underfitting() -> None:
    log = make_log([2.3, 1.6, 1.1, 0.75], val_loss=[2.2, 1.5, 1.05, 0.74], n_classes=10)
    result = diagnose(log)
    assert result.label == "underfitting"
    assert "1.05 -> 0.74" in evidence(result)
    assert "twice as many epochs" in result.next_experiment


def test_accuracy_plateau_with_train_and_val_close_is_underfitting() -> None:
    flat = [0.85] * 10
    log = make_log(
        decay(2.3, 0.9, 10) + flat,
        val_loss=decay(2.2, 0.92, 10) + [0.92] * 10,
        train_acc=ramp(0.3, 0.77, 10) + [0.77] * 10,
        val_acc=ramp(0.3, 0.76, 10) + [0.76] * 10,
        n_classes=10,
    )
    result = diagnose(log)
    assert result.label == "underfitting"
    assert "0.76" in evidence(result)
    assert "optimizer" in result.next_experiment


# overfitting


def test_tiny_subset_is_overfitting() -> None:
    log = make_log(
        decay(2.3, 0.016, 60),
        val_loss=decay(2.2, 0.7, 25) + ramp(0.7, 0.8, 35),
        train_acc=[1.0] * 60,
        val_acc=[0.78] * 60,
        n_classes=10,
    )
    result = diagnose(log)
    assert result.label == "overfitting"
    assert "0.016" in evidence(result) and "0.78" in evidence(result)
    assert "0.22" in evidence(result)  # the accuracy gap


def test_val_loss_rising_from_its_best_is_overfitting() -> None:
    log = make_log([0.9, 0.6, 0.4, 0.3, 0.22, 0.18], val_loss=[0.8, 0.66, 0.63, 0.68, 0.75, 0.82])
    result = diagnose(log)
    assert result.label == "overfitting"
    assert "0.9 -> 0.18" in evidence(result)
    assert "best at epoch 3 (0.63)" in evidence(result)
    assert "rose to about 0.82" in evidence(result)


# unstable


def test_zig_zag_val_loss_is_unstable() -> None:
    log = make_log([1.2, 0.9, 1.5, 1.1], val_loss=[0.9, 3.0, 1.4, 1.9], n_classes=10)
    result = diagnose(log)
    assert result.label == "unstable"
    assert "0.9 -> 3 -> 1.4 -> 1.9" in evidence(result)
    assert "zero_grad" in result.next_experiment


def test_step_loss_saw_tooth_every_epoch_is_unstable() -> None:
    # class-sorted batches: the loss climbs through each epoch and drops when it restarts
    steps = [level * (1 + 3 * i / 40) for level in decay(2.0, 0.05, 20) for i in range(40)]
    log = make_log(decay(2.0, 0.05, 20), val_acc=ramp(0.4, 0.96, 20), n_classes=10, step_loss=steps)
    result = diagnose(log)
    assert result.label == "unstable"
    assert "climbs within 20 of 20 epochs" in evidence(result)
    assert "shuffle=True" in result.next_experiment


def test_noisy_steps_within_healthy_epochs_are_not_a_saw_tooth() -> None:
    rng = np.random.default_rng(3)
    steps = np.repeat(decay(2.0, 0.02, 20), 40) * np.exp(rng.normal(0, 0.5, 800))
    log = make_log(
        decay(2.0, 0.02, 20), val_acc=ramp(0.6, 0.97, 20), n_classes=10, step_loss=list(steps)
    )
    assert diagnose(log).label == "healthy"


def test_small_bump_in_a_falling_curve_is_not_unstable() -> None:
    train = [2.0, 1.5, 1.0, 1.05, 0.8, 0.6, 0.5, 0.45, 0.4, 0.38]
    result = diagnose(make_log(train, val_acc=ramp(0.5, 0.93, 10), n_classes=10))
    assert result.label == "healthy"


# diverged


def test_nan_from_the_first_epoch_is_diverged() -> None:
    result = diagnose(make_log([math.nan] * 20, n_classes=10))
    assert result.label == "diverged"
    assert "NaN at epoch 1" in evidence(result)
    assert "learning rate 10x" in result.next_experiment


def test_loss_blowing_up_in_the_steps_is_diverged() -> None:
    steps = [2.3, 2.1, 1.9] + [50.0 * 3**i for i in range(10)]
    result = diagnose(make_log([2.0], step_loss=steps, grad_norm=[1.0] * 12 + [4.2e3]))
    assert result.label == "diverged"
    assert "2.3" in evidence(result) and "9.84e+05" in evidence(result)
    assert "4.2e+03" in evidence(result)


def test_short_burst_of_huge_step_losses_is_diverged() -> None:
    # Adam at lr 1.0: ten steps in the thousands, then stuck near ln 10 for 800 steps
    steps = [2.27] + [9806.0, 1215.0, 5178.0, 3200.0, 1100.0, 276.0, 130.0, 30.0, 89.0]
    steps += [2.4 + 0.1 * math.sin(i) for i in range(790)]
    log = make_log([2.38] * 20, val_acc=[0.1] * 20, n_classes=10, step_loss=steps)
    result = diagnose(log)
    assert result.label == "diverged"
    assert "ln 10 = 2.30" in evidence(result)


def test_loss_far_above_ln_k_is_diverged() -> None:
    log = make_log([312.0] + [2.4] * 19, val_acc=[0.1] * 20, n_classes=10, top_class_share=1.0)
    result = diagnose(log)
    assert result.label == "diverged"
    assert "312" in evidence(result) and "ln 10 = 2.30" in evidence(result)


def test_train_loss_ending_twice_as_high_is_diverged() -> None:
    result = diagnose(make_log(ramp(0.8, 1.7, 12)))
    assert result.label == "diverged"
    assert "rose from 0.8 to 1.7" in evidence(result)


def test_diverged_status_alone_is_enough() -> None:
    assert diagnose(make_log([2.3, 2.2], status="diverged")).label == "diverged"


# not learning and collapsed


def test_flat_loss_at_ln_k_is_not_learning() -> None:
    log = make_log(ramp(2.307, 2.294, 20), val_acc=around(0.11, 20), n_classes=10)
    result = diagnose(log)
    assert result.label == "not_learning"
    assert "2.31" in evidence(result) and "2.29" in evidence(result)
    assert "ln 10" in evidence(result) and "chance level" in evidence(result)
    assert "single batch" in result.next_experiment


def test_zero_first_layer_gradient_is_not_learning() -> None:
    log = make_log(
        [2.31] * 20,
        val_acc=[0.07] * 20,
        n_classes=10,
        top_class_share=0.4,
        first_layer_grad_norm=[6e-10] * 20,
    )
    result = diagnose(log)
    assert result.label == "not_learning"
    assert "gradient norm is 6e-10" in evidence(result)
    assert "gradient norm" in result.next_experiment


def test_one_class_output_of_a_stuck_model_is_collapsed_with_the_stuck_advice() -> None:
    log = make_log(
        [2.3026] * 20,
        val_acc=[0.07] * 20,
        n_classes=10,
        top_class_share=1.0,
        first_layer_grad_norm=[0.0] * 20,
    )
    result = diagnose(log)
    assert result.label == "collapsed"  # priority: collapsed before not_learning
    assert "100%" in evidence(result) and "gradient norm is 0" in evidence(result)
    assert "gradient norm" in result.next_experiment
    assert "not_learning" in dict(result.alternatives)


def test_chance_accuracy_is_not_learning() -> None:
    log = make_log(
        decay(2.5, 2.2, 10), val_acc=around(0.1, 10), train_acc=[0.11] * 10, n_classes=10
    )
    result = diagnose(log)
    assert result.label == "not_learning"
    assert "Val acc 0.1 is chance level" in evidence(result) and "1/10" in evidence(result)


def test_memorising_labels_the_inputs_cannot_predict_is_not_learning() -> None:
    # labels shuffled apart from their inputs: train climbs, val stays at chance
    log = make_log(
        ramp(2.27, 1.46, 20),
        val_loss=ramp(2.3, 2.81, 20),
        train_acc=ramp(0.1, 0.54, 20),
        val_acc=around(0.09, 20),
        n_classes=10,
    )
    result = diagnose(log)
    assert result.label == "not_learning"
    assert "0.09" in evidence(result) and "train acc reaches 0.54" in evidence(result)
    assert "labels line up with inputs" in result.next_experiment


def test_one_class_predictions_after_learning_is_collapsed() -> None:
    log = make_log(
        [5.0, 2.5, 2.4, 2.35, 2.33], val_acc=[0.1] * 5, n_classes=10, top_class_share=0.97
    )
    result = diagnose(log)
    assert result.label == "collapsed"
    assert "97%" in evidence(result) and "10%" in evidence(result)


def test_collapse_needs_the_top_class_share_or_an_unchanging_val_acc() -> None:
    log = make_log([5.0, 2.5, 2.4, 2.35, 2.33], val_acc=around(0.1, 5), n_classes=10)
    assert diagnose(log).label != "collapsed"


def test_val_acc_at_one_class_share_on_every_row_is_collapsed() -> None:
    # keras_cnn_liver.csv in shared/real_logs: 0.20000000298023224 on all 8 epochs
    log = make_log(decay(2.02, 1.76, 8), val_acc=[0.2] * 8, train_acc=around(0.2, 8))
    result = diagnose(log)
    assert result.label == "collapsed"
    assert "0.2 on every one of the 8 validation rows" in evidence(result)
    assert "bincount" in result.next_experiment
    fitted = make_log(decay(2.0, 0.1, 8), val_acc=[0.78] * 8, train_acc=[1.0] * 8)
    assert diagnose(fitted).label != "collapsed"  # a model that fits its data answers more


# impossible loss, loss floor, crashed


def test_negative_cross_entropy_is_impossible_loss() -> None:
    result = diagnose(make_log([-(28 * 1.9**i) for i in range(20)], n_classes=10))
    assert result.label == "impossible_loss"
    assert "-28" in evidence(result) and "-5.54e+06" in evidence(result)
    assert "criterion(logits, targets)" in result.next_experiment


def test_negative_loss_without_classes_is_impossible_loss() -> None:
    # No K, no accuracy: cross-entropy or MSE alike, a mean of non-negative terms is >= 0.
    result = diagnose(make_log([0.5, 0.1, -0.3, -1.2, -2.5, -4.1, -6.3, -9.0]))
    assert result.label == "impossible_loss"
    said = evidence(result)
    assert "0.5" in said and "-9" in said and "epoch 8" in said
    assert "cross-entropy" in said and "MSE" in said and "never be negative" in said
    assert "criterion(" in result.next_experiment


def test_a_loss_already_negative_at_the_start_without_classes_is_impossible_loss() -> None:
    assert diagnose(make_log(ramp(-1.0, -5.0, 10))).label == "impossible_loss"


def test_rounding_below_zero_without_classes_is_not_impossible() -> None:
    # -0.0005 is a float32 loss of about 0 printed with rounding noise, not a broken loss.
    result = diagnose(make_log([*decay(2.0, 0.01, 9), -0.0005]))
    assert result.label != "impossible_loss"


def test_high_loss_with_high_accuracy_is_loss_floor() -> None:
    loss = [max(v, 1.47) for v in decay(2.3, 1.0, 20)]
    log = make_log(
        loss, val_loss=[v + 0.01 for v in loss], val_acc=ramp(0.5, 0.98, 20), n_classes=10
    )
    result = diagnose(log)
    assert result.label == "loss_floor"
    assert "1.47" in evidence(result) and "0.98" in evidence(result)
    assert "softmax" in result.next_experiment


def test_crash_quotes_the_error_and_reads_it() -> None:
    message = "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'"
    log = make_log(
        [], x=(), status="crashed", error_type="NotImplementedError", error_message=message
    )
    result = diagnose(log)
    assert result.label == "crashed"
    assert "NotImplementedError" in evidence(result) and "'Long'" in evidence(result)
    assert "criterion(logits, targets)" in result.next_experiment


def test_crash_with_an_unknown_error_names_it_in_the_advice() -> None:
    log = make_log([2.3, float("nan")], status="crashed", error_type="KeyError", error_message="")
    result = diagnose(log)
    assert result.label == "crashed"
    assert "KeyError" in evidence(result) and "KeyError" in result.next_experiment


# small and odd logs


@pytest.mark.parametrize("val_acc", [None, [0.95]])
def test_one_row_log_says_it_is_too_little(val_acc: list[float] | None) -> None:
    result = diagnose(make_log([2.1], val_acc=val_acc))
    assert result.label in ("healthy", "underfitting")
    assert "one row" in evidence(result)


def test_empty_log_gets_a_reading() -> None:
    result = diagnose(make_log([]))
    assert result.label == "underfitting" and result.next_experiment
    assert "No train loss" in evidence(result)


def test_all_nan_optional_columns_count_as_missing() -> None:
    plain = diagnose(digits_run(val_loss=None, train_acc=None))
    with_nan = diagnose(digits_run(val_loss=[math.nan] * 20, train_acc=[math.nan] * 20))
    assert with_nan == plain


def test_to_dict_is_plain_json() -> None:
    result = diagnose(make_log([5.0, 2.5, 2.4, 2.35], n_classes=10, top_class_share=0.97))
    data = result.to_dict()
    assert set(data) == {
        "label", "alternatives", "evidence", "next_experiment", "columns", "format"
    }  # fmt: skip
    assert data["columns"] == {} and data["format"] == "engine"
    assert all(set(a) == {"label", "score", "reason"} for a in data["alternatives"])


def test_alternatives_come_with_their_reason() -> None:
    log = make_log([1.2, 0.9, 1.5, 1.1], val_loss=[0.9, 3.0, 1.4, 1.9], n_classes=10)
    data = diagnose(log).to_dict()
    assert data["alternatives"], "this zig-zag run should have runners-up"
    for alternative in data["alternatives"]:
        assert any(char.isdigit() for char in alternative["reason"])  # the numbers behind it
    json.dumps(data, allow_nan=False)


# fuzz: any TrainingLog gets a reading

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-5.0, 5.0),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf]),
)
columns = st.none() | st.lists(values, max_size=60).map(tuple)


@st.composite
def training_logs(draw: st.DrawFn) -> TrainingLog:
    train = draw(st.lists(values, min_size=1, max_size=60).map(tuple))
    same_length = st.lists(values, min_size=len(train), max_size=len(train)).map(tuple)
    return TrainingLog(
        train_loss=train,
        x=draw(same_length | st.lists(values, max_size=5).map(tuple)),
        x_name=draw(st.sampled_from(["epoch", "step"])),
        val_loss=draw(st.none() | same_length | columns),
        train_acc=draw(columns),
        val_acc=draw(st.none() | same_length | columns),
        n_classes=draw(st.none() | st.integers(-3, 1000)),
        step_loss=draw(columns),
        grad_norm=draw(columns),
        first_layer_grad_norm=draw(columns),
        top_class_share=draw(st.none() | values),
        status=draw(st.sampled_from(["completed", "diverged", "stopped", "crashed", "?"])),
        error_type=draw(st.none() | st.text(max_size=20)),
        error_message=draw(st.none() | st.text(max_size=300)),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(training_logs())
def test_any_log_gets_a_label_evidence_and_an_experiment(log: TrainingLog) -> None:
    result = diagnose(log)
    assert result.label in LABELS
    assert result.next_experiment.strip()
    assert 1 <= len(result.evidence) <= 4 and all(s.strip() for s in result.evidence)
    assert all(name in LABELS and name != result.label for name, _ in result.alternatives)
    assert all(0 < score <= 1 for _, score in result.alternatives)
    scores = [score for _, score in result.alternatives]
    assert scores == sorted(scores, reverse=True)
    json.dumps(result.to_dict(), allow_nan=False)


def test_a_run_stopped_early_says_so_with_how_far_it_got() -> None:
    # issue 13: a stopped run was diagnosed as if it had finished
    epochs_seen: list[int] = []

    def count(record: object) -> None:
        if isinstance(record, EpochRecord):
            epochs_seen.append(record.epoch)

    result = train(
        default_config("digits", epochs=20),
        on_event=count,
        should_stop=lambda: len(epochs_seen) >= 3,
    )
    assert result.status == "stopped"
    diagnosis = diagnose(result.training_log())
    assert "stopped early, after 3 of 20 epochs" in diagnosis.evidence[0]
    finished = diagnose(train(default_config("digits", epochs=3)).training_log())
    assert not any("stopped early" in line for line in finished.evidence)
