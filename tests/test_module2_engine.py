"""What Module 2's lessons need from the engine, checked by really training and measuring:
activation statistics and weight norms per epoch, the new broken variants, regression MLPs,
boundaries per epoch, the hand-written net, the chain-rule table and the pipeline timer."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from engine import backprop
from engine.activations import ActivationRecorder, activation_curves, weight_norm
from engine.backprop import chain_rule_table
from engine.config import ConfigError, default_config
from engine.diagnosis import diagnose
from engine.from_scratch import scratch_vs_module
from engine.loop import run as run_loop
from engine.pipeline import measure_throughput
from engine.results import RunResult
from engine.snapshots import snapshots
from engine.training import build_parts, train
from engine.variants import apply_variant, get_variant
from engine.variants.model_bugs import UnregisteredMLP

ROOT = Path(__file__).resolve().parent.parent


def run(dataset: str, variant: str | None = None, **settings: Any) -> RunResult:
    config = default_config(dataset, **settings)
    return train(apply_variant(config, variant) if variant else config)


def test_activation_statistics_show_dead_relus_from_a_negative_bias() -> None:
    healthy = run("digits", epochs=2).epochs[-1].activation_stats
    dead = run("digits", "dead_relu", epochs=2).epochs[-1].activation_stats
    assert set(healthy) == {"act1", "act2"}
    assert healthy["act1"]["dead"] < 0.05 and healthy["act1"]["saturated"] is None
    assert dead["act1"]["dead"] > 0.5 and dead["act2"]["dead"] > 0.9
    assert dead["act2"]["mean"] < 0.01 < healthy["act2"]["mean"]


def test_sigmoid_layers_report_saturation_and_hooks_come_off() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid())
    with torch.no_grad():
        model[0].weight.fill_(10.0)  # huge inputs to the sigmoid: pinned near 0 or 1
    with ActivationRecorder(model) as recorder:
        model(torch.cat([torch.ones(5, 4), -torch.ones(5, 4)]))
    stats = recorder.stats()["1"]
    assert stats["saturated"] == 1.0 and stats["dead"] is None
    assert stats["mean"] == pytest.approx(0.5, abs=1e-6)
    assert not model[1]._forward_hooks  # training never pays for the hooks


def test_one_activation_module_shared_by_layers_of_two_widths_is_measured() -> None:
    # unregistered_layers reuses one self.act for the 128- and 64-unit layers
    model = UnregisteredMLP(64, (128, 64), 10, "relu")
    with ActivationRecorder(model) as recorder:
        model(torch.randn(32, 64))
    stats = recorder.stats()["act"]
    assert 0.0 <= stats["dead"] <= 1.0 and stats["std"] > 0


def test_weight_norm_is_the_norm_of_the_weight_matrices_and_decay_shrinks_it() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.Linear(2, 1))
    expected = math.sqrt(sum(float(m.weight.detach().square().sum()) for m in (model[0], model[2])))
    assert weight_norm(model) == pytest.approx(expected)
    plain = run("digits", epochs=5, subset=200, optimizer="adamw")
    decayed = run("digits", epochs=5, subset=200, optimizer="adamw", weight_decay=0.5)
    assert decayed.epochs[-1].weight_norm < plain.epochs[-1].weight_norm
    assert plain.to_dict()["epochs"][-1]["weight_norm"] == pytest.approx(
        plain.epochs[-1].weight_norm
    )


def test_a_stray_detach_freezes_the_first_layer_while_the_loss_falls() -> None:
    config = apply_variant(default_config("digits", epochs=3), "stray_detach")
    parts = build_parts(config)
    first = parts.model.fc1.weight.detach().clone()
    second = parts.model.fc2.weight.detach().clone()
    result = run_loop(parts)
    assert torch.equal(parts.model.fc1.weight, first)
    assert not torch.equal(parts.model.fc2.weight, second)
    assert all(epoch.layer_grad_norms["fc1"] == 0.0 for epoch in result.epochs)
    assert result.epochs[-1].val_acc > 0.85
    diagnosis = diagnose(result.training_log())
    assert diagnosis.label == "frozen_layer"
    assert "gradient norm is 0" in " ".join(diagnosis.evidence)


def test_identity_activations_make_the_mlp_one_linear_map() -> None:
    config = apply_variant(default_config("spirals", epochs=1), "identity_activation")
    model = build_parts(config).model
    a, b = torch.randn(1, 2), torch.randn(1, 2)
    with torch.no_grad():  # f(a + b) + f(0) == f(a) + f(b) holds only for an affine map
        left = model(a + b) + model(torch.zeros(1, 2))
        right = model(a) + model(b)
    assert torch.allclose(left, right, atol=1e-5)


def test_spirals_need_the_nonlinearity() -> None:
    mlp = snapshots(default_config("spirals"), resolution=10)
    flat = snapshots(default_config("spirals", variant="identity_activation"), resolution=10)
    assert mlp.final_val_acc > 0.9 and flat.final_val_acc < 0.6
    assert set(mlp.grid.columns) == {"epoch", "x", "y", "class", "confidence"}
    assert mlp.grid["epoch"].nunique() == 40 and len(mlp.grid) == 40 * 10 * 10


def test_an_mlp_fits_the_wave_that_a_line_cannot() -> None:
    curve = snapshots(default_config("wave"), resolution=20)
    line = snapshots(default_config("wave", variant="identity_activation"), resolution=20)
    assert curve.final_val_loss < 0.05 < 0.3 < line.final_val_loss
    assert list(curve.grid.columns) == ["epoch", "x", "prediction"]
    linear = run("wave", model="linear", hidden=(), epochs=60)
    assert linear.epochs[-1].val_loss > 0.3  # Module 1's model has the same floor


def test_regression_and_classification_models_are_checked() -> None:
    with pytest.raises(ConfigError, match="model = 'cnn'"):
        default_config("wave", model="cnn")
    with pytest.raises(ConfigError, match="model = 'linear'"):
        default_config("digits", model="linear")
    with pytest.raises(ConfigError, match="activation = 'swish'"):
        default_config("digits", activation="swish")


def test_the_lr_variants_follow_the_baseline_optimizer() -> None:
    line = default_config("line")
    too_high = get_variant("lr_too_high")
    assert too_high.code_lines(line) == (
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)",
        "optimizer = torch.optim.SGD(model.parameters(), lr=1.5)",
    )
    assert "Adam(model.parameters(), lr=1.0)" in too_high.code_lines(default_config())[1]
    result = train(apply_variant(line, "lr_too_high"))
    assert result.status == "diverged" and diagnose(result.training_log()).label == "diverged"
    slow = train(apply_variant(line, "lr_too_low"))
    assert diagnose(slow.training_log()).label == "not_learning"


def test_the_hand_written_net_matches_nn_module_to_float_rounding() -> None:
    table = scratch_vs_module(epochs=2)
    assert table["difference"].max() < 1e-5
    assert table["by_hand"].iloc[-10:].mean() < 0.5 * table["by_hand"].iloc[:10].mean()


def test_the_chain_rule_table_matches_autograd() -> None:
    table = chain_rule_table()
    assert table["difference"].max() < 1e-12
    row = table.set_index("node").loc["b2"]
    # d(loss)/d(b2) = 2 (y_hat - y): the output's own gradient
    y_hat = table.set_index("node").loc["y_hat", "value"]
    assert row["by_hand"] == pytest.approx(2 * (y_hat - 1.0))


def test_the_app_works_the_lessons_own_example() -> None:
    source = (ROOT / "lessons" / "programs" / "lesson_2_2.py").read_text(encoding="utf-8")
    constants = dict(re.findall(r"^([A-Z0-9_]+) = (.+?)(?:  #.*)?$", source, flags=re.MULTILINE))
    assert [list(backprop.X)] == ast.literal_eval(constants["X"])
    assert [list(row) for row in backprop.W1] == ast.literal_eval(constants["FC1_WEIGHT"])
    assert list(backprop.B1) == ast.literal_eval(constants["FC1_BIAS"])
    assert [list(backprop.W2)] == ast.literal_eval(constants["OUT_WEIGHT"])
    assert ast.literal_eval(constants["OUT_BIAS"]) == [backprop.B2]


def test_the_pipeline_timer_measures_both_ways_at_every_batch_size() -> None:
    table = measure_throughput(batch_sizes=(16, 256), repeats=1)
    assert sorted(table["batch_size"].unique()) == [16, 256]
    assert table["pipeline"].nunique() == 2
    epoch_s = table["epoch_ms"] / 1000
    n_train = len(build_parts(default_config("digits")).data.train)
    assert (table["examples_per_s"] * epoch_s).round().eq(n_train).all()  # one full epoch


def test_activation_curves_have_the_derivatives_the_lessons_state() -> None:
    curves = activation_curves()
    top = curves.groupby("activation")["derivative"].max()
    assert top["sigmoid"] == pytest.approx(0.25) and top["tanh"] == pytest.approx(1.0)
    relu = curves[curves["activation"] == "relu"]
    assert set(relu["derivative"].round(6)) == {0.0, 1.0}
    leaky = curves[(curves["activation"] == "leaky_relu") & (curves["x"] < 0)]
    assert leaky["derivative"].eq(0.01).all()
    identity = curves[curves["activation"] == "identity"]
    assert identity["derivative"].eq(1.0).all()
