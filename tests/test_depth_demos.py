"""Lessons 3.3 and 3.4: engine.depth measures what the math predicts, and the two demos
(ui.demos.depth) render their charts from it and follow their widgets."""

from __future__ import annotations

import math

import pytest
from streamlit.testing.v1 import AppTest

from engine.config import ConfigError, default_config
from engine.depth import (
    epochs_for,
    gradient_heatmap,
    signal_through_depth,
    symmetry_after_training,
)
from tests.demo_app import CHART, check, metrics, render_demo

DEEP = {"hidden": (32,) * 20}  # the 20-layer, width-32 MLP of lesson 3.4


# --- signal through depth at initialisation -----------------------------------------------


def test_kaiming_keeps_relu_std_while_half_of_it_halves_it_every_layer() -> None:
    kaiming = signal_through_depth(20, 256, "relu", "kaiming_normal", 1.0)
    half = signal_through_depth(20, 256, "relu", "kaiming_normal", 0.5)
    # Kaiming's variance 2/fan_in keeps E[a²] through a ReLU layer: no drift over 20 layers.
    assert 0.5 < kaiming.activation_std[-1] / kaiming.activation_std[0] < 2
    # Zero biases and ReLU(c z) = c ReLU(z): halving every weight halves every layer's
    # output once more than the layer before, exactly 0.5^l at layer l.
    for layer, (full, halved) in enumerate(
        zip(kaiming.activation_std, half.activation_std, strict=True), start=1
    ):
        assert halved / full == pytest.approx(0.5**layer, rel=1e-3)
    per_layer = (half.activation_std[-1] / half.activation_std[0]) ** (1 / 19)
    assert per_layer == pytest.approx(0.5, abs=0.03)
    assert half.activation_std[-1] < 1e-5 < kaiming.activation_std[-1]
    assert kaiming.saturated is None  # ReLU has no flat tail above 0


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_zero_init_gives_every_hidden_weight_a_zero_gradient(activation: str) -> None:
    profile = signal_through_depth(6, 64, activation, "zeros")
    assert profile.layers == ("fc1", "fc2", "fc3", "fc4", "fc5", "fc6")
    assert profile.grad_norm == (0.0,) * 6
    assert profile.activation_std == (0.0,) * 6  # every unit outputs the same number
    assert profile.loss == pytest.approx(math.log(10), rel=1e-6)  # all logits 0: chance
    if activation == "sigmoid":  # hidden outputs 0.5: only the output layer learns
        assert profile.out_grad_norm > 0.1
    else:  # ReLU(0) = 0 and ReLU'(0) = 0: nothing at all reaches any weight
        assert profile.out_grad_norm == 0.0


def test_tanh_at_five_times_xavier_is_mostly_saturated_as_predicted() -> None:
    large = signal_through_depth(20, 128, "tanh", "xavier", 5.0)
    healthy = signal_through_depth(20, 128, "tanh", "xavier", 1.0)
    assert large.saturated is not None and healthy.saturated is not None
    assert min(large.saturated[1:]) > 0.5 and max(healthy.saturated) < 0.01
    # Xavier with fan_in = fan_out = 128 has width * variance = 1, so a layer's
    # pre-activation is about normal with std 5 x the previous layer's output std;
    # |tanh(z)| > 0.99 where |z| > atanh(0.99).
    for layer in range(5, 20):
        spread = 5 * large.activation_std[layer - 1]
        predicted = math.erfc(math.atanh(0.99) / (spread * math.sqrt(2)))
        assert large.saturated[layer] == pytest.approx(predicted, abs=0.05)
    # Backward through saturated units with 5x weights grows by ~1.7 per layer.
    assert large.grad_norm[0] > 1000 * large.grad_norm[-1]


def test_bad_depth_and_unwatched_activation_are_named() -> None:
    with pytest.raises(ConfigError, match="hidden"):
        signal_through_depth(25, 32)
    with pytest.raises(ValueError, match="activation = 'identity'"):
        signal_through_depth(3, 32, "identity")
    with pytest.raises(ValueError, match="steps = 0 is not allowed"):
        gradient_heatmap(default_config("digits", hidden=(8,)), 0)


# --- symmetry after training --------------------------------------------------------------


def test_zero_init_units_stay_copies_of_each_other() -> None:
    small = {"hidden": (16, 16), "activation": "sigmoid"}
    zeros = symmetry_after_training(default_config("digits", init="zeros", **small), 100)
    random = symmetry_after_training(default_config("digits", init="xavier", **small), 100)
    assert zeros.steps == random.steps == 100
    assert zeros.layers == ("fc1", "fc2") and zeros.first_layer.shape == (16, 64)
    assert zeros.max_distance == (0.0, 0.0)  # symmetry never broken...
    assert min(zeros.mean_norm) > 0.1  # ...though the weights did move
    for distance, norm in zip(random.max_distance, random.mean_norm, strict=True):
        assert distance > 0.5 * norm > 0
    relu = symmetry_after_training(default_config("digits", init="zeros", hidden=(16,)), 40)
    assert relu.mean_norm == (0.0,)  # ReLU: not one hidden weight ever moved


# --- gradient heatmaps --------------------------------------------------------------------


def test_the_loop_runs_exactly_the_steps_asked_for() -> None:
    assert epochs_for(default_config("digits"), 300) == 8  # 1257 examples: 40 batches of 32
    heat = gradient_heatmap(default_config("digits", hidden=(16, 16)), 45)
    assert heat.steps == tuple(range(1, 46)) and len(heat.losses) == 45
    assert heat.layers == ("fc1", "fc2", "out") and heat.grad_norms.shape == (3, 45)
    assert heat.status == "stopped" and heat.val_acc is not None  # inside epoch 2


def test_residual_and_normalised_nets_keep_the_first_layer_gradient() -> None:
    steps = 30
    plain = gradient_heatmap(default_config("digits", activation="sigmoid", **DEEP), steps)
    assert plain.layers[0] == "fc1" and plain.layers[-1] == "out"
    assert plain.grad_norms.shape == (21, steps)
    vanished = float(max(plain.grad_norms[0]))
    assert vanished < 1e-6 * float(min(plain.grad_norms[-1]))  # out keeps its gradient
    for fix in (
        {"activation": "relu", "residual": True},
        {"activation": "sigmoid", "batch_norm": True},
        {"activation": "relu", "layer_norm": True},
    ):
        fixed = gradient_heatmap(default_config("digits", **fix, **DEEP), steps)
        assert float(min(fixed.grad_norms[0])) >= 100 * vanished, fix


# --- the demos ----------------------------------------------------------------------------


def render(function: str) -> AppTest:
    return render_demo("ui.demos.depth", function)


def test_init_demo_draws_each_init_and_follows_its_widgets() -> None:
    app = render("init_demo")
    assert len(app.get(CHART)) == 4  # std, gradient, saturation, the units' weights
    table = app.dataframe[0].value.set_index("initialisation")
    assert len(table) == 8
    assert (table.loc["zeros"].iloc[:4] == 0).all()
    assert table.loc["Xavier uniform × 5 (too large)", "saturated, last layer"] > 0.5
    assert metrics(app)["zeros: largest distance between two units"] == "0"
    assert float(metrics(app)["Xavier uniform: largest distance between two units"]) > 0.5
    assert "every row moved the same way" in app.caption[-1].value

    app.radio(key="demo_3_3_activation").set_value("relu")
    app.slider(key="demo_3_3_depth").set_value(10)
    check(app.run())
    assert len(app.get(CHART)) == 3 and "does not saturate" in app.info[0].value
    relu = app.dataframe[0].value.set_index("initialisation")
    assert "Kaiming uniform × 5 (too large)" in relu.index
    assert relu.loc["Kaiming normal", "activation std, layer 1"] != pytest.approx(
        table.loc["Kaiming normal", "activation std, layer 1"]
    )
    assert "10 ReLU layers" in app.caption[0].value


def test_depth_demo_shows_the_fixes_keeping_the_first_layer_gradient() -> None:
    app = render("depth_demo")
    assert len(app.get(CHART)) == 4  # three heatmaps and the first layer's line
    shown = metrics(app)
    plain = float(shown["plain: median fc1 gradient norm"])
    assert float(shown["residual: median fc1 gradient norm"]) > 100 * plain
    assert float(shown["batch norm: median fc1 gradient norm"]) > 100 * plain
    assert "20 sigmoid layers" in app.caption[0].value

    app.radio(key="demo_3_4_norm").set_value("layer norm")
    check(app.run())
    changed = metrics(app)
    assert "batch norm: val accuracy" not in changed
    assert (
        changed["layer norm: median fc1 gradient norm"]
        != shown["batch norm: median fc1 gradient norm"]
    )
    assert changed["plain: median fc1 gradient norm"] == shown["plain: median fc1 gradient norm"]
