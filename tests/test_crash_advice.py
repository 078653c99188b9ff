"""Crash advice: one table gives a crashed run both its explanation and its next experiment."""

from __future__ import annotations

import ast
import inspect

import pytest
import torch
from torch import nn

import engine.crash_advice
from engine.crash_advice import (
    KNOWN_ERRORS,
    KnownError,
    explain_error,
    find_known_error,
    next_experiment_for_crash,
)
from engine.diagnosis import diagnose
from engine.log_table import TrainingLog


def swapped_loss_arguments_error() -> RuntimeError:
    """The real error PyTorch raises for criterion(targets, logits)."""
    with pytest.raises(RuntimeError) as raised:
        nn.CrossEntropyLoss()(torch.tensor([1, 2]), torch.randn(2, 3))
    return raised.value


def test_swapped_loss_arguments_get_explanation_and_experiment_from_one_entry() -> None:
    error = swapped_loss_arguments_error()
    known = find_known_error(str(error))
    assert known is not None
    explanation = explain_error(error)
    advice = next_experiment_for_crash(type(error).__name__, str(error))
    assert explanation == known.explanation and "swapped" in explanation
    assert advice == known.next_experiment and "criterion(logits, targets)" in advice


def test_the_curve_doctor_gives_a_crash_the_same_experiment() -> None:
    error = swapped_loss_arguments_error()
    kind, message = type(error).__name__, str(error)
    log = TrainingLog(train_loss=(), x=(), status="crashed", error_type=kind, error_message=message)
    result = diagnose(log)
    assert result.label == "crashed"
    assert result.next_experiment == next_experiment_for_crash(kind, message)


def test_an_unknown_error_gets_the_fallback_naming_its_type() -> None:
    error = KeyError("no such column")
    assert find_known_error(str(error)) is None
    assert "KeyError" in explain_error(error)
    advice = next_experiment_for_crash("KeyError", str(error))
    assert "KeyError" in advice and "traceback" in advice


def test_matching_ignores_case() -> None:
    assert explain_error(RuntimeError("CUDA OUT OF MEMORY")) == explain_error(
        RuntimeError("cuda out of memory")
    )


@pytest.mark.parametrize("known", KNOWN_ERRORS, ids=lambda known: known.fragments[0])
def test_every_entry_has_both_texts_and_no_earlier_entry_hides_it(known: KnownError) -> None:
    assert known.explanation.strip() and known.next_experiment.strip()
    for fragment in known.fragments:
        assert find_known_error(f"RuntimeError: {fragment}.") is known, fragment


def test_the_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(inspect.getsource(engine.crash_advice))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= {"__future__", "dataclasses"}


# The message PyTorch gave on an H100 when `unregistered_layers` ran on cuda: the hidden
# layers in a plain list stayed on the CPU while the batch was on the GPU.
DEVICE_MISMATCH = (
    "Expected all tensors to be on the same device, but got mat1 is on cuda:0, different "
    "from other tensors on cpu (when checking argument in method wrapper_CUDA_addmm)"
)


def test_a_device_mismatch_points_at_what_was_not_moved() -> None:
    explanation = explain_error(RuntimeError(DEVICE_MISMATCH))
    advice = next_experiment_for_crash("RuntimeError", DEVICE_MISMATCH)
    assert "ModuleList" in explanation and ".to(device)" in explanation
    assert "p.device" in advice and "ModuleList" in advice
