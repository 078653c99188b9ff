"""Lesson 3.1: every number and formula the text states, checked by running code.

The lesson's program (lessons/programs/lesson_3_1.py) starts in the background when this
module begins (its own process, on the CPU, without the app on the path); the tests that
read what it prints come last. The update rules are checked against torch.optim directly,
and exercise 3's settling points by importing its solution.
"""

from __future__ import annotations

import inspect
import math
import re
import tomllib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from engine.config import default_config
from engine.variants import apply_variant, get_variant
from engine.variants.variant import healthy_reference
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
PROGRAM = ROOT / "lessons" / "programs" / "lesson_3_1.py"
EXERCISE_3 = ROOT / "lessons" / "solutions" / "lesson_3_1_ex3.py"
RAW = lesson_text("3.1")  # as written, program not expanded
TEXT = flat_lesson_text("3.1")  # line breaks as spaces
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def program_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"3.1": PROGRAM}, 120))
    yield
    _runs.pop().stop()


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return load_module(PROGRAM, "lesson_3_1_program")


in_text = partial(assert_says, TEXT)


def fragment(starting: str) -> str:
    """The In depth code block whose first line starts with this text."""
    blocks = re.findall(r"```python\n(.*?)```", lesson_section("3.1", "In depth"), re.S)
    found = [block for block in blocks if block.startswith(starting)]
    assert len(found) == 1, starting
    return found[0]


def steps_of(make: type[torch.optim.Optimizer], n: int, **options: object) -> torch.Tensor:
    """The weights after n steps of an optimizer on a fixed small least-squares problem."""
    torch.manual_seed(0)
    x, y = torch.randn(32, 4, dtype=torch.float64), torch.randn(32, dtype=torch.float64)
    theta = torch.randn(4, dtype=torch.float64, requires_grad=True)
    optimizer = make([theta], **options)
    for _ in range(n):
        optimizer.zero_grad()
        ((x @ theta - y) ** 2).mean().backward()
        optimizer.step()
    return theta.detach()


Update = Callable[[torch.Tensor, torch.Tensor, int, dict], torch.Tensor]


def by_hand(n: int, update: Update, **state: object) -> torch.Tensor:
    """The same problem as steps_of, with `update(theta, grad, t, state)` doing each step."""
    torch.manual_seed(0)
    x, y = torch.randn(32, 4, dtype=torch.float64), torch.randn(32, dtype=torch.float64)
    theta = torch.randn(4, dtype=torch.float64)
    state = dict(state)  # the update's memory (velocity, averages) and any options
    for t in range(1, n + 1):
        grad = 2 * x.T @ (x @ theta - y) / len(y)
        theta = update(theta, grad, t, state)
    return theta


# ---------------------------------------------------------------- the page


def test_front_matter_is_the_one_the_brief_gives() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert (meta["id"], meta["module"], meta["title"]) == ("3.1", 3, "Optimizers beyond SGD")
    assert meta["variants"] == ["adam_l2_not_adamw", "momentum_with_sgd_lr", "lr_too_high"]
    assert meta["baseline"] == {"dataset": "digits"}


def test_try_it_describes_the_demo_without_its_numbers() -> None:
    text = " ".join(lesson_section("3.1", "Try it").split())
    for variant in ("adam_l2_not_adamw", "momentum_with_sgd_lr", "lr_too_high"):
        assert f"- `{variant}`:" in text
    # only settings appear, never a result: momentum 0.9 and lr 1.0
    assert sorted(re.findall(r"\d\.\d+", text)) == ["0.9", "1.0"]
    assert "predict each broken curve" in text
    # "the course's digits MLP, Adam at lr 10^-3, batch 32, 20 epochs ... a thousandth"
    base = default_config(**tomllib.loads(RAW.split("+++")[1])["baseline"])
    assert (base.model, base.hidden, base.optimizer) == ("mlp", (128, 64), "adam")
    assert (base.lr, base.batch_size, base.epochs) == (1e-3, 32, 20)
    assert "Adam at lr $10^{-3}$, batch 32, 20 epochs" in text
    broken = apply_variant(base, "lr_too_high")
    assert broken.optimizer == "adam" and broken.lr == 1.0 and base.lr == broken.lr / 1000
    assert "Adam at a learning rate of 1.0" in text and "a thousandth of that" in text


def test_try_it_describes_each_broken_run_as_the_engine_builds_it() -> None:
    base = default_config("digits")
    # "the healthy run is AdamW with a strong weight decay. The broken run calls
    # torch.optim.Adam with the same weight_decay value"
    healthy = healthy_reference(base, get_variant("adam_l2_not_adamw"))
    broken = apply_variant(base, "adam_l2_not_adamw")
    assert (healthy.optimizer, broken.optimizer) == ("adamw", "adam")
    assert healthy.weight_decay == broken.weight_decay >= 0.1 and healthy.lr == broken.lr
    # "the healthy run is plain SGD at a learning rate tuned for it. The broken run adds
    # momentum 0.9 and keeps that learning rate"
    healthy = healthy_reference(base, get_variant("momentum_with_sgd_lr"))
    broken = apply_variant(base, "momentum_with_sgd_lr")
    assert (healthy.optimizer, healthy.momentum) == ("sgd", 0) and broken.optimizer == "sgd"
    assert broken.momentum == 0.9 and broken.lr == healthy.lr
    text = " ".join(lesson_section("3.1", "Try it").split())
    assert "the healthy run is AdamW with a strong weight decay" in text
    assert "The broken run adds momentum 0.9 and keeps that learning rate" in text


def test_quick_check_and_takeaways_are_well_formed() -> None:
    lesson = load_lesson(lesson_path("3.1"))
    assert len(lesson.questions) == 3 and 3 <= len(lesson.takeaways) <= 6
    assert [q.options[q.correct] for q in lesson.questions] == [
        "About 0.03.",
        "About $3.16\\eta$.",
        "AdamW multiplies it by 0.9999; Adam with `weight_decay` moves it about $10^{-3}$ "
        "towards 0.",
    ]


# ---------------------------------------------------------------- the math


def test_momentum_and_nesterov_rules_are_torchs() -> None:
    # b_t = mu b_{t-1} + g_t (b_0 = 0, so b_1 = g_1); theta -= lr b, or lr (g + mu b)
    for nesterov in (False, True):

        def update(theta: torch.Tensor, g: torch.Tensor, t: int, s: dict) -> torch.Tensor:
            s["b"] = 0.9 * s.get("b", torch.zeros_like(g)) + g
            return theta - 0.05 * (g + 0.9 * s["b"] if s["nesterov"] else s["b"])

        ours = by_hand(15, update, nesterov=nesterov)
        theirs = steps_of(torch.optim.SGD, 15, lr=0.05, momentum=0.9, nesterov=nesterov)
        assert torch.allclose(ours, theirs, atol=1e-12)
    p = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    (3 * p).sum().backward()
    optimizer.step()
    assert torch.equal(optimizer.state[p]["momentum_buffer"], p.grad)  # b_1 = g_1
    in_text("PyTorch's `momentum_buffer`; it starts at $b_0 = 0$, so $b_1 = g_1$.")


def test_momentum_on_a_steady_slope_goes_1_over_1_minus_mu_as_far() -> None:
    mu = 0.9
    factor = [(1 - mu**t) / (1 - mu) for t in range(1, 101)]
    assert [f"{factor[t - 1]:.3f}" for t in (1, 10, 50)] == ["1.000", "6.513", "9.948"]
    assert sum(mu**k for k in range(10)) == pytest.approx(factor[9])  # 1 + mu + ... + mu^9
    in_text("1 at step 1, 6.513 at step 10, 9.948 at step 50.")
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.01, momentum=mu)
    moved = []
    for _ in range(100):
        before = theta.item()
        optimizer.zero_grad()
        (2.0 * theta).sum().backward()  # gradient 2 everywhere
        optimizer.step()
        moved.append((before - theta.item()) / (0.01 * 2.0))
    assert moved == pytest.approx(factor, rel=1e-9)
    assert moved[-1] == pytest.approx(1 / (1 - mu), rel=1e-4) == 10  # effective lr 10 eta
    in_text("With $\\mu = 0.9$ it is $10\\eta$")


def test_rmsprop_rule_defaults_and_its_10x_first_step() -> None:
    defaults = inspect.signature(torch.optim.RMSprop).parameters
    assert (defaults["alpha"].default, defaults["eps"].default) == (0.99, 1e-8)

    def update(theta: torch.Tensor, g: torch.Tensor, t: int, s: dict) -> torch.Tensor:
        s["s"] = 0.99 * s.get("s", torch.zeros_like(g)) + 0.01 * g**2
        return theta - 0.01 * g / (s["s"].sqrt() + 1e-8)

    assert torch.allclose(by_hand(20, update), steps_of(torch.optim.RMSprop, 20, lr=0.01))
    # "its first step is eta g / (0.1 |g|), 10 times eta (0.5 here)" at the race's lr 0.05
    p = torch.tensor([-2.0, 1.0], requires_grad=True)
    optimizer = torch.optim.RMSprop([p], lr=0.05)
    (p[0] ** 2 / 2 + 25 * p[1] ** 2).backward()
    optimizer.step()
    assert torch.allclose(p.detach(), torch.tensor([-1.5, 0.5]), atol=1e-5)
    in_text("`alpha=0.99` by default", "`eps`, $10^{-8}$", "10 times $\\eta$ (0.5 here)")


def test_adam_rule_defaults_and_state_names() -> None:
    defaults = inspect.signature(torch.optim.Adam).parameters
    assert defaults["betas"].default == (0.9, 0.999)
    assert (defaults["lr"].default, defaults["eps"].default) == (1e-3, 1e-8)

    def update(theta: torch.Tensor, g: torch.Tensor, t: int, s: dict) -> torch.Tensor:
        s["m"] = 0.9 * s.get("m", torch.zeros_like(g)) + 0.1 * g
        s["v"] = 0.999 * s.get("v", torch.zeros_like(g)) + 0.001 * g**2
        m_hat, v_hat = s["m"] / (1 - 0.9**t), s["v"] / (1 - 0.999**t)
        return theta - 0.01 * m_hat / (v_hat.sqrt() + 1e-8)

    assert torch.allclose(by_hand(30, update), steps_of(torch.optim.Adam, 30, lr=0.01))
    p = torch.ones(3, requires_grad=True)
    optimizer = torch.optim.Adam([p])
    p.sum().backward()
    optimizer.step()
    assert {"exp_avg", "exp_avg_sq"} <= set(optimizer.state[p])
    in_text("`lr`, $10^{-3}$ by default", "(`exp_avg`)", "(`exp_avg_sq`)")


def test_bias_correction_on_a_steady_gradient() -> None:
    # m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2; uncorrected step = (1-b1^t)/sqrt(1-b2^t)
    g = 0.37
    m = v = 0.0
    for t in range(1, 20):
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        assert m == pytest.approx((1 - 0.9**t) * g) and v == pytest.approx((1 - 0.999**t) * g * g)
        assert (m / (1 - 0.9**t)) / math.sqrt(v / (1 - 0.999**t)) == pytest.approx(1.0)
    ratio = [(1 - 0.9**t) / math.sqrt(1 - 0.999**t) for t in range(1, 1001)]
    assert f"{ratio[0]:.3f}" == "3.162" and 0.1 / math.sqrt(0.001) == pytest.approx(ratio[0])
    assert f"{1 / 0.1:.0f}" == "10" and f"{1 / math.sqrt(0.001):.1f}" == "31.6"
    in_text("\\frac{0.1}{\\sqrt{0.001}} \\approx 3.162\\, \\eta$", "about 31.6 times too small")
    peak = max(range(1000), key=ratio.__getitem__)
    assert (peak + 1, f"{ratio[peak]:.3f}") == (12, "6.569")
    assert [f"{ratio[t - 1]:.3f}" for t in (10, 100, 1000)] == ["6.528", "3.241", "1.258"]
    in_text("3.162 times $\\eta$ at step 1, 6.528 at step 10, peaks at 6.569 at step 12, and is")
    in_text("still 3.241 at step 100 and 1.258 at step 1,000", "up to 6.6 times that")


def test_adam_weight_decay_joins_the_gradient_and_adamw_shrinks_outside() -> None:
    lam, lr = 0.1, 0.01

    def coupled(theta: torch.Tensor, g: torch.Tensor, t: int, s: dict) -> torch.Tensor:
        g = g + lam * theta  # g <- g + lambda theta, then Adam
        s["m"] = 0.9 * s.get("m", torch.zeros_like(g)) + 0.1 * g
        s["v"] = 0.999 * s.get("v", torch.zeros_like(g)) + 0.001 * g**2
        return theta - lr * (s["m"] / (1 - 0.9**t)) / ((s["v"] / (1 - 0.999**t)).sqrt() + 1e-8)

    def decoupled(theta: torch.Tensor, g: torch.Tensor, t: int, s: dict) -> torch.Tensor:
        s["m"] = 0.9 * s.get("m", torch.zeros_like(g)) + 0.1 * g
        s["v"] = 0.999 * s.get("v", torch.zeros_like(g)) + 0.001 * g**2
        step = lr * (s["m"] / (1 - 0.9**t)) / ((s["v"] / (1 - 0.999**t)).sqrt() + 1e-8)
        return (1 - lr * lam) * theta - step

    adam = steps_of(torch.optim.Adam, 10, lr=lr, weight_decay=lam)
    adamw = steps_of(torch.optim.AdamW, 10, lr=lr, weight_decay=lam)
    assert torch.allclose(by_hand(10, coupled), adam)
    assert torch.allclose(by_hand(10, decoupled), adamw)
    assert inspect.signature(torch.optim.AdamW).parameters["weight_decay"].default == 0.01
    # eta = 1e-3, lambda = 0.1: a factor 0.9999 per step; the default 0.01: 1 - 1e-5
    assert math.isclose(1 - 1e-3 * 0.1, 0.9999) and math.isclose(1e-3 * 0.01, 1e-5)
    in_text("With $\\eta = 10^{-3}$ and $\\lambda = 0.1$ that is a factor $0.9999$ per step.")
    in_text("AdamW's default `weight_decay=0.01` shrinks each weight by $1 - 10^{-5}$ per step")


def test_a_weight_with_no_data_gradient_in_the_first_step() -> None:
    # Quick check 3: AdamW multiplies it by 0.9999; Adam + L2 moves it a full lr to 0.
    for start in (0.8, -0.02, 1e-3):
        results = {}
        for kind in (torch.optim.Adam, torch.optim.AdamW):
            w = torch.tensor([start], requires_grad=True)
            optimizer = kind([w], lr=1e-3, weight_decay=0.1)
            (0 * w).sum().backward()
            optimizer.step()
            results[kind] = w.item()
        assert results[torch.optim.AdamW] == pytest.approx(0.9999 * start)
        moved = start - results[torch.optim.Adam]  # about lr, eps aside
        assert moved == pytest.approx(math.copysign(1e-3, start), rel=0.01)


# ---------------------------------------------------------------- surfaces and formulas


def test_sgd_on_the_ravine_is_capped_by_its_steep_side(program: ModuleType) -> None:
    def last(lr: float, loss: object, steps: int = 300) -> torch.Tensor:
        return program.path_2d(loss, (-2.0, 1.0), lambda ps: torch.optim.SGD(ps, lr=lr), steps)

    assert last(0.039, program.ravine)[-1].abs().max() < 1e-2  # below 2/50: converges
    assert last(0.041, program.ravine)[-1].abs().max() > 10  # above: y grows
    one = last(0.03, program.ravine, 1)[0]
    assert torch.allclose(one, torch.tensor([-2.0 * 0.97, 1.0 * -0.5]))  # x*0.97, y*(-0.5)
    assert torch.equal(last(1.0, program.bowl, 1)[0], torch.zeros(2))  # eta = 1: one step
    in_text("stay below $2/50 = 0.04$", "$y$ is multiplied by $-0.5$ each step")
    in_text("$x$ shrinks by only 3% per step", "take $\\eta = 1$ and land on the bottom in one")
    reached = next(t for t in range(1, 500) if 2 * 0.97**t < math.sqrt(0.002))
    assert reached == 125 and f"{math.sqrt(0.002):.3f}" == "0.045"
    in_text("after 125 steps, exactly when $2 \\cdot 0.97^t$ falls below $\\sqrt{0.002}")


def test_the_saddle_and_the_adam_fragment(program: ModuleType) -> None:
    # Near the ridge the gradient along y is about -y; y grows by 3% a step under SGD.
    for y in (1e-3, 1e-2):
        p = torch.tensor([0.0, y], dtype=torch.float64, requires_grad=True)
        program.saddle(p).backward()
        assert p.grad[1].item() == pytest.approx(-y, rel=1e-3)
    assert 225 <= math.log(1000) / math.log(1.03) <= 235  # "about 230 steps"
    in_text("about 230 steps just to leave the ridge")
    assert program.saddle(torch.tensor([0.0, 1.0])).item() == -0.25
    adam = program.path_2d(program.saddle, (-2.0, 1e-3), program.RACERS_2D["Adam"], 1)
    assert adam[0][1].item() - 1e-3 == pytest.approx(0.05, rel=1e-4)  # a full eta off the ridge
    space = {"torch": torch}
    exec(fragment("p = torch.tensor([-2.0, 1.0]"), space)
    by_program = program.path_2d(program.ravine, (-2.0, 1.0), program.RACERS_2D["Adam"], 100)
    assert torch.equal(space["p"].detach(), by_program[-1])


def test_the_momentum_fragment_matches_torch() -> None:
    code = fragment("with torch.no_grad():")
    for nesterov in (False, True):
        torch.manual_seed(1)
        x, y = torch.randn(16, 3), torch.randn(16)
        ours = torch.randn(3, requires_grad=True)
        theirs = ours.detach().clone().requires_grad_(True)
        velocities = [torch.zeros(3)]
        optimizer = torch.optim.SGD([theirs], lr=0.02, momentum=0.9, nesterov=nesterov)
        for _ in range(10):
            for p in (ours, theirs):
                p.grad = None
                ((x @ p - y) ** 2).mean().backward()
            space = {"torch": torch, "params": [ours], "velocities": velocities}
            exec(code, space | {"mu": 0.9, "lr": 0.02, "nesterov": nesterov})
            optimizer.step()
        assert torch.allclose(ours.detach(), theirs.detach(), atol=1e-6)


def test_the_adam_fragment_is_the_programs_code(program: ModuleType) -> None:
    source = inspect.getsource(program.adam_update)
    for line in fragment("m.mul_(beta1)").strip().splitlines():
        assert line.strip() in source, line


def test_the_weight_decay_fragment_builds_the_two_optimizers() -> None:
    space = {"torch": torch, "model": nn.Linear(3, 2)}
    exec(fragment("coupled = "), space)
    assert type(space["coupled"]) is torch.optim.Adam
    assert type(space["decoupled"]) is torch.optim.AdamW
    for name in ("coupled", "decoupled"):
        group = space[name].param_groups[0]
        assert (group["lr"], group["weight_decay"]) == (1e-3, 0.1)


def test_the_blank_pixel_arithmetic(program: ModuleType) -> None:
    torch.manual_seed(program.SEED)
    weights = program.make_mlp()[0].weight
    assert weights.abs().max().item() <= 1 / math.sqrt(64) == 0.125  # nn.Linear's init
    assert math.isclose(1e-3 / (1e-3 * 0.1 * 0.125), 80)  # "at least 80 times"
    assert 3 * 128 == 384 and program.EPOCHS * math.ceil(1437 / 32) == 135 == 3 * 45
    assert f"{(1 - 1e-3 * 0.1) ** 135:.4f}" == "0.9866"
    in_text("at least 80 times AdamW's $\\eta\\lambda|\\theta|$", "$1/\\sqrt{64} = 0.125$")
    in_text("shrank by exactly $(1 - \\eta\\lambda)^{135} = 0.9866$")


def test_the_digits_race_uses_the_learning_rates_the_table_gives(program: ModuleType) -> None:
    p = [nn.Parameter(torch.zeros(1))]
    lrs = {name: make(p).param_groups[0] for name, make in program.DIGITS_RACERS.items()}
    row = "| learning rate | 0.3 | 0.03 | 0.03 | $10^{-3}$ | $10^{-3}$ | $10^{-3}$ |"
    assert row in RAW
    names = ("SGD", "momentum", "Nesterov", "RMSProp", "Adam", "AdamW")
    assert [lrs[n]["lr"] for n in names] == [0.3, 0.03, 0.03, 1e-3, 1e-3, 1e-3]
    assert lrs["momentum"]["momentum"] == lrs["Nesterov"]["momentum"] == 0.9
    assert lrs["Nesterov"]["nesterov"] and lrs["AdamW"]["weight_decay"] == 0.01
    assert (lrs["mom@SGD lr"]["lr"], lrs["mom@SGD lr"]["momentum"]) == (0.3, 0.9)  # "rate of 3"
    assert math.isclose(0.3 / (1 - 0.9), 3)
    groups = {n: make(p).param_groups[0] for n, make in program.RACERS_2D.items()}
    assert groups["SGD"]["lr"] == 0.03 and groups["momentum"]["lr"] == 0.003
    assert groups["momentum"]["lr"] / (1 - 0.9) == pytest.approx(groups["SGD"]["lr"])
    in_text("$\\eta = 0.003$, chosen so that $\\frac{\\eta}{1 - \\mu} = 0.03$")


def test_exercise_3_settles_where_the_formulas_say() -> None:
    solution = load_module(EXERCISE_3, "lesson_3_1_ex3_solution")
    coupled = solution.settle(torch.optim.Adam)
    decoupled = solution.settle(torch.optim.AdamW)
    assert torch.allclose(solution.PULL, torch.tensor([1.0, 0.01, 0.0])) and solution.WD == 0.1
    assert torch.allclose(coupled, torch.tensor([10.0, 0.1, 0.0]), atol=1e-3)  # g / lambda
    assert torch.allclose(decoupled[:2], torch.tensor([10.0, 10.0]), atol=1e-3)  # 1 / lambda
    assert f"{coupled.norm().item():.2f}" == "10.00"
    assert f"{decoupled.norm().item():.2f}" == "14.14"
    in_text("$\\theta = g/\\lambda$: 10, 0.1 and 0", "at $1/\\lambda = 10$ for both weights")
    in_text("Norms: 10.00 against 14.14.", "steady gradients of size 1, 0.01 and 0")


def test_the_uncorrected_first_step_on_the_digits_is_3_162_for_most_weights(
    program: ModuleType,
) -> None:
    data = program.load_splits(torch.device("cpu"))
    torch.manual_seed(program.SEED)
    model = program.make_mlp()
    loss = nn.functional.cross_entropy(model(data[0][:32]), data[1][:32])
    grads = torch.autograd.grad(loss, list(model.parameters()))
    sizes = (
        torch.cat(
            [
                program.adam_update(
                    g, torch.zeros_like(g), torch.zeros_like(g), 1, bias_correction=False
                )[g != 0]
                for g in grads
            ]
        ).abs()
        / 1e-3
    )
    assert f"{sizes.median().item():.3f}" == "3.162"
    assert (sizes > 3.16).float().mean() > 0.5 and sizes.min() < 3.16  # eps counts for a few
    in_text("3.162 for most, a little less where the gradient is so small that $\\epsilon$")


# ---------------------------------------------------------------- what the program prints


def output() -> str:
    return _runs[-1].output("3.1")


def test_program_stands_alone_and_is_shown_in_full() -> None:
    assert check_stands_alone(PROGRAM) <= {"__future__", "collections", "torch", "sklearn"}
    lesson = load_lesson(lesson_path("3.1"))
    assert lesson.programs == (PROGRAM,)
    before = RAW[: RAW.index("{{program: lessons/programs/lesson_3_1.py}}")]
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"


def test_the_2d_race_table_is_the_programs() -> None:
    printed = output()
    for surface in ("bowl", "ravine", "saddle"):
        steps = re.search(rf"^{surface} +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$", printed, re.M)
        assert steps, surface
        assert f"| {surface} | " + " | ".join(steps.groups()) + " |" in RAW
    rows = {
        s: [int(v) for v in re.search(rf"^{s} +([\d ]+)$", printed, re.M).group(1).split()]
        for s in ("bowl", "ravine", "saddle")
    }
    sgd, momentum, nesterov, rmsprop, adam = zip(*rows.values(), strict=True)
    assert sgd[1] == 125 and sgd[2] == 278 and adam[2] == 59 and adam[:2] == (56, 82)
    assert (momentum[1], nesterov[1]) == (91, 93) and (momentum[2], nesterov[2]) == (316, 311)
    assert momentum[2] > sgd[2] and nesterov[2] > sgd[2]  # "they gained nothing"
    assert set(rmsprop) == {21} and all(min(r) == 21 for r in rows.values())  # won all three
    in_text("Momentum and Nesterov got there in 91 and 93 steps", "(316 and 311 steps)")
    in_text("RMSProp won all three races in 21 steps", "Adam's 82 steps against 56")
    in_text("Adam needed 59 steps there, against 278 for SGD")


def test_paths_on_the_bowl_and_the_ravine(program: ModuleType) -> None:
    printed = output()
    sgd = float(re.search(r"SGD: its paths .* up to ([\d.e+-]+)", printed).group(1))
    adam = float(re.search(r"Adam: its paths .* up to ([\d.e+-]+)", printed).group(1))
    assert adam == 3.0e-08 and sgd == 1.5
    in_text("to within $3.0 \\cdot 10^{-8}$", "SGD's two paths differ by 1.5 after one step")
    sgd_racer = program.RACERS_2D["SGD"]
    first = [
        program.path_2d(f, (-2.0, 1.0), sgd_racer, 1)[0] for f in (program.bowl, program.ravine)
    ]
    assert f"{(first[0] - first[1]).abs().max().item():.1e}" == "1.5e+00"  # at step 1 already


def test_the_digits_race_table_is_the_programs() -> None:
    printed = output()
    epochs = re.findall(r"^ +(\d) +" + r" +".join([r"([\d.]+)"] * 7) + "$", printed, re.M)
    assert [e[0] for e in epochs] == ["1", "2", "3"]
    val = re.search(r"^val acc +" + r" +".join([r"([\d.]+)"] * 7) + "$", printed, re.M)
    assert val
    for label, values in (
        ("train loss, epoch 1", epochs[0][1:7]),
        ("train loss, epoch 3", epochs[2][1:7]),
        ("val accuracy", val.groups()[:6]),
    ):
        assert f"| {label} | " + " | ".join(values) + " |" in RAW, label
    sgd, momentum = float(epochs[2][1]), float(epochs[2][2])
    assert (sgd, momentum) == (0.052, 0.055)
    in_text("after 3 epochs, training losses of 0.052 and 0.055")
    stuck = [float(e[7]) for e in epochs]
    assert stuck == [1.930, 2.251, 2.319] and abs(stuck[-1] - math.log(10)) < 0.05
    assert f"{math.log(10):.3f}" == "2.303" and float(val.group(7)) == 0.108
    in_text("the loss reads 1.930, 2.251, 2.319: stuck near $\\ln 10 \\approx 2.303$")
    in_text("(validation accuracy 0.108)")
    final = [float(v) for v in epochs[2][1:7]]
    accs = [float(v) for v in val.groups()[:6]]
    assert final[4] == max(final) and accs[4] == min(accs)  # Adam came last
    adam = [float(e[5]) for e in epochs]
    adamw = [float(e[6]) for e in epochs]
    assert max(abs(a - b) for a, b in zip(adam, adamw, strict=True)) <= 0.001 + 1e-9


def test_bias_correction_numbers_are_the_programs() -> None:
    printed = " ".join(output().split())
    for quote in (
        "bias correction on : weights with a gradient move 1.000 x lr on average",
        "torch.optim.Adam's first step differs from the hand-written one by 7.5e-09",
        "bias correction off: weights with a gradient move 3.157 x lr on average",
        "step 1: with correction 1.000, without 3.162",
        "step 10: with correction 1.000, without 6.528",
        "step 100: with correction 1.000, without 3.241",
        "step 1000: with correction 1.000, without 1.258",
        "without it the steps peak at step 12: 6.569 x lr",
    ):
        assert quote in printed, quote
    in_text("the weights with a gradient move 1.000 times $\\eta$ on average")
    in_text("matches the hand-written one to $7.5 \\cdot 10^{-9}$", "they move 3.157 times")
    in_text("the first step is 3.16 times $\\eta$", "About $3.16\\eta$")


def test_weight_decay_numbers_are_the_programs() -> None:
    printed = output()
    rows = {
        name: tuple(float(v) for v in rest)
        for name, *rest in re.findall(
            r"^  (no decay|Adam \+ L2|AdamW) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$",
            printed,
            re.M,
        )
    }
    start = re.search(r"^  start +([\d.]+) +([\d.]+)$", printed, re.M)
    assert start and start.groups() == ("8.24", "1.4171")
    assert rows["no decay"] == (0.155, 0.944, 11.14, 1.4171)  # never touched: unchanged
    assert rows["Adam + L2"] == (1.315, 0.669, 3.71, 0.1720)
    assert rows["AdamW"] == (0.158, 0.944, 11.04, 1.3981)
    assert "3 pixels are blank in every training digit: their 384" in printed
    assert "(1 - lr * wd)^135 = 0.9866, so 1.4171 -> 1.3981" in printed
    assert 7 < 1.4171 / 0.1720 < 9  # "about an eighth"
    in_text(
        "training loss 0.155, validation accuracy 0.944, weights' norm 11.14 (8.24 at the start)",
        "training loss 1.315, validation accuracy 0.669, norm 3.71",
        "training loss 0.158, validation accuracy 0.944, norm 11.04",
        "norm 1.4171 to 1.3981",
        "Their norm fell to 0.1720, about an eighth",
        "from 0.944 to 0.669",
        "in 384 weights the data never touches: three pixels",
    )
