from __future__ import annotations

import math

import pytest

from engine.config import ConfigError, RunConfig, default_config


def test_default_baseline_matches_the_course() -> None:
    config = default_config()
    assert (config.dataset, config.model, config.hidden) == ("digits", "mlp", (128, 64))
    assert (config.optimizer, config.lr, config.batch_size, config.seed) == ("adam", 1e-3, 32, 42)
    assert default_config("mnist").batch_size == 64


def test_configs_are_hashable_and_equal_by_value() -> None:
    a, b = default_config(), default_config()
    assert a == b and hash(a) == hash(b) and a.key() == b.key()
    assert a.replace(seed=1).key() != a.key()


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("epochs", 0, "from 1 to 200"),
        ("epochs", 5000, "from 1 to 200"),
        ("epochs", 2.5, "an integer"),
        ("batch_size", 100_000, "from 1 to 4096"),
        ("lr", -0.1, "from 1e-08 to 100"),
        ("lr", math.nan, "from 1e-08 to 100"),
        ("dropout", 0.95, "from 0 to 0.9"),
        ("dataset", "imagenet", "one of digits"),
        ("optimizer", "adagrad", "one of adam"),
        ("hidden", (128,) * 40, "up to 24 layer widths"),
        ("hidden", (0,), "each from 1 to 1024"),
        ("shuffle", "yes", "true or false"),
    ],
)
def test_bad_values_name_the_field_the_value_and_the_range(
    field: str, value: object, allowed: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        default_config().replace(**{field: value})
    message = str(caught.value)
    assert message.startswith(f"{field} = {value!r}")
    assert allowed in message
    assert caught.value.field_name == field


def test_round_trip_through_a_plain_dict() -> None:
    config = default_config(hidden=(32, 16), dropout=0.25, variant="lr_too_high")
    assert RunConfig.from_dict(config.to_dict()) == config


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="colour"):
        RunConfig.from_dict({"colour": "blue"})


def test_the_line_dataset_needs_the_linear_model() -> None:
    assert default_config("line").model == "linear"
    with pytest.raises(ConfigError, match="model"):
        default_config("digits", model="linear")
