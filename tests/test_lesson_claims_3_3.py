"""Lesson 3.3: every number and formula the text states, checked by running code.

Each test names the claim it checks. The lesson's program starts in the background when
this module begins (one process, on the CPU, without the app on the path) and is read by
the tests at the end; exercises 2 and 3, whose results the text cites, run once in this
process. Formulas are checked against PyTorch's own initialisers directly.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import tomllib
from collections.abc import Iterator
from functools import cache, partial
from pathlib import Path

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from engine.config import default_config
from engine.models import build_model
from engine.variants import apply_variant, get_variant, healthy_reference
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    assert_says,
    check_stands_alone,
    lesson_section,
    load_module,
)

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_3_3.py"
EXERCISE_2 = ROOT / "lessons" / "solutions" / "lesson_3_3_ex2.py"
EXERCISE_3 = ROOT / "lessons" / "solutions" / "lesson_3_3_ex3.py"
RAW = lesson_path("3.3").read_text(encoding="utf-8")  # as written, program not expanded
TEXT = " ".join(RAW.split())  # line breaks as spaces
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def program_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"3.3": PROGRAM}, 90))
    yield
    _runs.pop().stop()


section = partial(lesson_section, "3.3")


def code_block(starting: str) -> str:
    """The In depth fragment whose first line starts with this text."""
    blocks = re.findall(r"```python\n(.*?)```", section("In depth"), re.S)
    found = [block for block in blocks if block.startswith(starting)]
    assert len(found) == 1, starting
    return found[0]


def program() -> object:
    return load_module(PROGRAM, "lesson_3_3_program")


says = partial(assert_says, TEXT)


def digits_batch(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    digits = load_digits()
    x = torch.tensor(digits.data[:n], dtype=torch.float32)
    std = x.std(dim=0)
    x = (x - x.mean(dim=0)) / torch.where(std > 1e-6, std, torch.ones_like(std))
    return x, torch.tensor(digits.target[:n], dtype=torch.long)


# --- front matter and the demo ----------------------------------------------------------


def test_front_matter_names_the_briefed_variants_and_baseline() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert (meta["id"], meta["module"], meta["title"]) == ("3.3", 3, "Weight initialization")
    assert meta["variants"] == ["zero_init", "init_too_large"]
    assert meta["baseline"] == {"dataset": "digits"}
    assert load_lesson(lesson_path("3.3")).variants == tuple(meta["variants"])


def test_try_it_describes_the_baseline_and_each_broken_start_as_the_engine_builds_them() -> None:
    base = default_config(**tomllib.loads(RAW.split("+++")[1])["baseline"])
    assert (base.model, base.hidden, base.activation, base.init) == (
        "mlp",
        (128, 64),
        "relu",
        "default",
    )
    assert (base.optimizer, base.lr, base.batch_size, base.epochs) == ("adam", 1e-3, 32, 20)
    text = " ".join(section("Try it").split())
    assert "(64 inputs, hidden layers of 128 and 64 with ReLU, 10 classes;" in text
    assert "Adam at lr $10^{-3}$, batch 32, 20 epochs) with PyTorch's default init" in text

    # zero_init: "every weight and bias set to zero before the first step"
    zero = build_model(apply_variant(base, "zero_init"), (64,), 10)
    assert all(torch.count_nonzero(p) == 0 for p in zero.parameters())

    # init_too_large: "its healthy reference is the same MLP with tanh and Xavier init; the
    # broken run multiplies those same starting weights by a large factor"
    variant = get_variant("init_too_large")
    reference = healthy_reference(base, variant)
    broken = apply_variant(base, "init_too_large")
    assert (reference.activation, reference.init, reference.init_scale) == ("tanh", "xavier", 1)
    assert (reference.hidden, broken.hidden) == (base.hidden, base.hidden)
    assert (broken.activation, broken.init) == ("tanh", "xavier") and broken.init_scale >= 3
    healthy_model = build_model(reference, (64,), 10)
    broken_model = build_model(broken, (64,), 10)
    for (name, h), (_, b) in zip(
        healthy_model.named_parameters(), broken_model.named_parameters(), strict=True
    ):
        if name.endswith("weight"):
            assert torch.allclose(b, broken.init_scale * h)
    for variant_id in ("zero_init", "init_too_large"):
        assert f"- `{variant_id}`:" in section("Try it")
    assert "predict each broken curve: does it stay flat, explode, learn fine, or overfit?" in text
    assert not re.search(r"\d\.\d", section("Try it"))  # no numbers from the demo's runs


# --- the math -----------------------------------------------------------------------------


def test_a_weights_gradient_is_delta_times_its_input_and_equal_units_stay_equal() -> None:
    # dL/dw_ji = delta_j a_i, delta_j = f'(z_j) sum_k w_kj delta_k
    torch.manual_seed(0)
    x, y = digits_batch(16)
    first, second = nn.Linear(64, 8), nn.Linear(8, 10)
    z1 = first(x)
    z1.retain_grad()
    a1 = torch.tanh(z1)
    z2 = second(a1)
    z2.retain_grad()
    nn.functional.cross_entropy(z2, y).backward()
    delta2 = z2.grad
    delta1 = (1 - a1.detach() ** 2) * (delta2 @ second.weight.detach())
    assert torch.allclose(delta1, z1.grad, atol=1e-7)
    assert torch.allclose(first.weight.grad, delta1.T @ x, atol=1e-6)
    # two units with equal incoming and outgoing weights: equal gradients, equal after a step
    with torch.no_grad():
        first.weight[1] = first.weight[0]
        first.bias[1] = first.bias[0]
        second.weight[:, 1] = second.weight[:, 0]
    optimizer = torch.optim.SGD([*first.parameters(), *second.parameters()], lr=0.5)
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(second(torch.tanh(first(x))), y).backward()
        assert torch.equal(first.weight.grad[0], first.weight.grad[1])
        optimizer.step()
    assert torch.equal(first.weight[0], first.weight[1])


def test_zero_weights_give_exactly_zero_gradients_except_the_output_bias() -> None:
    # the In depth fragment, run as shown, with tanh too ("Tanh gives the same picture")
    x, y = digits_batch()
    for activation in ("nn.ReLU()", "nn.Tanh()"):
        fragment = code_block("model = nn.Sequential(").replace("nn.ReLU()", activation)
        printed = io.StringIO()
        space = {"nn": nn, "x": x, "y": y}
        with contextlib.redirect_stdout(printed):
            exec(fragment, space)
        assert math.isclose(space["loss"].item(), math.log(10), rel_tol=1e-6)  # "ln 10"
        grads = eval(printed.getvalue())  # the printed list
        assert grads[:-1] == [0.0, 0.0, 0.0] and grads[-1] > 0  # "0 except the last"
    says("$\\tanh(0) = \\text{ReLU}(0) = 0$", "Only the last tensor, the output bias, gets")
    assert torch.tanh(torch.zeros(1)) == 0 and torch.relu(torch.zeros(1)) == 0


def test_a_layer_multiplies_the_variance_by_n_in_var_w_mean_square_input() -> None:
    torch.manual_seed(0)
    n_in, std_w = 100, 0.07
    a = torch.rand(20_000, n_in) * 2  # inputs with E[a^2] = 4/3, not centred
    w = torch.randn(n_in, 50) * std_w
    z = a @ w
    predicted = n_in * std_w**2 * a.pow(2).mean().item()
    # over the weights' draw: average the variance of each unit over the examples... and units
    assert abs(z.pow(2).mean().item() / predicted - 1) < 0.25
    # exactly, given the weights: E over inputs and units, with many units
    w = torch.randn(n_in, 4000) * std_w
    z = a[:2000] @ w
    assert abs(z.pow(2).mean().item() / predicted - 1) < 0.03


def test_relu_nets_scale_layer_l_by_exactly_s_to_the_l() -> None:
    # ReLU(s z) = s ReLU(z); with zero biases, all weights times s -> layer l times s^l
    z = torch.randn(1000)
    for s in (0.1, 3.0):
        assert torch.allclose(torch.relu(s * z), s * torch.relu(z))
    p = program()
    x, y = digits_batch(200)
    stds = {}
    for name in ("kaiming", "0.1x kaiming", "3x kaiming"):
        model = p.deep_mlp(p.DEPTH, p.WIDTH, "relu", p.starts("relu")[name])
        stds[name], _, _ = p.probe(model, x, y)
    for layer in range(1, p.DEPTH + 1):
        good = stds["kaiming"][layer - 1]
        assert math.isclose(stds["0.1x kaiming"][layer - 1], 0.1**layer * good, rel_tol=1e-3)
        assert math.isclose(stds["3x kaiming"][layer - 1], 3.0**layer * good, rel_tol=1e-3)
    assert f"{3**15:.1e}" == "1.4e+07" and math.isclose(0.1**15, 1e-15)
    says("with $s = 3$, $3^{15} \\approx 1.4 \\cdot 10^7$ times", "layer 15 is $10^{-15}$ times")
    says("exactly $0.1^{l}$ times the Kaiming row")


def test_tanh_slope_is_one_minus_a_squared_and_the_saturation_thresholds() -> None:
    z = torch.linspace(-4, 4, 81, requires_grad=True)
    torch.tanh(z).sum().backward()
    assert torch.allclose(z.grad, 1 - torch.tanh(z.detach()) ** 2, atol=1e-6)
    assert math.isclose(1 - 0.9**2, 0.19) and 1 - 0.99**2 < 0.02
    says("at $|a| > 0.9$ the slope is below 0.19, at $|a| > 0.99$ below 0.02")


def test_relu_keeps_half_the_mean_square_and_kaiming_makes_the_factor_one() -> None:
    torch.manual_seed(0)
    z = torch.randn(1_000_000) * 1.7
    assert abs(torch.relu(z).pow(2).mean() / z.var() - 0.5) < 0.005
    n_in = 256
    assert math.isclose(n_in * (2 / n_in) * 0.5, 1.0)  # Var(w) = 2 / n_in: the factor is 1
    weight = torch.empty(512, n_in)
    nn.init.kaiming_normal_(weight, nonlinearity="relu")
    assert abs(weight.std().item() / math.sqrt(2 / n_in) - 1) < 0.01
    nn.init.kaiming_normal_(weight, nonlinearity="relu", mode="fan_out")  # 2 / n_out
    assert abs(weight.std().item() / math.sqrt(2 / 512) - 1) < 0.01


def test_xavier_is_two_over_fan_in_plus_fan_out() -> None:
    torch.manual_seed(0)
    weight = torch.empty(300, 500)  # n_out = 300, n_in = 500
    for init in (nn.init.xavier_uniform_, nn.init.xavier_normal_):
        init(weight)
        assert abs(weight.var().item() / (2 / (500 + 300)) - 1) < 0.02


def test_a_uniform_draw_has_variance_b_squared_over_3_and_bound_sqrt3_sigma() -> None:
    torch.manual_seed(0)
    b = 0.37
    draw = torch.empty(2_000_000).uniform_(-b, b)
    assert abs(draw.var().item() / (b**2 / 3) - 1) < 0.005
    weight = torch.empty(128, 128)
    nn.init.kaiming_uniform_(weight, nonlinearity="relu")
    assert weight.abs().max().item() <= math.sqrt(3) * math.sqrt(2 / 128)


def test_pytorchs_default_is_kaiming_uniform_with_a_sqrt5_bound_one_over_sqrt_fan_in() -> None:
    for n_in, n_out in ((128, 128), (256, 64)):
        torch.manual_seed(0)
        layer = nn.Linear(n_in, n_out)
        torch.manual_seed(0)
        same = torch.empty(n_out, n_in)
        nn.init.kaiming_uniform_(same, a=math.sqrt(5))
        assert torch.equal(layer.weight.detach(), same)
        bound = 1 / math.sqrt(n_in)
        assert layer.weight.abs().max().item() <= bound
        assert layer.bias.abs().max().item() <= bound  # "the biases: the same U(-b, b)"
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    assert math.isclose(gain, math.sqrt(2 / (1 + 5))) and math.isclose(gain, math.sqrt(1 / 3))
    n = 128
    sigma = gain / math.sqrt(n)
    assert math.isclose(sigma, 1 / math.sqrt(3 * n))
    assert math.isclose(math.sqrt(3) * sigma, 1 / math.sqrt(n))
    assert math.isclose(n * sigma**2 * 0.5, 1 / 6)  # "shrinks sixfold per layer"


def test_quick_check_answers() -> None:
    assert f"{0.5**20:.1e}" == "9.5e-07"  # "about one millionth"
    says("$0.5^{20} \\approx 9.5 \\cdot 10^{-7}$", "- [x] $0.5^{20}$, about one millionth.")
    layer = nn.Linear(256, 64)
    assert layer.weight.shape == (64, 256)
    assert layer.weight.abs().max().item() <= 1 / math.sqrt(256) == 0.0625
    assert f"{math.sqrt(2 / 256):.3f}" == "0.088" and f"{math.sqrt(6 / 320):.3f}" == "0.137"
    assert 1 / math.sqrt(64) == 0.125
    weight = torch.empty(64, 256)
    nn.init.xavier_uniform_(weight)  # "sqrt(6/320) would be Xavier's uniform bound"
    assert math.sqrt(6 / 320) * 0.99 < weight.abs().max().item() <= math.sqrt(6 / 320)
    says("- [x] $1/\\sqrt{256} = 0.0625$")


def test_the_init_fragments_do_what_their_comments_say() -> None:
    space: dict[str, object] = {"nn": nn, "torch": torch}
    torch.manual_seed(0)
    exec(code_block("layer = nn.Linear(128, 128)"), space)
    layer = space["layer"]
    assert torch.count_nonzero(layer.bias) == 0
    assert abs(layer.weight.std().item() / math.sqrt(2 / 128) - 1) < 0.03  # Kaiming last
    exec(code_block("def init_weights("), space)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    space["init_weights"](model)
    assert all(torch.count_nonzero(m.bias) == 0 for m in model if isinstance(m, nn.Linear))
    assert abs(model[2].weight.std().item() / math.sqrt(2 / 256) - 1) < 0.05
    assert model[2].weight.abs().max().item() <= math.sqrt(6 / 256)  # the uniform bound


def test_the_spread_fragment_prints_one_std_per_activation() -> None:
    p = program()
    model = p.deep_mlp(3, 16, "tanh", nn.init.xavier_uniform_)
    x, _ = digits_batch()
    printed = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(printed):
        exec(code_block("h = x"), {"nn": nn, "model": model, "x": x})
    shown = [float(v) for v in printed.getvalue().split()]
    h, expected = x, []
    with torch.no_grad():
        for layer in model:
            h = layer(h)
            if isinstance(layer, nn.Tanh):
                expected.append(h.std().item())
    assert len(shown) == 3 and all(
        math.isclose(a, b, rel_tol=0.01) for a, b in zip(shown, expected, strict=True)
    )


def test_tanh_recommended_gain_is_five_thirds() -> None:
    assert math.isclose(nn.init.calculate_gain("tanh"), 5 / 3)
    says('`nn.init.calculate_gain("tanh")` recommends $5/3$ times Xavier\'s spread')


# --- exercises 2 and 3: what the text cites -------------------------------------------------


@cache
def exercise_output(path: Path) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        load_module(path).main()  # the solution asserts its own checks too
    return printed.getvalue()


def test_exercise_2_equal_units_stay_exactly_equal_and_one_random_layer_is_not_enough() -> None:
    rows = {
        int(n): (float(a), float(b), float(acc))
        for n, a, b, acc in re.findall(
            r"^ *(\d) +([\d.]+) +([\d.]+) +([\d.]+)$", exercise_output(EXERCISE_2), re.M
        )
    }
    assert sorted(rows) == [0, 1, 3]
    assert rows[0][:2] == (0.0, 0.0)  # "still differ by exactly 0.0000"
    assert rows[1][0] > 0.1 and rows[1][1] == 0.0  # "second layer's units stay exact copies"
    assert min(rows[3][:2]) > 0.1
    solution = load_module(EXERCISE_2)
    assert (solution.CONSTANT, solution.STEPS, solution.N_TRAIN) == (0.05, 100, 500)
    says("every weight starts at 0.05", "after 100 Adam steps the units of each hidden layer "
         "still differ by exactly 0.0000")  # fmt: skip


def test_exercise_3_puts_five_thirds_below_the_scale_where_most_units_saturate() -> None:
    out = exercise_output(EXERCISE_3)
    first = float(re.search(r"more than half saturated from scale ([\d.]+)", out).group(1))
    shares = dict(re.findall(r"^ *([\d.]+) +([\d.]+) +[\d.]+$", out, re.M))
    assert first > 5 / 3 and float(shares["1.75"]) < 0.5  # just above 5/3: far from half


# --- the program: what it prints ----------------------------------------------------------


def test_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "math", "collections", "torch", "sklearn"}
    source = PROGRAM.read_text(encoding="utf-8")
    assert "pick_device()" in source and ".to(device)" in source
    lesson = load_lesson(lesson_path("3.3"))
    assert lesson.programs == (PROGRAM,)
    assert source.rstrip() in lesson.sections["In depth"]
    before = RAW[: RAW.index("{{program: lessons/programs/lesson_3_3.py}}")]
    assert before.rstrip().endswith(":")
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"


def test_the_programs_settings_are_the_ones_the_lesson_states() -> None:
    p = program()
    assert (p.DEPTH, p.WIDTH, p.N_TRAIN) == (15, 128, 500)
    assert (p.TRAIN_DEPTH, p.TRAIN_WIDTH, p.STEPS, p.LR) == (10, 32, 40, 3e-3)
    assert (p.SMALL, p.LARGE) == (0.1, 3.0)
    assert len(p.starts("tanh")) == len(p.RUNS) == 6  # "six ways", "from six starts"
    assert len(load_digits().target) - p.N_TRAIN == 1297
    says("starts a deep MLP six ways", "a deep MLP, 15 hidden layers of 128 units, on 500 digits")
    says("10 hidden layers of 32 units, from six starts for 40 full-batch Adam steps (lr 0.003)")
    says("the other 1,297 digits validate")


def test_class_2_is_the_most_common_of_the_500_training_digits() -> None:
    p = program()
    order = torch.randperm(1797, generator=torch.Generator().manual_seed(p.SEED))
    labels = torch.tensor(load_digits().target)[order[: p.N_TRAIN]]
    counts = torch.bincount(labels, minlength=10)
    assert counts.argmax().item() == 2 and counts[2].item() == 60
    says("the most common of its 500 training digits (60 of them)")


def program_output() -> str:
    return _runs[-1].output("3.3")


def signal_table() -> dict[tuple[str, str], list[float]]:
    """Part 2: (activation, start) -> std at layers 1, 5, 10, 15, grad at layers 1, 8, 15."""
    table, activation = {}, ""
    part2 = program_output().split("part 2:")[1].split("part 3:")[0]
    for line in part2.splitlines():
        if line.startswith(("tanh ", "relu ")) and "std 1" in line:
            activation = line.split()[0]
            continue
        match = re.match(r"^(\S+(?: \S+)?) +((?:-?[\d.]+e[+-]\d+ *){7})$", line)
        if match:
            table[activation, match.group(1)] = [float(v) for v in match.group(2).split()]
    assert len(table) == 12
    return table


QUOTED = [  # (what the lesson says, what the program prints)
    ("Xavier's $\\sigma = \\sqrt{2/256} = 0.0884$", "xavier_uniform_ 0.0884 0.0880 0.1531 0.1531"),
    ("Kaiming's $\\sqrt{2/128} = 0.1250$", "kaiming_uniform_ 0.1250 0.1245 0.2165 0.2165"),
    ("(0.0880 to 0.0883, and 0.1245 to 0.1249)", "xavier_normal_ 0.0884 0.0883 - 0.3429"),
    ("the normal forms reach 0.3429 and 0.4849", "kaiming_normal_ 0.1250 0.1249 - 0.4849"),
    ("$\\sqrt{3}\\,\\sigma$, 0.1531 and 0.2165", "kaiming_uniform_ 0.1250 0.1245 0.2165 0.2165"),
    ("The default draws $\\sigma = 0.0510$ within $1/\\sqrt{128} = 0.0884$",
     "default 0.0510 0.0511 0.0884 0.0884"),
    ("layer 1's spread is 0.0788, layer 5's $8.67 \\cdot 10^{-6}$, "
     "layer 15's $7.10 \\cdot 10^{-16}$", "0.1x kaiming 7.88e-02 8.67e-06 9.76e-11 7.10e-16"),
    ("from 2.36 at layer 1 to $1.02 \\cdot 10^7$ at layer 15",
     "3x kaiming 2.36e+00 2.11e+02 5.76e+04 1.02e+07"),
    ("28.5% of the values are beyond 0.99, and the mean slope is 0.304 against 0.967",
     "layer 15: 28.5% of values at |a| > 0.99, mean slope 0.304"),
    ("against 0.967 with Xavier", "layer 15: 0.0% of values at |a| > 0.99, mean slope 0.967"),
    ("The gradient at layer 1 is 56.7 against 1.29 at layer 15", "5.67e+01 7.89e+00 1.29e+00"),
    ("tanh's spread drifts from 0.529 at layer 1 to 0.182 at layer 15",
     "xavier 5.29e-01 2.97e-01 2.13e-01 1.82e-01"),
    ("gradients at layers 1, 8 and 15 are 0.505, 0.550 and 0.566",
     "1.82e-01 5.05e-01 5.50e-01 5.66e-01"),
    ("ReLU's spread at layers 1, 5, 10 and 15 is 0.79, 0.87, 0.98 and 0.71",
     "kaiming 7.88e-01 8.67e-01 9.76e-01 7.10e-01"),
    ("grow only from 0.665 at layer 1 to 2.81 at layer 15", "7.10e-01 6.65e-01 2.24e+00 2.81e+00"),
    ("down to $3.20 \\cdot 10^{-3}$", "xavier 4.55e-01 1.25e-01 2.49e-02 3.20e-03"),
    ("the spread falls from 0.325 to about 0.033", "default 3.25e-01 3.44e-02 3.32e-02 3.26e-02"),
    ("layer 1's gradient, $1.13 \\cdot 10^{-6}$", "3.26e-02 1.13e-06"),
    ("2.298 after 40 steps, and 0.090 validation accuracy", "relu zeros 2.303 2.298 0.120 0.090"),
    ("Afterwards every weight is still 0.0",
     "largest |w| of any layer 0.0; hidden units differ by at most 0.0"),
    ("for 100% of the validation digits, and scores 0.090",
     "class 2 predicted for 100% of val digits (0.090 are)"),
    ("the loss only falls to 1.813, for 0.187 validation accuracy",
     "tanh 0.1x xavier 2.303 1.813 0.204 0.187"),
    ("tanh with Xavier reaches 0.898 on validation", "tanh xavier 2.387 0.141 0.984 0.898"),
    ("ReLU with Kaiming 0.809", "relu kaiming 2.759 0.068 0.982 0.809"),
    ("starts at a loss of 246,306 and ends at 3,639, with 0.276 on validation",
     "relu 3x kaiming 246306.344 3639.175 0.478 0.276"),
    ("Its training loss falls to 0.373 and it gets 0.934 of its training digits right, yet only "
     "0.199 on validation", "tanh 3x xavier 5.468 0.373 0.934 0.199"),
    ("memorised its training digits (0.934) while validation stayed at 0.199",
     "tanh 3x xavier 5.468 0.373 0.934 0.199"),
]  # fmt: skip


def test_program_prints_what_the_lesson_quotes() -> None:
    printed = " ".join(program_output().split())
    for in_lesson, in_output in QUOTED:
        assert in_lesson in TEXT, f"the lesson no longer says {in_lesson!r}"
        assert in_output in printed, f"the program no longer prints {in_output!r}"


def test_program_signal_table_supports_the_lessons_readings() -> None:
    table = signal_table()
    for activation in ("tanh", "relu"):  # zeros: nothing comes through, no gradient at all
        assert table[activation, "zeros"] == [0.0] * 7
    for key in (("tanh", "0.1x xavier"), ("relu", "0.1x kaiming")):
        assert all(1e-16 < g < 1e-14 for g in table[key][4:])  # "about 10^-15 in every layer"
    relu_big = table["relu", "3x kaiming"]
    assert all(g >= 1e7 for g in relu_big[4:])  # "gradients of 10^7 and more"
    tanh_big = table["tanh", "3x xavier"]
    assert all(abs(s - 0.835) < 0.03 for s in tanh_big[:4])  # "stops at about 0.835"
    assert tanh_big[4] > 40 * tanh_big[6]  # the gradient grows towards the input
    # "Xavier ... from layer 5 to 15 the spread shrinks by about 0.69 per layer"
    relu_xavier = table["relu", "xavier"]
    per_layer = (relu_xavier[3] / relu_xavier[1]) ** (1 / 10)
    assert f"{per_layer:.2f}" == "0.69" and f"{1 / math.sqrt(2):.2f}" == "0.71"
    says("shrinks by about 0.69 per layer, close to $1/\\sqrt{2} \\approx 0.71$")
    tanh_kaiming = table["tanh", "kaiming"]
    assert all(abs(s - 0.55) < 0.015 for s in tanh_kaiming[1:4])  # "settles near 0.55"
    default = table["relu", "default"]
    assert abs(default[3] - 0.033) < 0.001 and abs(default[1] - 0.033) < 0.002
    assert round(default[6] / default[4], -2) == 5800  # "about 5,800 times smaller"
    says("about 5,800 times smaller than layer 15's")
    # Kaiming with ReLU "grow only from 0.665 ... to 2.81": within a factor of 5
    kaiming = table["relu", "kaiming"]
    assert max(kaiming[4:]) / min(kaiming[4:]) < 5


def test_program_part_1_drawn_stds_match_the_formulas() -> None:
    rows = {
        name: [None if v == "-" else float(v) for v in rest]
        for name, *rest in re.findall(
            r"^(\w+) +([\d.]+) +([\d.]+) +([\d.]+|-) +([\d.]+)$", program_output(), re.M
        )
    }
    assert set(rows) == {
        "default", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"
    }  # fmt: skip
    for formula, drawn, bound, largest in rows.values():
        assert abs(drawn / formula - 1) < 0.01
        if bound is not None:
            assert largest <= bound and math.isclose(bound, math.sqrt(3) * formula, rel_tol=1e-3)
        else:
            assert 3.5 < largest / formula < 4  # "almost four sigma out"
    assert rows["xavier_uniform_"][0] == round(math.sqrt(2 / 256), 4)
    assert rows["kaiming_uniform_"][0] == round(math.sqrt(2 / 128), 4)
    assert rows["default"][2] == round(1 / math.sqrt(128), 4)
