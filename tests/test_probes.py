from __future__ import annotations

from engine.config import default_config
from engine.probes import overfit_one_batch
from engine.variants import apply_variant


def test_a_healthy_loop_memorises_one_batch() -> None:
    result = overfit_one_batch(default_config(), batch_size=32, steps=200)
    assert result.learned and result.losses[-1] < 0.05 < 2.0 < result.losses[0]
    assert result.verdict.startswith("Yes")


def test_a_loop_without_step_cannot() -> None:
    result = overfit_one_batch(apply_variant(default_config(), "no_step"), steps=50)
    assert not result.learned and len(set(result.losses)) == 1
    assert "optimizer" in result.verdict


def test_a_crashing_loop_is_an_answer_not_an_exception() -> None:
    result = overfit_one_batch(apply_variant(default_config(), "swapped_loss_args"))
    assert not result.learned and result.error is not None and "Long" in result.error


def test_a_negative_loss_is_called_impossible() -> None:
    result = overfit_one_batch(
        apply_variant(default_config(), "swapped_loss_args_one_hot"), steps=50
    )
    assert not result.learned and "negative" in result.verdict
