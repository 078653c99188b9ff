"""The engine options lessons 3.1-3.4 use: each behaves as its math says."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from engine.config import ConfigError, default_config
from engine.models import ResidualMLP, build_model
from engine.optimizers import HandAdam
from engine.training import train

LR = 1e-3


def _quadratic_steps(optimizer_for: type | object, steps: int, **options: object) -> torch.Tensor:
    """Weights after `steps` steps on sum(w^2 * c) from a fixed start (a deterministic test bed)."""
    torch.manual_seed(0)
    weight = nn.Parameter(torch.randn(5))
    curvature = torch.linspace(0.5, 3.0, 5)
    optimizer = optimizer_for([weight], **options)  # type: ignore[operator]
    for _ in range(steps):
        optimizer.zero_grad()
        (curvature * weight**2).sum().backward()
        optimizer.step()
    return weight.detach()


@pytest.mark.parametrize(
    ("torch_class", "decoupled"), [(torch.optim.Adam, False), (torch.optim.AdamW, True)]
)
def test_hand_adam_takes_torchs_steps(torch_class: type, decoupled: bool) -> None:
    options = {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}
    ours = _quadratic_steps(HandAdam, 10, decoupled=decoupled, **options)
    theirs = _quadratic_steps(torch_class, 10, **options)
    assert torch.allclose(ours, theirs, atol=1e-6)


def _first_step(bias_correction: bool) -> float:
    weight = nn.Parameter(torch.tensor([1.0]))
    optimizer = HandAdam([weight], lr=LR, bias_correction=bias_correction)
    weight.grad = torch.tensor([0.37])
    optimizer.step()
    return 1.0 - weight.item()


def test_without_bias_correction_the_first_step_is_about_3_times_lr() -> None:
    # m = 0.1 g and v = 0.001 g^2, so the step is lr * 0.1 / sqrt(0.001) = 3.16 lr.
    assert _first_step(True) == pytest.approx(LR, rel=1e-4)
    assert _first_step(False) == pytest.approx(LR * 0.1 / math.sqrt(0.001), rel=1e-4)


def test_adam_l2_moves_a_gradient_free_weight_by_lr_and_adamw_by_lr_wd_w() -> None:
    moved = {}
    for name, optimizer_class in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        weight = nn.Parameter(torch.tensor([2.0]))
        optimizer = optimizer_class([weight], lr=LR, weight_decay=0.1)
        weight.grad = torch.zeros(1)  # the data says nothing about this weight
        optimizer.step()
        moved[name] = 2.0 - weight.item()
    # Adam + L2: the gradient is wd * w, normalised by its own size: a full lr step.
    assert moved["adam"] == pytest.approx(LR, rel=1e-3)
    # AdamW: w *= 1 - lr * wd, so it moves by lr * wd * w = 2e-4, five times less.
    assert moved["adamw"] == pytest.approx(LR * 0.1 * 2.0, rel=1e-3)


def test_momentum_makes_a_steady_slope_step_lr_over_1_minus_beta() -> None:
    weight = nn.Parameter(torch.tensor([0.0]))
    optimizer = torch.optim.SGD([weight], lr=0.1, momentum=0.9)
    before = 0.0
    for _ in range(200):
        weight.grad = torch.tensor([1.0])  # the same slope every step
        optimizer.step()
        step, before = before - weight.item(), weight.item()
    assert step == pytest.approx(0.1 / (1 - 0.9), rel=1e-3)


def _lrs_per_epoch(**changes: object) -> list[float]:
    result = train(default_config(epochs=6, **changes))
    return [next(s.lr for s in reversed(result.steps) if s.epoch == e.epoch) for e in result.epochs]


def test_step_and_exponential_schedules_count_epochs() -> None:
    assert _lrs_per_epoch(schedule="step", milestones=(2, 4), gamma=0.5) == pytest.approx(
        [LR, LR, LR / 2, LR / 2, LR / 4, LR / 4]
    )
    assert _lrs_per_epoch(schedule="exponential", gamma=0.5) == pytest.approx(
        [LR * 0.5**e for e in range(6)]
    )


def test_warm_up_is_linear_and_one_cycle_peaks_at_lr() -> None:
    warm = train(default_config(epochs=2, warmup_steps=20))
    # The record is taken after the step's tick: step k (from 1) trains at (k)/20 of lr.
    assert [s.lr for s in warm.steps[:3]] == pytest.approx([LR * 2 / 20, LR * 3 / 20, LR * 4 / 20])
    assert warm.steps[30].lr == pytest.approx(LR)
    cycle = [s.lr for s in train(default_config(epochs=4, schedule="onecycle")).steps]
    peak = max(range(len(cycle)), key=cycle.__getitem__)
    assert max(cycle) == pytest.approx(LR, rel=1e-2)
    assert 0.2 < peak / len(cycle) < 0.4  # OneCycleLR rises for 30% of the steps
    assert cycle[-1] < LR / 1e3


def test_plateau_lowers_the_lr_only_when_val_loss_stops_improving() -> None:
    result = train(default_config(epochs=12, lr=0.01, schedule="plateau", plateau_patience=1))
    # The rule, written out: a val loss not better than the best by 0.01% is a bad epoch;
    # more than `patience` bad epochs in a row multiply the lr by gamma (0.1).
    lr, best, bad, expected = 0.01, math.inf, 0, []
    for epoch in result.epochs:
        if epoch.val_loss < best * (1 - 1e-4):
            best, bad = epoch.val_loss, 0
        else:
            bad += 1
        if bad > 1:
            lr, bad = lr * 0.1, 0
        expected.append(lr)
    assert _lr_at_epoch_ends(result) == pytest.approx(expected)
    assert expected[-1] < 0.01  # digits at lr 0.01 stops improving within 12 epochs


def _lr_at_epoch_ends(result: object) -> list[float]:
    # The lr an epoch ends with, after its epoch tick: the next epoch's first step's lr.
    steps = result.steps  # type: ignore[attr-defined]
    firsts = {}
    for record in steps:
        firsts.setdefault(record.epoch, record.lr)
    return [firsts[e] for e in sorted(firsts)][1:] + [steps[-1].lr]


def test_an_epoch_schedule_ticked_per_batch_is_spent_in_the_first_epoch() -> None:
    from engine.variants import apply_variant

    # Six epochs: milestones at epochs 2 and 4; ticked per batch, after batches 2 and 4.
    healthy = train(default_config(epochs=6, schedule="step"))
    per_batch = train(apply_variant(default_config(epochs=6), "schedule_per_batch"))
    assert healthy.steps[39].lr == pytest.approx(LR)  # the last batch of epoch 1
    assert per_batch.steps[39].lr == pytest.approx(LR / 100)
    assert _lr_at_epoch_ends(healthy)[-1] == pytest.approx(LR / 100)


@pytest.mark.parametrize(
    ("init", "expected_std"),
    [("kaiming_normal", math.sqrt(2 / 64)), ("xavier_normal", math.sqrt(2 / (64 + 128)))],
)
def test_normal_inits_draw_the_std_their_math_gives(init: str, expected_std: float) -> None:
    model = build_model(default_config(init=init), (1, 8, 8), 10)
    assert model.fc1.weight.std().item() == pytest.approx(expected_std, rel=0.05)
    assert torch.count_nonzero(model.fc1.bias) == 0


def test_init_scale_multiplies_the_same_initial_weights() -> None:
    plain = build_model(default_config(init="xavier"), (1, 8, 8), 10)
    large = build_model(default_config(init="xavier", init_scale=5.0), (1, 8, 8), 10)
    assert torch.allclose(large.fc2.weight, 5.0 * plain.fc2.weight)


def test_residual_mlp_adds_each_same_width_block_to_its_input() -> None:
    config = default_config(hidden=(32, 32, 32), residual=True)
    residual = build_model(config, (1, 8, 8), 10)
    plain = build_model(config.replace(residual=False), (1, 8, 8), 10)
    assert isinstance(residual, ResidualMLP)
    assert [n for n, _ in residual.named_parameters()] == [n for n, _ in plain.named_parameters()]
    x = torch.randn(4, 1, 8, 8)
    h1 = torch.relu(plain.fc1(x.flatten(1)))  # 64 -> 32: no skip, the shapes differ
    h2 = h1 + torch.relu(plain.fc2(h1))
    h3 = h2 + torch.relu(plain.fc3(h2))
    assert torch.allclose(residual(x), plain.out(h3), atol=1e-6)


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"optimizer": "sgd", "nesterov": True}, "nesterov", "momentum > 0"),
        ({"optimizer": "sgd", "bias_correction": False}, "bias_correction", "adam or adamw"),
        ({"betas": (0.9, 1.5)}, "betas", "each from 0 to 0.9999"),
        ({"betas": (0.9,)}, "betas", "two numbers"),
        ({"eps": 0.0}, "eps", "from 1e-12 to 1"),
        ({"schedule": "step", "milestones": (15, 5)}, "milestones", "increasing epochs"),
        ({"schedule": "step", "milestones": (20,)}, "milestones", "from 1 to 19"),
        ({"milestones": (5,)}, "milestones", "unless the schedule is step"),
        ({"gamma": 0.5}, "gamma", "step, exponential, plateau"),
        ({"schedule": "onecycle", "warmup_steps": 10}, "warmup_steps", "warms up by itself"),
        ({"init_scale": -1.0}, "init_scale", "from 0 to 100"),
        ({"model": "cnn", "residual": True}, "residual", "unless the model is mlp"),
        ({"hidden": (8,) * 25}, "hidden", "up to 24 layer widths"),
    ],
)
def test_bad_new_settings_name_the_field_and_what_is_allowed(
    changes: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=field) as raised:
        default_config(**changes)
    assert raised.value.field_name == field and says in str(raised.value)


def test_new_settings_survive_the_dict_round_trip() -> None:
    config = default_config(
        schedule="step", milestones=(3, 9), gamma=0.3, betas=(0.8, 0.95), init_scale=0.5
    )
    assert type(config).from_dict(config.to_dict()) == config
