"""engine.scale: the 6ND rule, bytes per parameter, memory and days, on worked examples."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest

from engine.scale import (
    OPTIMIZERS,
    PARTS,
    PRECISIONS,
    bytes_per_parameter,
    gpus_to_hold,
    training_days,
    training_flops,
    training_memory_gb,
)


def test_six_n_d_on_a_7b_model_and_2t_tokens() -> None:
    assert training_flops(7e9, 2e12) == pytest.approx(8.4e22, rel=1e-12)
    assert training_flops(1, 1) == 6


@pytest.mark.parametrize(
    ("optimizer", "precision", "parts"),
    [
        ("adam", "float32", {"weights": 4, "gradients": 4, "optimizer_state": 8}),
        ("adam", "mixed", {"weights": 2, "gradients": 2, "optimizer_state": 8, "master_copy": 4}),
        ("sgd", "float32", {"weights": 4, "gradients": 4}),
        ("sgd_momentum", "float32", {"weights": 4, "gradients": 4, "optimizer_state": 4}),
        ("sgd", "mixed", {"weights": 2, "gradients": 2, "master_copy": 4}),
    ],
)
def test_bytes_per_parameter_by_part(optimizer: str, precision: str, parts: dict) -> None:
    expected = dict.fromkeys(PARTS, 0) | parts
    assert bytes_per_parameter(optimizer, precision) == expected


def test_adam_costs_16_bytes_a_parameter_in_float32_and_in_mixed_precision() -> None:
    totals = {p: sum(bytes_per_parameter("adam", p).values()) for p in PRECISIONS}
    assert totals == {"float32": 16, "mixed": 16}
    assert [sum(bytes_per_parameter(o).values()) for o in OPTIMIZERS] == [8, 12, 16]


def test_a_7b_model_with_adam_needs_112_gb_and_two_80_gb_gpus() -> None:
    for precision in PRECISIONS:
        assert training_memory_gb(7e9, "adam", precision) == pytest.approx(112.0)
    assert training_memory_gb(7e9, "sgd") == pytest.approx(56.0)
    assert gpus_to_hold(112.0) == 2
    assert gpus_to_hold(80.0) == 1
    assert gpus_to_hold(80.1) == 2


def test_training_days_divides_the_flops_by_the_sustained_rate() -> None:
    # 8.4e22 FLOPs on 1024 H100s at 40% of 989e12: 8.4e22 / 4.051e17 = 207,359 s = 2.40 days
    days = training_days(7e9, 2e12, gpus=1024)
    assert days == pytest.approx(8.4e22 / (1024 * 989e12 * 0.4) / 86_400, rel=1e-12)
    assert days == pytest.approx(2.40, abs=0.005)
    # twice the GPUs or twice the utilization: half the days
    assert training_days(7e9, 2e12, gpus=2048) == pytest.approx(days / 2)
    assert training_days(7e9, 2e12, gpus=1024, utilization=0.8) == pytest.approx(days / 2)
    assert training_days(1e9, 1e12, gpus=1, flops_per_gpu=1e12, utilization=1.0) == (
        pytest.approx(6e21 / 1e12 / 86_400)
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: training_flops(0, 1e12), "parameters = 0 is not allowed: expected a positive"),
        (lambda: training_flops(7e9, -1.0), "tokens = -1.0 is not allowed"),
        (lambda: training_flops(math.nan, 1.0), "parameters = nan"),
        (lambda: bytes_per_parameter("lion"), "optimizer = 'lion' is not allowed: expected one"),
        (lambda: bytes_per_parameter("adam", "fp8"), "precision = 'fp8' is not allowed"),
        (lambda: training_memory_gb(-5, "adam"), "parameters = -5 is not allowed"),
        (lambda: training_days(7e9, 2e12, gpus=0), "gpus = 0 is not allowed: expected a whole"),
        (lambda: training_days(7e9, 2e12, gpus=2.5), "gpus = 2.5"),
        (lambda: training_days(7e9, 2e12, 8, utilization=1.5), "utilization = 1.5 is not allowed"),
        (lambda: training_days(7e9, 2e12, 8, utilization=0), "utilization = 0 is not allowed"),
        (lambda: gpus_to_hold(100, gpu_memory_gb=0), "gpu_memory_gb = 0"),
    ],
)
def test_bad_input_names_the_argument_the_value_and_what_is_allowed(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        call()
