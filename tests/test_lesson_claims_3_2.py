"""Lesson 3.2: every number and formula the text states, checked by running code.

The lesson's program and exercise 3 (whose picks the text cites) start in the background
when this module begins (one process each, on the CPU, without the app on the path); the
tests that read what they print come last. Each schedule's formula is checked against the
real torch.optim.lr_scheduler class over whole runs, with settings beyond the program's.
"""

from __future__ import annotations

import math
import re
import tomllib
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

from engine.config import default_config
from engine.data import load_data
from engine.models import build_model
from engine.results import RunResult
from engine.training import train
from engine.variants import apply_variant
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    assert_says,
    check_stands_alone,
    flat_lesson_text,
    lesson_section,
    lesson_text,
    load_module,
)

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_3_2.py"
EXERCISE_3 = ROOT / "lessons" / "solutions" / "lesson_3_2_ex3.py"
RAW = lesson_text("3.2")  # as written, program not expanded
TEXT = flat_lesson_text("3.2")  # line breaks as spaces
LESSON = load_lesson(lesson_path("3.2"))
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def programs_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"3.2": PROGRAM, "3.2 exercise 3": EXERCISE_3}, 60))
    yield
    _runs.pop().stop()


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return load_module(PROGRAM, "lesson_3_2_program")


in_text = partial(assert_says, TEXT)


def fragments() -> list[str]:
    return re.findall(r"```python\n(.*?)```", lesson_section("3.2", "In depth"), re.S)


def lr_by_tick(
    make: Callable[[torch.optim.Optimizer], object],
    ticks: int,
    base_lr: float = 0.1,
    val_losses: list[float] | None = None,
) -> list[float]:
    """The lr in force at each tick of a real scheduler (optimizer.step() first)."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base_lr)
    scheduler = make(optimizer)
    used = []
    for tick in range(ticks):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if val_losses is not None:
            scheduler.step(val_losses[tick])
        else:
            scheduler.step()
    return used


# ---------------------------------------------------------------- the formulas as stated


def step_decay(e: int, lr0: float, gamma: float, milestones: list[int]) -> float:
    return lr0 * gamma ** sum(m <= e for m in milestones)


def cosine(t: int, lr0: float, total: int, lr_min: float = 0.0) -> float:
    return lr_min + 0.5 * (lr0 - lr_min) * (1 + math.cos(math.pi * t / total))


def warmup_then_cosine(t: int, lr0: float, warmup: int, total: int) -> float:
    if t < warmup:
        return lr0 * (t + 1) / warmup
    return 0.5 * lr0 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))


def one_cycle(t: int, lr_max: float, total: int) -> float:
    def c(a: float, b: float, p: float) -> float:
        return b + 0.5 * (a - b) * (1 + math.cos(math.pi * p))

    t1 = 0.3 * total - 1
    if t <= t1:
        return c(lr_max / 25, lr_max, t / t1)
    return c(lr_max, lr_max / (25 * 1e4), (t - t1) / (total - 1 - t1))


def plateau(losses: list[float], lr0: float, gamma: float, patience: int) -> list[float]:
    """The lr in force at each epoch under the lesson's rule."""
    lr, best, bad, used = lr0, math.inf, 0, []
    for loss in losses:
        used.append(lr)
        if loss < best * (1 - 1e-4):
            best, bad = loss, 0
        else:
            bad += 1
        if bad > patience:  # more than P epochs in a row without a better loss
            lr, bad = lr * gamma, 0
    return used


FORMULAS: dict[str, Callable[[int], float]] = {  # the program's six schedules, base lr 0.1
    "step": lambda e: step_decay(e, 0.1, 0.1, [10, 20]),
    "exponential": lambda e: 0.1 * 0.9**e,
    "cosine": lambda t: cosine(t, 0.1, 100),
    "warmup_cosine": lambda t: warmup_then_cosine(t, 0.1, 10, 100),
    "onecycle": lambda t: one_cycle(t, 0.1, 100),
}


# ---------------------------------------------------------------- the page


def test_front_matter_is_the_one_the_brief_gives() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert (meta["id"], meta["module"], meta["title"]) == ("3.2", 3, "Learning-rate scheduling")
    assert meta["variants"] == ["schedule_per_batch", "no_warmup", "lr_too_high", "lr_too_low"]
    assert meta["baseline"] == {"dataset": "digits"}
    assert LESSON.variants == tuple(meta["variants"])


def test_try_it_describes_the_baseline_and_asks_for_a_prediction() -> None:
    # "the course's digits MLP (Adam at lr 10^-3, batch 32, 20 epochs)"
    baseline = LESSON.baseline
    assert (baseline.dataset, baseline.model, baseline.hidden) == ("digits", "mlp", (128, 64))
    assert (baseline.optimizer, baseline.lr, baseline.batch_size) == ("adam", 1e-3, 32)
    assert baseline.epochs == 20 and baseline.schedule == "constant"
    try_it = LESSON.sections["Try it"]
    in_text("(Adam at lr $10^{-3}$, batch 32, 20 epochs)", "`lr_too_low`: Adam at lr $10^{-6}$.")
    for variant in ("schedule_per_batch", "lr_too_high", "lr_too_low"):
        assert f"- `{variant}`:" in try_it
    assert "predict each curve's fate" in try_it and "Before **Train** unlocks" in try_it
    assert not re.search(r"\d[.,]\d", try_it)  # the demo's numbers are not measured yet


def test_lr_too_low_is_adam_at_1e_6() -> None:
    broken = apply_variant(default_config("digits"), "lr_too_low")
    assert (broken.optimizer, broken.lr) == ("adam", 1e-6)


def test_schedule_per_batch_is_a_step_decay_in_epochs() -> None:
    # "a step decay written with milestones in epochs (the rate divided by 10 at two
    # milestones)"; the stepping inside the batch loop is the variant's own behaviour.
    broken = apply_variant(default_config("digits"), "schedule_per_batch")
    assert broken.schedule == "step"
    gamma = broken.gamma if broken.gamma is not None else 0.1
    milestones = broken.milestones or (broken.epochs // 3, 2 * broken.epochs // 3)
    assert gamma == 0.1 and len(set(milestones)) == 2


def test_lr_too_high_is_adam_at_1() -> None:
    in_text("`lr_too_high`: Adam at lr $1$, a thousand times the baseline's.")
    broken = apply_variant(default_config("digits"), "lr_too_high")
    assert (broken.optimizer, broken.lr) == ("adam", 1.0)


def test_warm_up_makes_no_difference_to_sgd_with_momentum_on_the_digits() -> None:
    # "SGD with momentum 0.9 at lr 0.03 ... reaches over 0.95 validation accuracy with
    # and without a 200-step warm-up."
    in_text("SGD with momentum 0.9 at lr 0.03", "over 0.95 validation accuracy", "200-step warm-up")
    sgd = default_config("digits", optimizer="sgd", lr=0.03, momentum=0.9)
    for warmup in (0, 200):
        result = train(sgd.replace(warmup_steps=warmup))
        assert result.epochs[-1].val_acc > 0.95


def test_warm_up_tames_the_first_epoch_of_a_deep_batch_norm_net() -> None:
    # "without warm-up, the validation loss after the first epoch was above 700 ... With a
    # 50-step warm-up it never went above 10. Twenty epochs later, both runs were above
    # 0.95 validation accuracy."
    in_text("six-layer MLP with batch norm", "momentum 0.9 at lr 2.0 on batches of 256")
    in_text("after the first epoch was above 700", "50-step warm-up it never went above 10")
    deep = default_config(
        "digits", hidden=(128,) * 6, batch_norm=True, optimizer="sgd", momentum=0.9
    ).replace(lr=2.0, batch_size=256, epochs=20)
    cold, warm = train(deep), train(deep.replace(warmup_steps=50))
    assert cold.epochs[0].val_loss > 700
    assert max(record.val_loss for record in warm.epochs) < 10
    assert cold.epochs[-1].val_acc > 0.95 and warm.epochs[-1].val_acc > 0.95


def dead_share(run: RunResult) -> float:
    """The mean fraction of ReLUs silent on every validation image, after the last epoch."""
    dead = [s["dead"] for s in run.epochs[-1].activation_stats.values() if s["dead"] is not None]
    return sum(dead) / len(dead)


def test_without_warm_up_the_deep_layer_norm_net_collapses_on_every_seed() -> None:
    # "On each of the five seeds we tried, the run ended at chance, 0.10 validation
    # accuracy, with more than 40% of its ReLUs silent ... With a 30-step warm-up, the same
    # network reached between 0.90 and 0.97, with under 5% of its ReLUs silent."
    in_text("twelve hidden layers of 128 units", "peak rate of 0.0075 on batches of 80")
    in_text("ended at chance, 0.10 validation accuracy", "more than 40% of its ReLUs silent")
    in_text("30-step warm-up, the same network reached between 0.90 and 0.97")
    warmed = apply_variant(default_config("digits"), "no_warmup").replace(warmup_steps=30)
    assert warmed.hidden == (128,) * 12 and warmed.layer_norm and warmed.epochs == 5
    for seed in (42, 1, 2, 3, 4):
        cold = train(warmed.replace(seed=seed, warmup_steps=0))
        assert round(cold.epochs[-1].val_acc, 2) == 0.10 and dead_share(cold) > 0.4, seed
        warm = train(warmed.replace(seed=seed))
        assert 0.90 <= warm.epochs[-1].val_acc <= 0.97 and dead_share(warm) < 0.05, seed


def test_the_margin_is_narrow_either_side_of_the_peak_rate() -> None:
    # "At half the peak rate, the run without warm-up escapes the collapse but is still below
    # 0.8 after 5 epochs; at twice the rate, even the warmed-up run falls behind."
    in_text("half the peak rate", "still below 0.8 after 5 epochs", "even the warmed-up run")
    warmed = apply_variant(default_config("digits"), "no_warmup").replace(warmup_steps=30)
    half_cold = train(warmed.replace(lr=warmed.lr / 2, warmup_steps=0))
    assert 0.2 < half_cold.epochs[-1].val_acc < 0.8
    double_warm = train(warmed.replace(lr=warmed.lr * 2))
    assert double_warm.epochs[-1].val_acc < train(warmed).epochs[-1].val_acc - 0.1


def test_adams_first_step_moves_every_weight_with_a_gradient_by_the_full_rate() -> None:
    # "the first step moves every weight that has a gradient, about nine in ten, by the full
    # 0.0075, each in the direction its own gradient points"
    in_text("moves every weight that has a gradient, about nine in ten, by the full 0.0075")
    config = apply_variant(default_config("digits"), "no_warmup")
    data = load_data(config)
    model = build_model(config, data.input_shape, data.n_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    before = [p.detach().clone() for p in model.parameters()]
    batch = data.train.inputs[: config.batch_size], data.train.targets[: config.batch_size]
    nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    optimizer.step()
    after = model.parameters()
    moves = torch.cat([(p.detach() - b).flatten() for p, b in zip(after, before, strict=True)])
    has_gradient = grads != 0
    assert 0.85 <= has_gradient.float().mean() <= 0.95  # about nine in ten
    full = torch.isclose(moves.abs(), torch.tensor(config.lr), rtol=0.01)
    # All but the tiniest gradients (near Adam's eps of 1e-8, which damps their step).
    assert (full & (moves.sign() == -grads.sign()))[has_gradient].float().mean() > 0.99
    assert (moves[~has_gradient] == 0).all()


def test_summary_is_one_short_paragraph() -> None:
    assert "\n\n" not in LESSON.summary.strip() and len(LESSON.summary.split()) <= 90


# ---------------------------------------------------------------- the math, against torch


def test_step_decay_formula_is_multisteplr() -> None:
    for milestones, gamma in (([10, 20], 0.1), ([3, 7, 8], 0.5)):
        got = lr_by_tick(
            lambda o, m=milestones, g=gamma: lr_scheduler.MultiStepLR(o, m, gamma=g), 30
        )
        for e, lr in enumerate(got):
            assert math.isclose(lr, step_decay(e, 0.1, gamma, milestones), rel_tol=1e-9)
    got = lr_by_tick(lambda o: lr_scheduler.MultiStepLR(o, [10, 20], gamma=0.1), 30)
    assert {round(lr, 9) for lr in got[:10]} == {0.1} and {round(lr, 9) for lr in got[10:20]} == {
        0.01
    }
    assert {round(lr, 9) for lr in got[20:]} == {0.001}
    in_text("$\\eta_0$ for epochs 0-9, $\\eta_0/10$ for 10-19, $\\eta_0/100$ from 20 on")


def test_exponential_formula_is_exponentiallr() -> None:
    for gamma in (0.9, 0.5):
        got = lr_by_tick(lambda o, g=gamma: lr_scheduler.ExponentialLR(o, gamma=g), 25)
        for e, lr in enumerate(got):
            assert math.isclose(lr, 0.1 * gamma**e, rel_tol=1e-9)
    assert f"{0.9**10:.2f}" == "0.35"
    in_text("$0.9^{10} \\approx 0.35$ of $\\eta_0$ after 10 epochs")


def test_cosine_formula_is_cosineannealinglr_and_halfway_at_t_over_2() -> None:
    for total, lr_min in ((100, 0.0), (37, 0.01)):
        got = lr_by_tick(
            lambda o, n=total, m=lr_min: lr_scheduler.CosineAnnealingLR(o, n, m), total + 1
        )
        for t, lr in enumerate(got):
            assert math.isclose(lr, cosine(t, 0.1, total, lr_min), rel_tol=1e-6, abs_tol=1e-12)
    assert math.isclose(cosine(50, 0.1, 100, 0.02), (0.1 + 0.02) / 2)
    drops = [cosine(t, 1.0, 100) - cosine(t + 1, 1.0, 100) for t in range(100)]
    assert drops.index(max(drops)) in (49, 50) and drops[0] < drops[49] > drops[-1]
    in_text("It falls slowly at first, fastest in the middle, slowly again at the end.")


def test_warmup_cosine_formula_is_the_lambdalr_factor_and_the_shown_fragment(
    program: ModuleType,
) -> None:
    fragment = next(f for f in fragments() if f.startswith("def warmup_cosine("))
    space: dict[str, object] = {"math": math, "Callable": Callable}
    exec(fragment, space)
    for warmup, total in ((10, 100), (5, 37)):
        for factor in (program.warmup_cosine(warmup, total), space["warmup_cosine"](warmup, total)):
            got = lr_by_tick(lambda o, f=factor: lr_scheduler.LambdaLR(o, f), total)
            for t, lr in enumerate(got):
                assert math.isclose(lr, warmup_then_cosine(t, 0.1, warmup, total), rel_tol=1e-12)
            assert math.isclose(got[0], 0.1 / warmup) and math.isclose(got[warmup - 1], 0.1)
    in_text(
        "the first step use $\\eta_0/W$ rather than 0,",
        "and the rate reaches $\\eta_0$ on step $W - 1$",
    )


def test_one_cycle_formula_is_onecyclelr() -> None:
    for total, lr_max in ((100, 0.1), (450, 0.02)):
        got = lr_by_tick(
            lambda o, m=lr_max, n=total: lr_scheduler.OneCycleLR(o, m, total_steps=n), total
        )
        for t, lr in enumerate(got):
            assert math.isclose(lr, one_cycle(t, lr_max, total), rel_tol=1e-9)
        assert got.index(max(got)) == round(0.3 * total - 1)  # t_1 = 0.3 T - 1
        assert math.isclose(got[0], lr_max / 25) and math.isclose(got[-1], lr_max / 25 / 1e4)
    in_text("$t_1 = 0.3\\,T - 1$", "`pct_start=0.3`")


def test_plateau_rule_is_reducelronplateau() -> None:
    sequences = [
        [1.0, 0.8, 0.7, 0.72, 0.71, 0.70, 0.73, 0.65, 0.66, 0.66, 0.66, 0.66],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        [1.0, 0.99995, 0.9999, 0.9998, 0.99, 0.98, 0.985, 0.99, 0.97, 0.975],  # the threshold
    ]
    for losses in sequences:
        for patience in (0, 1, 2, 3):
            got = lr_by_tick(
                lambda o, p=patience: lr_scheduler.ReduceLROnPlateau(o, factor=0.1, patience=p),
                len(losses),
                val_losses=losses,
            )
            assert got == pytest.approx(plateau(losses, 0.1, 0.1, patience), rel=1e-9)
    in_text("for more than } P \\text{ epochs in a row}", "by a relative $10^{-4}$ to count")


def test_momentum_velocity_grows_towards_ten_times_the_gradient() -> None:
    mu, lr, g = 0.9, 0.01, 2.0
    theta = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=mu)
    for t in range(60):
        before = theta.item()
        optimizer.zero_grad()
        (g * theta).sum().backward()  # a constant gradient g
        optimizer.step()
        step = before - theta.item()  # eta * v_t
        assert math.isclose(step, lr * g * (1 - mu ** (t + 1)) / (1 - mu), rel_tol=1e-9)
    assert math.isclose(step, 10 * lr * g, rel_tol=0.01)  # eta g / (1 - mu)
    in_text("ten times $\\eta g$ for $\\mu = 0.9$", "grows towards ten times $\\eta g$")


def test_a_fresh_adam_moves_every_weight_with_a_gradient_by_about_lr() -> None:
    torch.manual_seed(0)
    weight = nn.Parameter(torch.randn(200))
    start = weight.detach().clone()
    optimizer = torch.optim.Adam([weight], lr=0.01)
    scales = torch.logspace(-4, 2, 200)  # gradients of very different sizes
    (scales * torch.randn(200).sign() * weight).sum().backward()
    optimizer.step()
    moved = (weight.detach() - start).abs()
    assert torch.allclose(moved, torch.full_like(moved, 0.01), rtol=1e-3)
    in_text("every weight with a gradient moves by about $\\eta$")


def test_range_test_sweep_and_smoothing(program: ModuleType) -> None:
    lo, hi, n = program.LR_LOW, program.LR_HIGH, program.RANGE_STEPS
    assert (lo, hi, n, program.BETA, program.STOP_FACTOR) == (1e-6, 1.0, 100, 0.9, 4.0)
    rates = [lo * (hi / lo) ** (t / (n - 1)) for t in range(n)]
    assert math.isclose(rates[-1], hi) and f"{(1e6) ** (1 / 99):.2f}" == "1.15"
    assert all(math.isclose(b / a, 1e6 ** (1 / 99)) for a, b in zip(rates, rates[1:], strict=False))
    beta, losses, average = 0.9, [2.3, 2.1, 2.5, 1.9], 0.0
    for t, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        smoothed = average / (1 - beta ** (t + 1))
        if t == 0:
            assert math.isclose(smoothed, losses[0])  # L-hat_0 = L_0
        weights = [beta ** (t - i) for i in range(t + 1)]  # a weighted average of the losses
        assert math.isclose(
            smoothed, sum(w * x for w, x in zip(weights, losses, strict=False)) / sum(weights)
        )
    assert 1 / (1 - beta) == pytest.approx(10)  # "roughly the last 10 steps"
    in_text(
        "each step multiplies the rate by $(10^6)^{1/99} \\approx 1.15$",
        "multiply the rate by 1.15",
        "more than 4 times its lowest",
        "about $\\ln 10 \\approx 2.303$ for 10 classes",
    )
    assert f"{math.log(10):.3f}" == "2.303"


# ---------------------------------------------------------------- In depth: the clock


def test_epoch_schedules_stepped_per_batch_run_45_times_too_fast() -> None:
    # 1,437 digits in batches of 32: 45 batches per epoch; milestones 10 and 20 pass 20
    # batches into the first epoch; ExponentialLR(0.9) per batch: 0.9^45 ~ 0.0087 an epoch
    assert math.ceil(1437 / 32) == 45
    got = lr_by_tick(lambda o: lr_scheduler.MultiStepLR(o, [10, 20], gamma=0.1), 46)
    assert math.isclose(got[19], 0.01) and math.isclose(got[20], 0.001)
    assert math.isclose(got[45], 0.1 / 100)  # the whole second epoch at eta_0 / 100
    got = lr_by_tick(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), 91)
    assert math.isclose(got[45] / got[0], 0.9**45) and f"{0.9**45:.4f}" == "0.0087"
    in_text(
        "With 1,437 training digits in batches of 32 there are 45 batches per epoch",
        "passes both milestones 20 batches into the first epoch",
        "multiplies the rate by $0.9^{45} \\approx 0.0087$ every epoch",
        "- [x] 0.001: both milestones passed during the first epoch.",
    )


def test_a_step_counted_cosine_stepped_per_epoch_hardly_moves() -> None:
    epochs, total = 20, 20 * 45
    got = lr_by_tick(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=total), epochs + 1)
    assert got[-1] > 0.99 * 0.1
    in_text("a step-counted cosine stepped per epoch hardly moves from its peak")


def test_onecycle_raises_when_stepped_past_total_steps() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=20)
    for _ in range(20):
        optimizer.step()
        scheduler.step()  # total_steps calls are fine
    optimizer.step()
    with pytest.raises(ValueError, match="total steps is 20"):
        scheduler.step()
    in_text("stepped more than `total_steps` times, it raises a `ValueError`")


def test_scheduler_before_optimizer_warns_and_skips_the_first_value() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[1], gamma=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler.step()
        used = optimizer.param_groups[0]["lr"]
        optimizer.step()
    assert any("before `optimizer.step()`" in str(w.message) for w in caught)
    assert math.isclose(used, 0.01)  # the first step never saw 0.1
    in_text("makes PyTorch warn, and skips the first value of the schedule")


def test_the_multisteplr_fragment_runs_and_ends_at_a_hundredth(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fragment = next(f for f in fragments() if f.startswith("optimizer = torch.optim.SGD("))
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    loader = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(2)]
    space = {"torch": torch, "lr_scheduler": lr_scheduler, "model": model}
    space |= {"train_loader": loader, "loss_fn": nn.CrossEntropyLoss()}
    exec(fragment, space)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 30 and space["optimizer"].param_groups[0]["lr"] == pytest.approx(1e-3)
    assert printed[8].startswith("8 [0.1") and printed[9].startswith("9 [0.01")


def test_the_constructor_fragment_builds_each_scheduler_on_its_clock(program: ModuleType) -> None:
    fragment = next(f for f in fragments() if f.startswith("lr_scheduler.ExponentialLR("))
    lines = [line for line in fragment.splitlines() if line.strip()]
    assert len(lines) == 5
    clocks = {"ExponentialLR": "per epoch", "CosineAnnealingLR": "per batch"}
    clocks |= {"LambdaLR": "per batch", "OneCycleLR": "per batch"}
    clocks |= {"ReduceLROnPlateau": "scheduler.step(val_loss)"}
    for line in lines:
        optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
        space = {"lr_scheduler": lr_scheduler, "optimizer": optimizer}
        space |= {"total_steps": 100, "warmup": 10, "warmup_cosine": program.warmup_cosine}
        scheduler = eval(line.split("#")[0], space)
        name = type(scheduler).__name__
        assert clocks[name] in line.split("#")[1], line


# ---------------------------------------------------------------- the program and exercise 3


def test_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "math", "collections", "torch", "sklearn"}
    source = PROGRAM.read_text(encoding="utf-8")
    assert LESSON.programs == (PROGRAM,)
    assert source.rstrip() in LESSON.sections["In depth"]
    assert "fetch_" not in source and "download=True" not in source  # offline
    in_text(
        "trains it for 5 epochs with the suggested rate, with 100 times less and with 10 times more"
    )


def test_programs_settings_are_the_ones_the_lesson_states(program: ModuleType) -> None:
    assert (program.BASE_LR, program.N_TRAIN, program.BATCH_SIZE, program.EPOCHS) == (
        0.1,
        1437,
        32,
        5,
    )
    in_text("From $\\eta_0 = 0.1$:", "with Adam (batch 32)")


def program_output() -> str:
    return _runs[-1].output("3.2")


def printed_schedules() -> dict[str, dict[int, float]]:
    found = {}
    for name, rest in re.findall(r"^  (\w+) +((?:[et]=\d+: \S+ *)+)$", program_output(), re.M):
        found[name] = {int(t): float(lr) for _, t, lr in re.findall(r"([et])=(\d+): (\S+)", rest)}
    return found


def test_program_prints_each_schedule_as_its_formula_gives_it() -> None:
    shown = printed_schedules()
    assert set(shown) == {*FORMULAS, "plateau"}
    for name, formula in FORMULAS.items():
        for t, lr in shown[name].items():
            assert math.isclose(lr, formula(t), rel_tol=1e-3, abs_tol=1e-9), (name, t)
    losses = [1.00, 0.80, 0.70, 0.72, 0.71, 0.70, 0.73, 0.65]
    assert f"plateau's val losses: {losses}" in program_output()
    rule = plateau(losses, 0.1, 0.1, 2)
    assert [shown["plateau"][e] for e in range(8)] == pytest.approx(rule)
    assert rule.index(0.1 * 0.1) == 6  # "cuts the rate to 0.01 from epoch 6"
    in_text(
        "step decay gives 0.01 at epoch 10 and 0.001 at epoch 20",
        "exponential decay 0.03487 at epoch 10, the $0.9^{10}$ of the formula",
        "cosine over 100 steps 0.08536 at step 25 and 0.05 at step 50",
        "Warm-up over 10 steps starts at 0.01, reaches 0.1 at step 9",
        "and is back to 0.05 at step 55",
        "One-cycle starts at 0.004, peaks at 0.1 at step 29 and ends at 4e-07",
        "fed the validation losses 1.00, 0.80, 0.70, 0.72, 0.71, 0.70, cuts the rate to 0.01 "
        "from epoch 6: the third loss in a row that failed to beat 0.70",
    )
    for name, t, value in (
        ("step", 10, 0.01),
        ("step", 20, 0.001),
        ("exponential", 10, 0.03487),
        ("cosine", 25, 0.08536),
        ("cosine", 50, 0.05),
        ("warmup_cosine", 0, 0.01),
        ("warmup_cosine", 9, 0.1),
        ("warmup_cosine", 55, 0.05),
        ("onecycle", 0, 0.004),
        ("onecycle", 29, 0.1),
        ("onecycle", 99, 4e-07),
    ):
        assert shown[name][t] == value, (name, t)


def test_program_range_test_numbers_the_lesson_quotes() -> None:
    out = program_output()
    table = [
        (int(t), float(lr), float(loss))
        for t, lr, loss in re.findall(r"^ +(\d+) +(\d\.\de[-+]\d+) +(\d+\.\d+)$", out, re.M)
    ]
    assert [t for t, _, _ in table] == list(range(0, 90, 10))
    for t, lr, _ in table:
        assert f"{lr:.1e}" == f"{1e-6 * 1e6 ** (t / 99):.1e}"  # the sweep's formula
    flat = [loss for _, lr, loss in table if lr <= 1e-4]
    assert len(flat) >= 4 and all(abs(loss - math.log(10)) < 0.03 for loss in flat)
    quoted = [
        ("is still 2.260 at 1.1e-03", "50 1.1e-03 2.260"),
        ("drops to 1.227 at 1.7e-02", "70 1.7e-02 1.227"),
        ("reaches its lowest, 0.992, at 3.5e-02", "lowest smoothed loss 0.992 at lr 3.5e-02"),
        (
            "stops after 90 steps, at a rate of 2.5e-01, with a smoothed loss of 4.352",
            "stopped after 90 steps at lr 2.5e-01: smoothed loss 4.352",
        ),
        ("The steepest fall is at 8.7e-03", "steepest fall at lr 8.7e-03"),
        (
            "a tenth of the lowest point's rate gives 3.5e-03",
            "suggested lr (a tenth of the lowest's): 3.5e-03",
        ),
    ]
    printed = " ".join(out.split())
    for in_lesson, in_output in quoted:
        in_text(in_lesson)
        assert in_output in printed, f"the program no longer prints {in_output!r}"
    assert 4.352 > 4 * 0.992  # the stop rule fired
    assert 2.3 < 8.7e-3 / 3.5e-3 < 2.6  # "agree to within a factor of about 2.5"
    in_text(
        "The two rules agree to within a factor of about 2.5",
        "sits near 2.3 up to a rate of about $10^{-4}$",
    )


def _runs_by_label() -> dict[str, tuple[float, list[tuple[float, float]]]]:
    found = {}
    for label, lr, rest in re.findall(
        r"^  (100x smaller|suggested|10x larger) +lr (\S+): (.*)$", program_output(), re.M
    ):
        epochs = [(float(a), float(b)) for a, b in re.findall(r"([\d.]+)/([\d.]+)", rest)]
        found[label] = (float(lr), epochs)
    return found


def test_program_too_low_right_and_too_high() -> None:
    runs = _runs_by_label()
    low, right, high = runs["100x smaller"], runs["suggested"], runs["10x larger"]
    assert (low[0], right[0], high[0]) == (3.5e-05, 3.5e-03, 3.5e-02)
    assert all(len(run[1]) == 5 for run in runs.values())
    # too low: "creeps from 2.291 to 2.182 over 5 epochs, barely below its start ... 0.411"
    assert (low[1][0][0], low[1][-1][0], low[1][-1][1]) == (2.291, 2.182, 0.411)
    assert all(
        b[0] < a[0] for a, b in zip(low[1], low[1][1:], strict=False)
    )  # smooth: falls every epoch
    assert math.log(10) - low[1][-1][0] < 0.15
    # right: "0.953 validation accuracy after one epoch, 0.975 after five, val loss 0.134"
    assert (right[1][0][1], right[1][-1][1], right[1][-1][0]) == (0.953, 0.975, 0.134)
    # too high: loss 2 to 4 times higher for four epochs, accuracy jumping around
    ratios = [h[0] / r[0] for h, r in zip(high[1][:4], right[1][:4], strict=True)]
    assert all(2 < ratio < 4 for ratio in ratios)
    accs = [acc for _, acc in high[1]]
    assert accs == [0.886, 0.928, 0.906, 0.936, 0.969]
    assert any(b < a for a, b in zip(accs, accs[1:], strict=False))  # "jumps around"
    in_text(
        "**100x smaller (3.5e-05)**",
        "**Suggested (3.5e-03)**",
        "**10x larger (3.5e-02)**",
        "creeps from 2.291 to 2.182 over 5 epochs, barely below its start,",
        "and accuracy reaches only 0.411",
        "0.953 validation accuracy after one epoch, 0.975 after five, validation loss 0.134",
        "its validation loss stays 2 to 4 times higher than the suggested run's for four epochs",
        "0.886, 0.928, 0.906, 0.936, 0.969",
        "by 2.5e-01 the loss had blown up",
        "it suggested 3.5e-03, which reached 0.975 validation accuracy in 5 epochs",
    )


def test_exercise_3_picks_for_sgd_and_adam() -> None:
    # "in exercise 3 the same test for Adam ... suggests 2.7e-03 instead of the program's
    # 3.5e-03, and for SGD with momentum it suggests about 14 times more"
    out = _runs[-1].output("3.2 exercise 3")
    sgd = float(re.search(r"picked lr (\S+): val acc", out).group(1))
    adam, ratio = re.search(r"picked lr (\S+), (\d+)x smaller than SGD's", out).groups()
    assert adam == "2.7e-03" and ratio == "14" and 12 < sgd / float(adam) < 16
    acc = float(re.search(r"val acc after 5 epochs ([\d.]+)", out).group(1))
    assert acc > 0.9
    in_text(
        "suggests 2.7e-03 instead of the program's 3.5e-03",
        "for SGD with momentum it suggests about 14 times more",
    )
