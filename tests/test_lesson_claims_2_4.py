"""Lesson 2.4: every formula and number the text states, checked by running code.

Each test names the claim it checks. The lesson's complete program starts in the
background when this module begins (its own process, on the CPU, without the app on the
path); the tests that read what it printed come last, so the others run in the meantime.
The exercise solutions whose numbers the text quotes run in this process (tests/
test_lessons.py runs every solution on its own as well).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import math
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from engine.config import default_config
from engine.data import load_data
from engine.training import build_parts
from engine.variants import apply_variant
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    check_stands_alone,
    flat_lesson_text,
    lesson_section,
    lesson_text,
    load_module,
)

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons/programs/lesson_2_4.py"
SOLUTIONS = {f"ex{n}": ROOT / f"lessons/solutions/lesson_2_4_ex{n}.py" for n in (1, 2, 3)}
TIMEOUT_S = 120
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def programs_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"program": PROGRAM}, TIMEOUT_S))
    yield
    _runs.pop().stop()


def printed() -> str:
    """What the program printed, with every run of white space as one space."""
    return " ".join(_runs[-1].output("program").split())


@functools.cache
def solution_output(name: str) -> str:
    """What an exercise solution's main() prints (it asserts its own checks as it runs)."""
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        load_module(SOLUTIONS[name]).main()
    return shown.getvalue()


raw_text = partial(lesson_text, "2.4")
flat_text = partial(flat_lesson_text, "2.4")
section = partial(lesson_section, "2.4")


def fragment(marker: str) -> str:
    """The one Python fragment of In depth that contains `marker`."""
    found = [
        b for b in re.findall(r"```python\n(.*?)```", section("In depth"), re.S) if marker in b
    ]
    assert len(found) == 1, f"expected one fragment with {marker!r}"
    return found[0]


def run_fragment(code: str, **names: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {"torch": torch, "nn": nn, **names}
    exec(compile(code, "<lesson 2.4 fragment>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return load_module(PROGRAM)


@pytest.fixture(scope="module")
def digits(program: ModuleType) -> tuple[Tensor, Tensor, Tensor]:
    """(raw pixels, standardised inputs, labels), as the program loads them."""
    pixels, labels = program.load_pixels(torch.device("cpu"))
    return pixels, program.standardise(pixels), labels


def slopes(fn: Any, z: Tensor) -> Tensor:
    z = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(z).sum(), z)
    return grad


GRID = torch.arange(-6000, 6001, dtype=torch.float64) / 1000  # contains 0 exactly


# --- the math: slopes, the backward rule, depth, saturation, dead units -------------------


def test_2_4_table_sigmoid_and_tanh_slopes_peak_at_a_quarter_and_one_at_zero() -> None:
    s, t = torch.sigmoid(GRID), torch.tanh(GRID)
    sigmoid_slope, tanh_slope = slopes(torch.sigmoid, GRID), slopes(torch.tanh, GRID)
    assert torch.allclose(sigmoid_slope, s * (1 - s))  # sigma' = sigma (1 - sigma)
    assert torch.allclose(tanh_slope, 1 - t**2)  # tanh' = 1 - tanh^2
    assert sigmoid_slope.max().item() == 0.25 and GRID[sigmoid_slope.argmax()] == 0
    assert tanh_slope.max().item() == 1.0 and GRID[tanh_slope.argmax()] == 0
    assert sigmoid_slope.min() > 0 and tanh_slope.min() > 0  # "above 0"
    # "multiplies two numbers that add up to 1, so it peaks when both are 1/2, at 1/4"
    a = torch.linspace(0, 1, 10_001, dtype=torch.float64)
    assert (a * (1 - a)).max().item() == 0.25 and a[(a * (1 - a)).argmax()] == 0.5
    table = section("The math")
    assert (
        "| sigmoid | $\\sigma(z) = \\frac{1}{1 + e^{-z}}$ | $\\sigma(z)\\,(1 - \\sigma(z))$"
        in table
    )
    assert "at most $\\frac{1}{4}$ (at $z = 0$)" in table and "at most 1 (at $z = 0$)" in table


def test_2_4_table_relu_and_leaky_relu_slopes() -> None:
    relu, leaky = slopes(torch.relu, GRID), slopes(nn.functional.leaky_relu, GRID)
    assert set(relu.tolist()) == {0.0, 1.0} and relu[GRID == 0].item() == 0.0
    assert set(leaky.tolist()) == {0.01, 1.0}
    assert nn.LeakyReLU().negative_slope == 0.01  # max(0.01 z, z) is PyTorch's default
    assert torch.equal(nn.functional.leaky_relu(GRID), torch.maximum(0.01 * GRID, GRID))
    assert "0 or 1 (PyTorch uses 0 at $z = 0$)" in section("The math")
    assert "| LeakyReLU | $\\max(0.01 z, z)$ |" in section("The math")


def test_2_4_table_gelu_is_z_phi_and_its_slope_runs_from_minus_0_13_to_1_13() -> None:
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    assert torch.allclose(nn.functional.gelu(GRID), GRID * normal.cdf(GRID))
    gelu = slopes(nn.functional.gelu, GRID)
    formula = normal.cdf(GRID) + GRID * normal.log_prob(GRID).exp()  # Phi + z phi
    assert torch.allclose(gelu, formula)
    assert round(gelu.min().item(), 2) == -0.13 and round(gelu.max().item(), 2) == 1.13
    assert math.isclose(GRID[gelu.argmin()].item(), -math.sqrt(2), abs_tol=1e-3)
    assert math.isclose(GRID[gelu.argmax()].item(), math.sqrt(2), abs_tol=1e-3)
    assert "about $-0.13$ to $1.13$ (at $z = \\mp\\sqrt{2}$)" in section("The math")


def test_2_4_backward_rule_delta_l_gives_every_weight_gradient() -> None:
    # delta_l = f'(z_l) * (W_{l+1}^T delta_{l+1}),  dL/dW_l = delta_l h_{l-1}^T
    torch.manual_seed(0)
    sizes = (5, 7, 6, 3)
    layers = [nn.Linear(a, b).double() for a, b in zip(sizes, sizes[1:], strict=False)]
    x = torch.randn(1, 5, dtype=torch.float64)
    h, zs, hs = x, [], [x]
    for number, layer in enumerate(layers):
        z = layer(h)
        zs.append(z)
        h = torch.sigmoid(z) if number < len(layers) - 1 else z
        hs.append(h)
    loss = (h**2).sum()
    loss.backward()
    delta = (2 * h).detach().T  # dL/dz of the output layer, as a column
    for number in reversed(range(len(layers))):
        grad = delta @ hs[number].detach()  # delta_l h_{l-1}^T
        assert torch.allclose(grad, layers[number].weight.grad)
        if number:
            s = torch.sigmoid(zs[number - 1]).detach().T
            delta = s * (1 - s) * (layers[number].weight.detach().T @ delta)
    assert "\\delta_l = f'(z_l) \\odot \\left(W_{l+1}^\\top \\delta_{l+1}\\right)" in raw_text()


def test_2_4_through_depth_one_slope_and_one_weight_per_layer() -> None:
    # dL/dz_1 = dL/dz_{n+1} * prod w_{l+1} f'(z_l); sigmoid slopes alone shrink it 4^n times
    n = 11
    generator = torch.Generator().manual_seed(0)
    weights = 3 * torch.randn(n + 1, generator=generator, dtype=torch.float64)
    z1 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    z, zs = z1, []
    for layer in range(n):
        zs.append(z)
        z = weights[layer + 1] * torch.sigmoid(z) + 0.1
    z.backward()  # L = z_{n+1}: dL/dz_{n+1} = 1
    product = math.prod(
        weights[layer + 1].item()
        * (torch.sigmoid(zs[layer]) * (1 - torch.sigmoid(zs[layer]))).item()
        for layer in range(n)
    )
    assert math.isclose(z1.grad.item(), product, rel_tol=1e-9)
    slopes_only = math.prod(
        (torch.sigmoid(v) * (1 - torch.sigmoid(v))).item() for v in zs
    )  # fmt: skip
    assert slopes_only <= 0.25**n
    # "Only weights larger than 4 (on average) could make up for it"
    assert 4.0**n * 0.25**n == 1.0
    assert 4**11 == 4_194_304 and round(4**11 / 1e6) == 4
    text = flat_text()
    assert "$4^{11} = 4{,}194{,}304$, about 4 million" in text
    assert "\\prod_{l=1}^{n} w_{l+1}\\, f'(z_l)" in text


def test_2_4_saturation_thresholds_and_slopes() -> None:
    ln99, artanh = math.log(99), math.atanh(0.99)
    assert f"{ln99:.2f}" == "4.60" and f"{artanh:.2f}" == "2.65"
    z = torch.tensor([ln99, -ln99], dtype=torch.float64)
    assert torch.allclose(torch.sigmoid(z), torch.tensor([0.99, 0.01], dtype=torch.float64))
    assert math.isclose(0.99 * 0.01, 0.0099) and math.isclose(1 - 0.99**2, 0.0199)
    assert round(0.25 / 0.0099) == 25 and round(1 / 0.0199) == 50
    beyond = torch.linspace(ln99 + 1e-6, 30, 1000, dtype=torch.float64)
    assert slopes(torch.sigmoid, beyond).max() < 0.0099
    assert slopes(torch.sigmoid, -beyond).max() < 0.0099
    beyond = torch.linspace(artanh + 1e-6, 30, 1000, dtype=torch.float64)
    assert slopes(torch.tanh, beyond).max() < 0.0199
    assert torch.tanh(torch.tensor(artanh, dtype=torch.float64)).item() == pytest.approx(0.99)
    math_section = section("The math")
    assert "|z| > \\ln 99 \\approx 4.60" in math_section
    assert "|z| > \\operatorname{artanh} 0.99 \\approx 2.65" in math_section
    assert "$0.99 \\cdot 0.01 = 0.0099$, about 25 times" in math_section
    assert "$1 - 0.99^2 = 0.0199$, about 50 times" in math_section


def test_2_4_a_dead_unit_gets_exactly_zero_gradient_and_sgd_and_adam_leave_it() -> None:
    torch.manual_seed(0)
    layer, head = nn.Linear(4, 3), nn.Linear(3, 2)
    with torch.no_grad():
        layer.bias[1] = -100.0  # unit 1 is 0 for every example
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    h = torch.relu(layer(x))
    dead = (h == 0).all(dim=0)
    assert dead.tolist() == [False, True, False]
    assert (dead.float().mean() * 3).item() == 1  # dead_l = (1/U) sum of the indicator
    for optimizer_class in (torch.optim.SGD, torch.optim.Adam):
        model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        model[0].load_state_dict(layer.state_dict())
        model[2].load_state_dict(head.state_dict())
        optimizer = optimizer_class(model.parameters(), lr=0.1)
        before = model[0].weight[1].clone(), model[0].bias[1].clone()
        for _ in range(5):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            assert not model[0].weight.grad[1].any() and model[0].bias.grad[1] == 0
            assert model[0].weight.grad[0].any()  # a living unit does get a gradient
            optimizer.step()
        assert torch.equal(model[0].weight[1], before[0])
        assert torch.equal(model[0].bias[1], before[1])


# --- in depth: the fragments, and hooks ------------------------------------------------


def test_2_4_hook_fragment_records_mean_std_saturation_and_dead(
    program: ModuleType, digits: tuple[Tensor, Tensor, Tensor]
) -> None:
    _, x, _ = digits
    code = fragment("register_forward_hook(measure(name))")
    for activation in ("relu", "sigmoid", "tanh"):
        model = program.make_mlp(program.HIDDEN, activation)
        stats = run_fragment(code, model=model, inputs=x)["stats"]
        assert sorted(stats) == ["act1", "act2"]
        outputs = {}
        for name, layer in model.named_children():
            if name.startswith("act"):
                layer.register_forward_hook(
                    lambda m, a, o, name=name, store=outputs: store.__setitem__(name, o.detach())
                )
        model(x)
        for name, out in outputs.items():
            assert stats[name]["mean"] == pytest.approx(out.mean().item())
            assert stats[name]["std"] == pytest.approx(out.std().item())
            flat = program.saturated(out, activation).float().mean().item()
            assert stats[name]["saturated"] == pytest.approx(flat)
            assert stats[name]["dead"] == (out == 0).all(dim=0).float().mean().item()
        assert all(not layer._forward_hooks for layer in model if isinstance(layer, nn.Linear))
    # the fragment removed its own hooks: only the test's one is left on each layer
    assert all(
        len(layer._forward_hooks) == 1 for name, layer in model.named_children() if "act" in name
    )


def test_2_4_hooks_return_nothing_replace_when_they_return_stay_until_removed() -> None:
    layer, calls = nn.ReLU(), []
    x = torch.tensor([-1.0, 2.0])
    handle = layer.register_forward_hook(lambda m, args, out: calls.append(args))
    assert torch.equal(layer(x), torch.tensor([0.0, 2.0]))  # returning None: unchanged
    assert isinstance(calls[0], tuple) and torch.equal(calls[0][0], x)  # args: the inputs
    layer(x)
    assert len(calls) == 2  # still attached
    handle.remove()
    layer(x)
    assert len(calls) == 2
    layer.register_forward_hook(lambda m, args, out: out * 10)
    assert torch.equal(layer(x), torch.tensor([0.0, 20.0]))  # returning a tensor replaces

    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, inputs: Tensor) -> Tensor:
            return torch.relu(self.fc(inputs))

    assert not any(isinstance(m, nn.ReLU) for m in Functional().modules())  # nothing to hook


def test_2_4_bias_fragment_sets_every_hidden_bias_to_minus_3(program: ModuleType) -> None:
    model = program.make_mlp(program.HIDDEN, "relu")
    out_bias = model.out.bias.clone()
    run_fragment(fragment("bias.fill_(-3.0)"), model=model)
    assert (model.fc1.bias == -3).all() and (model.fc2.bias == -3).all()
    assert torch.equal(model.out.bias, out_bias)


def test_2_4_gradient_fragment_prints_every_weights_norm(
    program: ModuleType, digits: tuple[Tensor, Tensor, Tensor]
) -> None:
    _, x, y = digits
    model = program.make_mlp(program.DEEP, "sigmoid")
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        run_fragment(fragment("param.grad.norm()"), model=model, inputs=x, targets=y)
    lines = shown.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == [f"fc{n}.weight" for n in range(1, 12)] + [
        "out.weight"
    ]
    assert float(lines[0].split()[1]) < 1e-6 * float(lines[-1].split()[1])


def test_2_4_raw_pixels_spread_the_weighted_inputs_about_eight_times_wider(
    program: ModuleType, digits: tuple[Tensor, Tensor, Tensor]
) -> None:
    pixels, x, _ = digits
    model = program.make_mlp(program.HIDDEN, "tanh")  # the same fc1 for sigmoid and tanh
    assert torch.equal(model.fc1.weight, program.make_mlp(program.HIDDEN, "sigmoid").fc1.weight)
    with torch.no_grad():
        raw = (pixels @ model.fc1.weight.T).std().item()  # w . x, before the bias
        standardised = (x @ model.fc1.weight.T).std().item()
    assert f"{raw:.2f}" == "4.31" and f"{standardised:.2f}" == "0.55"
    assert round(raw / standardised) == 8
    assert "$w \\cdot x$ spread about eight times wider (std 4.31 against 0.55)" in flat_text()


def test_2_4_minus_3_is_five_spreads_below_and_the_second_layer_sits_near_it(
    program: ModuleType, digits: tuple[Tensor, Tensor, Tensor]
) -> None:
    _, x, _ = digits
    model = program.make_mlp(program.HIDDEN, "relu")
    run_fragment(fragment("bias.fill_(-3.0)"), model=model)
    with torch.no_grad():
        weighted = x @ model.fc1.weight.T
        z2 = model.fc2(model.act1(model.fc1(x)))
    assert abs(weighted.mean().item()) < 1e-5  # "mean 0"
    assert 3 / weighted.std().item() > 5  # "more than five spreads below the middle"
    assert abs(z2.mean().item() + 3) < 0.01 and z2.max().item() < 0  # "near -3": all dead
    assert (z2 + 3).abs().lt(0.1).float().mean().item() > 0.99
    assert "have mean 0 and std 0.5542, so $-3$ is more than five spreads below" in flat_text()


# --- try it: the demo's runs are the ones the text describes --------------------------------


def test_2_4_try_it_baseline_is_the_course_digits_mlp() -> None:
    meta = load_lesson(lesson_path("2.4"))
    assert meta.variants == ("dead_relu", "vanishing_gradients")
    front = re.match(r"\+\+\+\n(.*?)\n\+\+\+", raw_text(), re.S)
    assert front and 'baseline = { dataset = "digits" }' in front.group(1)
    config = default_config(dataset="digits")
    assert config.hidden == (128, 64) and config.activation == "relu" and config.model == "mlp"
    assert (config.optimizer, config.lr, config.batch_size, config.epochs) == ("adam", 1e-3, 32, 20)
    data = load_data(config)
    assert math.prod(data.input_shape) == 64 and data.n_classes == 10
    assert (
        "(64 inputs, hidden layers of 128 and 64 ReLU units, 10 classes, Adam at learning rate "
        "0.001, batches of 32, 20 epochs)" in flat_text()
    )


def test_2_4_try_it_vanishing_gradients_is_11_sigmoid_layers_of_32_with_sgd_0_1() -> None:
    broken = apply_variant(default_config(dataset="digits"), "vanishing_gradients")
    assert broken.hidden == (32,) * 11 and broken.activation == "sigmoid"
    assert (broken.optimizer, broken.lr) == ("sgd", 0.1)
    assert "11 hidden layers of 32 sigmoid units, trained with plain SGD at learning rate 0.1" in (
        flat_text()
    )


def test_2_4_try_it_dead_relu_starts_every_hidden_bias_at_minus_3() -> None:
    parts = build_parts(apply_variant(default_config(dataset="digits"), "dead_relu"))
    linears = [m for m in parts.model.modules() if isinstance(m, nn.Linear)]
    hidden, out = linears[:-1], linears[-1]
    assert len(hidden) == 2 and all((layer.bias == -3).all() for layer in hidden)
    assert not (out.bias == -3).all()
    with torch.no_grad():  # "far below where most weighted inputs land"
        weighted = parts.data.train.inputs.flatten(start_dim=1) @ hidden[0].weight.T
    assert torch.quantile(weighted.flatten(), 0.99).item() < 3
    assert "every hidden layer's bias starts at $-3$" in flat_text()


# --- the program and the solutions: standalone, and printing what the lesson quotes -------


def test_2_4_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "math", "collections", "torch", "sklearn"}
    source = PROGRAM.read_text(encoding="utf-8")
    main = next(
        node for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "main"
    )  # fmt: skip
    assert "pick_device()" in (ast.get_source_segment(source, main) or "")
    assert ".to(device" in source or ".to(x.device" in source
    lesson = load_lesson(lesson_path("2.4"))
    assert lesson.programs == (PROGRAM,)
    assert source.rstrip() in lesson.sections["In depth"]
    before = raw_text()[: raw_text().index("{{program: lessons/programs/lesson_2_4.py}}")]
    assert before.rstrip().endswith(":")
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"
    for path in SOLUTIONS.values():
        check_solution = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(check_solution):
            if isinstance(node, ast.FunctionDef):
                assert node.returns is not None, f"{path.name}: {node.name}"


# (what the lesson says, what the program prints): both must hold.
QUOTED = [
    (
        "50.51% in the first layer, 44.89% in the second",
        "relu act1 mean 0.2080 std 0.3337 zero 50.51% dead 0/128",
    ),
    (
        "50.51% in the first layer, 44.89% in the second",
        "relu act2 mean 0.0963 std 0.1397 zero 44.89% dead 0/64",
    ),
    (
        "(mean $-0.0025$, std 0.4268), only 0.20% saturated",
        "tanh act1 mean -0.0025 std 0.4268 saturated 0.20%",
    ),
    (
        "std 0.1247 in the first layer, 0.0672 in the second",
        "sigmoid act1 mean 0.4995 std 0.1247 saturated 0.03%",
    ),
    ("std 0.1247 in the first layer, 0.0672 in the second", "sigmoid act2 mean 0.5132 std 0.0672"),
    (
        "29.23% of the sigmoid's outputs and 54.40% of tanh's",
        "(0 to 16): sigmoid act1 mean 0.4989 std 0.4064 saturated 29.23%",
    ),
    (
        "29.23% of the sigmoid's outputs and 54.40% of tanh's",
        "tanh act1 mean -0.0013 std 0.9057 saturated 54.40%",
    ),
    ("mean 0 and std 0.5542", "fc1's weighted inputs w.x: std 0.5542,"),
    (
        "99.94% of the first layer's outputs are 0, and 54 of its 128 units are dead",
        "relu act1 mean 0.0006 std 0.0329 zero 99.94% dead 54/128",
    ),
    ("98.2% dead on average", "dead 54/128 dead per batch of 32: 98.2%"),
    ("all 64 of its units are dead", "zero 100.00% dead 64/64 dead per batch of 32: 100.0%"),
    (
        "only the output bias gets one (0.01921)",
        "gradient norms: fc1.weight 0 fc1.bias 0 fc2.weight 0 fc2.bias 0 out.weight 0 "
        "out.bias 0.01921",
    ),
    (
        "$2.94 \\cdot 10^{-1}$ and the first layer's $6.39 \\cdot 10^{-10}$",
        "fc1 6.39e-10 1.73e-07 6.06e-05 7.86e-01",
    ),
    ("$2.94 \\cdot 10^{-1}$", "out 2.94e-01 4.20e-01 1.84e-02 1.34e+00"),
    ("about 459 million times smaller", "out/fc1 4.59e+08 2.42e+06 303 1.71"),
    ("2.42 million times less", "out/fc1 4.59e+08 2.42e+06 303 1.71"),
    ("loses a factor of 303", "out/fc1 4.59e+08 2.42e+06 303 1.71"),
    ("within a factor of 1.71 of the last", "out/fc1 4.59e+08 2.42e+06 303 1.71"),
    ("0.163 per layer on average", "per layer 0.163 0.263 0.595 0.953"),
    ("(0.263 per layer)", "per layer 0.163 0.263 0.595 0.953"),
    ("(0.595 per layer)", "per layer 0.163 0.263 0.595 0.953"),
    ("(0.953 per layer)", "per layer 0.163 0.263 0.595 0.953"),
    ("mean slopes 0.233 to 0.247", "mean sigmoid slope per layer: 0.233 0.247 0.244"),
    ("multiply to $1.82 \\cdot 10^{-7}$", "their product 1.82e-07;"),
    ("the bound $0.25^{11} = 2.38 \\cdot 10^{-7}$", "at most 0.25^11 = 2.38e-07"),
    ("$4^{11} = 4{,}194{,}304$", "4^11 = 4,194,304"),
    ("all 1,797 standardised digits", "all 1797 examples standardised"),
]


def test_2_4_program_prints_what_the_lesson_quotes() -> None:
    output, text = printed(), flat_text()
    for in_lesson, in_output in QUOTED:
        assert in_lesson in text, f"the lesson no longer says {in_lesson!r}"
        assert in_output in output, f"the program no longer prints {in_output!r}"


def test_2_4_program_numbers_hang_together() -> None:
    output = _runs[-1].output("program")
    columns = re.search(r"^layer +(.+)$", output, re.M).group(1).split()
    assert columns == ["sigmoid", "sigmoid+xavier", "relu", "relu+kaiming"]
    rows = {
        name: [float(v) for v in values.split()]
        for name, values in re.findall(r"^(fc\d+|out) +([\d.e+\- ]+)$", output, re.M)
    }
    assert list(rows) == [f"fc{n}" for n in range(1, 12)] + ["out"]
    first, last = rows["fc1"], rows["out"]
    ratios = [b / a for a, b in zip(first, last, strict=True)]
    per_layer = [float(v) for v in re.search(r"^per layer +(.+)$", output, re.M).group(1).split()]
    for ratio, factor in zip(ratios, per_layer, strict=True):
        assert (1 / ratio) ** (1 / 11) == pytest.approx(factor, abs=1e-3)
    shown = [float(v) for v in re.search(r"^out/fc1 +(.+)$", output, re.M).group(1).split()]
    for ratio, value in zip(ratios, shown, strict=True):
        assert ratio == pytest.approx(value, rel=0.01)  # the table's own rows agree
    assert shown[0] > 100 * 4**11 and per_layer[0] < 0.25  # slopes AND small weights
    assert shown[1] > 4**11 / 2 and per_layer[1] < 0.3  # Xavier helps only a little
    assert (round(shown[0] / 1e6), shown[1] / 1e6) == (459, 2.42)
    assert 100 < shown[2] < 1000 and shown[3] < 2  # ReLU; ReLU with Kaiming
    slopes_shown = re.search(r"slope per layer: (.+)$", output, re.M).group(1).split()
    slope_values = [float(v) for v in slopes_shown]
    assert len(slope_values) == 11 and max(slope_values) < 0.25
    assert (min(slope_values), max(slope_values)) == (0.233, 0.247)
    assert math.prod(slope_values) <= 0.25**11
    product = float(re.search(r"their product ([\d.e+-]+);", output).group(1))
    assert product <= 0.25**11 and product > 1 / shown[0]  # the weights shrink it further


def test_2_4_exercise_1_prints_the_ranges_and_the_bound() -> None:
    output = " ".join(solution_output("ex1").split())
    gelu = re.search(r"gelu slope from (-?[\d.]+) to ([\d.]+)", output)
    assert gelu and (round(float(gelu.group(1)), 2), round(float(gelu.group(2)), 2)) == (
        -0.13,
        1.13,
    )
    assert "sigmoid slope from 0.0025 to 0.2500 (largest at z = +0.000)" in output
    assert "tanh slope from 0.0000 to 1.0000 (largest at z = +0.000)" in output
    assert "leaky_relu slope from 0.0100 to 1.0000" in output
    assert "(1/4)^11 = 2.384e-07 = 1 / 4,194,304" in output
    assert "$(1/4)^{11} = 1/4{,}194{,}304$" in flat_text()


def test_2_4_exercise_3_numbers_and_ln_10() -> None:
    output = solution_output("ex3")
    losses = {
        name: [float(v) for v in values.split()]
        for name, values in re.findall(r"^(\w+) .*loss after each epoch ([\d. ]+)$", output, re.M)
    }
    finals = tuple(f"{losses[name][-1]:.4f}" for name in ("sigmoid", "tanh", "relu"))
    assert finals == ("2.2916", "0.3694", "0.5133")
    assert f"{math.log(10):.3f}" == "2.303" and losses["sigmoid"][-1] < math.log(10)
    assert "sigmoid learns slowest" in output
    text = flat_text()
    assert "the sigmoid net ends at 2.2916, barely below $\\ln 10 = 2.303$" in text
    assert "tanh reaches 0.3694 and ReLU 0.5133" in text
    assert "with SGD at learning rate 0.05 for 3 epochs" in text
