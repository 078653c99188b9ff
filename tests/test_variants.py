"""Every variant breaks the loop the way the real bug would, and gets its expected diagnosis.

The catalogue fixture trains the baseline and all variants once (same seed, data, weights).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.compare import Comparison, PairedRun
from engine.config import default_config
from engine.diagnosis import LABELS
from engine.results import RunResult
from engine.training import build_parts
from engine.variants import UnknownVariantError, all_variants, apply_variant, get_variant

LN10 = math.log(10)
# Every variant named in shared/FAILURES.md.
FAILURES_IDS = {
    "lr_too_high",
    "lr_too_low",
    "no_shuffle",
    "swapped_loss_args",
    "tiny_subset",
    "no_zero_grad",
    "softmax_before_ce",
    "dropout_in_eval",
    "labels_misaligned",
    "no_step",
    "zero_grad_after_backward",
    "unregistered_layers",
    "mse_for_classification",
    "unnormalized_inputs",
    "zero_init",
    "vanishing_gradients",
    "exploding_gradients",
    "leaky_validation",
    "logging_tensors",
}


def pair(catalogue: Comparison, variant_id: str) -> PairedRun:
    return next(p for p in catalogue.variants if p.variant_id == variant_id)


def val_acc(run: RunResult) -> float:
    return run.epochs[-1].val_acc or 0.0


def test_catalogue_covers_every_documented_failure() -> None:
    assert set(all_variants()) >= FAILURES_IDS
    assert list(all_variants())[:5] == [
        "lr_too_high",
        "lr_too_low",
        "no_shuffle",
        "swapped_loss_args",
        "tiny_subset",
    ]


@pytest.mark.parametrize("variant_id", sorted(all_variants()))
def test_entries_are_complete(variant_id: str) -> None:
    v = get_variant(variant_id)
    for text in (v.title, v.category, v.symptom, v.healthy_code, v.broken_code, v.why, v.fix):
        assert text.strip()
    assert v.healthy_code != v.broken_code
    assert v.expected_label in LABELS and v.lessons
    assert len(v.symptom) <= 90  # one line beside a checkbox


def test_unknown_variant_lists_the_valid_ids() -> None:
    with pytest.raises(UnknownVariantError, match="lr_too_high"):
        get_variant("lr_too_hihg")


@pytest.mark.parametrize("variant_id", sorted(all_variants()))
def test_each_variant_gets_its_expected_diagnosis(catalogue: Comparison, variant_id: str) -> None:
    found = pair(catalogue, variant_id)
    assert found.diagnosis.label == get_variant(variant_id).expected_label, found.diagnosis
    assert found.diagnosis.evidence and found.diagnosis.next_experiment


def test_baseline_is_healthy(catalogue: Comparison) -> None:
    assert catalogue.baseline_diagnosis.label == "healthy"
    assert val_acc(catalogue.baseline) >= 0.95


def test_same_starting_weights_give_the_same_first_loss(catalogue: Comparison) -> None:
    first = catalogue.baseline.steps[0].loss
    for variant_id in (
        "lr_too_high",
        "lr_too_low",
        "no_zero_grad",
        "no_step",
        "unregistered_layers",
        "logging_tensors",
    ):
        assert pair(catalogue, variant_id).result.steps[0].loss == first


def test_lr_too_high_explodes_then_sticks_at_chance(catalogue: Comparison) -> None:
    run = pair(catalogue, "lr_too_high").result
    assert max(s.loss for s in run.steps[:40]) > 100
    assert abs(run.epochs[-1].train_loss - LN10) < 0.3 and val_acc(run) < 0.2


def test_lr_too_low_barely_moves_from_ln_k(catalogue: Comparison) -> None:
    run = pair(catalogue, "lr_too_low").result
    first, last = run.epochs[0].train_loss, run.epochs[-1].train_loss
    assert abs(first - LN10) < 0.05 and 0 < first - last < 0.05


def test_no_shuffle_has_a_worse_start_and_a_saw_tooth(catalogue: Comparison) -> None:
    run = pair(catalogue, "no_shuffle").result
    assert val_acc_at(run, 1) < val_acc_at(catalogue.baseline, 1) - 0.2
    # Saw-tooth: with one class after another, each batch's loss resembles the previous
    # one's, so consecutive step losses are strongly correlated; shuffled batches are not.
    assert batch_to_batch_correlation(run) > 0.4
    assert batch_to_batch_correlation(catalogue.baseline) < 0.2


def batch_to_batch_correlation(run: RunResult) -> float:
    """Median over epochs of the lag-1 autocorrelation of log step loss within the epoch."""
    steps_per_epoch = len(run.steps) // len(run.epochs)
    logs = torch.tensor([math.log(s.loss) for s in run.steps]).reshape(len(run.epochs), -1)
    logs = logs[:, :steps_per_epoch] - logs.mean(dim=1, keepdim=True)
    values = [float(torch.corrcoef(torch.stack([row[:-1], row[1:]]))[0, 1]) for row in logs]
    return float(torch.tensor(values).median())


def val_acc_at(run: RunResult, epoch: int) -> float:
    return run.epochs[epoch - 1].val_acc or 0.0


def test_swapped_loss_args_crash_is_a_result_with_an_explanation(catalogue: Comparison) -> None:
    run = pair(catalogue, "swapped_loss_args").result
    assert run.status == "crashed" and run.error is not None
    assert run.error.type == "NotImplementedError" and "Long" in run.error.message
    assert "swapped" in run.error.explanation


def test_swapped_loss_args_with_one_hot_labels_goes_negative(catalogue: Comparison) -> None:
    run = pair(catalogue, "swapped_loss_args_one_hot").result
    assert run.epochs[0].train_loss < -1 and run.epochs[-1].train_loss < run.epochs[0].train_loss
    onto_one_hot_baseline = apply_variant(default_config(one_hot_labels=True), "swapped_loss_args")
    assert onto_one_hot_baseline.one_hot_labels


def test_tiny_subset_memorises(catalogue: Comparison) -> None:
    run = pair(catalogue, "tiny_subset").result
    assert run.epochs[-1].train_acc == 1.0 and run.epochs[-1].train_loss < 0.05
    assert val_acc(run) < val_acc(catalogue.baseline) - 0.1
    assert run.epochs[-1].val_loss > 5 * catalogue.baseline.epochs[-1].val_loss


def test_no_zero_grad_val_loss_jumps(catalogue: Comparison) -> None:
    run = pair(catalogue, "no_zero_grad").result
    val = [e.val_loss for e in run.epochs]
    rises = [b / a for a, b in zip(val, val[1:], strict=False) if b > a]
    assert len(rises) >= 6 and max(rises) > 2  # up and down, not settling
    assert max(val) > 10 * catalogue.baseline.epochs[-1].val_loss


def test_softmax_before_ce_floors_high_while_accurate(catalogue: Comparison) -> None:
    run = pair(catalogue, "softmax_before_ce").result
    floor = math.log(1 + 9 / math.e)  # a perfect answer after a double softmax
    assert run.epochs[-1].train_loss > floor - 0.01 and val_acc(run) > 0.9


def test_dropout_in_eval_gives_noisy_lower_validation(catalogue: Comparison) -> None:
    found = pair(catalogue, "dropout_in_eval")
    assert found.reference.config.dropout == 0.5 and found.reference is not catalogue.baseline
    assert val_acc(found.result) < val_acc(found.reference)
    parts = build_parts(found.result.config)
    parts.model.load_state_dict(found.result.model.state_dict())
    first = parts.evaluate(parts.model, parts.data.val, parts.loss_fn).loss
    second = parts.evaluate(parts.model, parts.data.val, parts.loss_fn).loss
    assert first != second  # validating twice gives two numbers


def test_labels_misaligned_stays_at_chance(catalogue: Comparison) -> None:
    run = pair(catalogue, "labels_misaligned").result
    assert val_acc(run) < 0.2 and min(e.val_loss for e in run.epochs) > LN10 - 0.1


@pytest.mark.parametrize("variant_id", ["no_step", "zero_grad_after_backward"])
def test_missing_update_leaves_weights_unchanged(catalogue: Comparison, variant_id: str) -> None:
    run = pair(catalogue, variant_id).result
    assert len({e.train_loss for e in run.epochs}) == 1
    fresh = build_parts(run.config).model
    assert all(
        torch.equal(a, b.cpu())  # the run may have trained on a GPU
        for a, b in zip(fresh.state_dict().values(), run.model.state_dict().values(), strict=True)
    )
    if variant_id == "zero_grad_after_backward":
        assert all(s.grad_norm == 0 for s in run.steps)


def test_unregistered_layers_train_only_the_output(catalogue: Comparison) -> None:
    run = pair(catalogue, "unregistered_layers").result
    assert run.parameter_count == 64 * 10 + 10
    assert val_acc(run) < 0.9


def test_zero_init_never_breaks_symmetry(catalogue: Comparison) -> None:
    run = pair(catalogue, "zero_init").result
    assert all(e.layer_grad_norms["fc1"] == 0 for e in run.epochs)
    counts = run.epochs[-1].class_counts or ()
    assert max(counts) == sum(counts)  # one class for every input


def test_vanishing_gradients_starve_the_first_layer(catalogue: Comparison) -> None:
    run = pair(catalogue, "vanishing_gradients").result
    assert run.epochs[-1].layer_grad_norms["fc1"] < 1e-6
    assert abs(run.epochs[-1].train_loss - LN10) < 0.1


def dead_share(run: RunResult) -> float:
    """The mean fraction of dead ReLUs over the layers, on the last epoch's val split."""
    dead = [s["dead"] for s in run.epochs[-1].activation_stats.values() if s["dead"] is not None]
    return sum(dead) / len(dead)


def test_no_warmup_kills_the_relus_the_warm_up_keeps(catalogue: Comparison) -> None:
    found = pair(catalogue, "no_warmup")
    broken, warmed = found.result, found.reference
    assert broken.config.warmup_steps == 0 and warmed.config.warmup_steps == 30
    assert broken.steps[0].loss == warmed.steps[0].loss  # same start, same first batch
    assert val_acc(broken) <= 0.11 and dead_share(broken) > 0.3
    assert val_acc(warmed) >= 0.9 and dead_share(warmed) < 0.1


def test_exploding_gradients_nan_without_clipping_only(catalogue: Comparison) -> None:
    found = pair(catalogue, "exploding_gradients")
    assert found.result.status == "diverged" and found.result.diverged_at_step is not None
    assert found.reference.config.grad_clip == 1.0 and found.reference.status == "completed"
    assert val_acc(found.reference) > 0.9


def test_stray_detach_freezes_the_first_layer_behind_a_falling_loss(catalogue: Comparison) -> None:
    found = pair(catalogue, "stray_detach")
    assert all(e.layer_grad_norms["fc1"] == 0 for e in found.result.epochs)
    assert all(e.layer_grad_norms["fc2"] > 0 for e in found.result.epochs)
    assert val_acc(found.result) > 0.85  # the later layers learn on frozen random features
    assert found.diagnosis.label == "frozen_layer"


def test_dead_relu_switches_off_the_hidden_units(catalogue: Comparison) -> None:
    run = pair(catalogue, "dead_relu").result
    stats = run.epochs[-1].activation_stats
    assert stats["act2"]["dead"] == 1.0 and stats["act1"]["dead"] > 0.5
    assert abs(run.epochs[-1].train_loss - LN10) < 0.1
    healthy = catalogue.baseline.epochs[-1].activation_stats
    assert healthy["act1"]["dead"] < 0.05 and healthy["act2"]["dead"] < 0.2


def test_identity_activation_trains_a_linear_classifier(catalogue: Comparison) -> None:
    run = pair(catalogue, "identity_activation").result
    assert run.config.activation == "identity" and run.epochs[-1].activation_stats == {}
    assert val_acc(run) < val_acc(catalogue.baseline)  # digits are nearly linear: close


def test_leaky_validation_is_identical_to_training(catalogue: Comparison) -> None:
    run = pair(catalogue, "leaky_validation").result
    assert all(e.val_loss == e.train_loss for e in run.epochs)
    assert any("training data" in s for s in pair(catalogue, "leaky_validation").diagnosis.evidence)


GROWTH_SCRIPT = """
from engine.config import default_config
from engine.training import train
from engine.variants import apply_variant
def growth(config):
    run = train(config)
    return run.epochs[-1].memory_mb - run.epochs[0].memory_mb
print(growth(default_config()), growth(apply_variant(default_config(), "logging_tensors")))
"""


def test_logging_tensors_grows_memory(catalogue: Comparison) -> None:
    run = pair(catalogue, "logging_tensors").result
    assert [e.train_loss for e in run.epochs] == [e.train_loss for e in catalogue.baseline.epochs]
    # Resident memory is per process and the allocator reuses what earlier tests freed, so
    # measure in a fresh process: every kept loss holds its autograd graph, a few kB a step.
    finished = subprocess.run(
        [sys.executable, "-c", GROWTH_SCRIPT],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).parent.parent,
    )
    healthy, leaking = map(float, finished.stdout.split())
    assert leaking > 2 and leaking > healthy + 2, (healthy, leaking)


def test_mse_for_classification_trains_on_another_scale(catalogue: Comparison) -> None:
    run = pair(catalogue, "mse_for_classification").result
    assert run.epochs[-1].train_loss < 0.05 and val_acc(run) > 0.9


def test_unnormalized_inputs_still_train_on_digits(catalogue: Comparison) -> None:
    run = pair(catalogue, "unnormalized_inputs").result
    assert run.epochs[0].train_loss != catalogue.baseline.epochs[0].train_loss
    assert val_acc(run) > 0.9
