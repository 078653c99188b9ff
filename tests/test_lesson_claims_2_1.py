"""Lesson 2.1: every formula and number the text states, checked by running code.

The lesson's program (lessons/programs/lesson_2_1.py) starts in the background when this
module begins (its own process, on the CPU, without the app on its path); the tests that
read what it printed come last, so the others run in the meantime.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import Tensor, nn

from engine.config import default_config
from engine.data import load_data
from engine.snapshots import snapshots
from engine.training import build_parts
from engine.variants import apply_variant
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    check_stands_alone,
    lesson_section,
    load_module,
)

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_2_1.py"
LESSON = load_lesson(lesson_path("2.1"))
RAW = lesson_path("2.1").read_text(encoding="utf-8")  # as written: the program not expanded
FLAT = " ".join(RAW.split())  # line breaks as spaces
_runs: list[BackgroundPrograms] = []


section = partial(lesson_section, "2.1")


@pytest.fixture(scope="module", autouse=True)
def program_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"2.1": PROGRAM}, timeout_s=90))
    yield
    _runs.pop().stop()


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return load_module(PROGRAM, "lesson_2_1_program")


def program_output() -> str:
    return _runs[-1].output("2.1")


# ---------------------------------------------------------------- the math: activations


def normal_cdf(z: Tensor) -> Tensor:
    return 0.5 * (1 + torch.erf(z / math.sqrt(2)))


def normal_pdf(z: Tensor) -> Tensor:
    return torch.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)


ALPHA = 0.01
# The table's row, as written, and the formula it states (written here independently).
TABLE: dict[str, tuple[str, nn.Module, Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "ReLU": (
        r"| ReLU | $\max(0, z)$ | $1$ if $z > 0$, else $0$ | `nn.ReLU()` |",
        nn.ReLU(),
        lambda z: torch.clamp(z, min=0),
        lambda z: (z > 0).to(z.dtype),
    ),
    "LeakyReLU": (
        r"| LeakyReLU | $z$ if $z > 0$, else $\alpha z$ | $1$ if $z > 0$, else $\alpha$ "
        r"| `nn.LeakyReLU()` |",
        nn.LeakyReLU(),
        lambda z: torch.where(z > 0, z, ALPHA * z),
        lambda z: torch.where(z > 0, torch.ones_like(z), torch.full_like(z, ALPHA)),
    ),
    "sigmoid": (
        r"| sigmoid | $\sigma(z) = \frac{1}{1 + e^{-z}}$ | $\sigma(z)\,(1 - \sigma(z))$ "
        r"| `nn.Sigmoid()` |",
        nn.Sigmoid(),
        lambda z: 1 / (1 + torch.exp(-z)),
        lambda z: (1 / (1 + torch.exp(-z))) * (1 - 1 / (1 + torch.exp(-z))),
    ),
    "tanh": (
        r"| tanh | $\tanh z = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}$ | $1 - \tanh^2 z$ "
        r"| `nn.Tanh()` |",
        nn.Tanh(),
        lambda z: (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z)),
        lambda z: 1 - torch.tanh(z) ** 2,
    ),
    "GELU": (
        r"| GELU | $z\,\Phi(z)$ | $\Phi(z) + z\,p(z)$ | `nn.GELU()` |",
        nn.GELU(),
        lambda z: z * normal_cdf(z),
        lambda z: normal_cdf(z) + z * normal_pdf(z),
    ),
    "identity": (
        r"| identity | $z$ | $1$ | `nn.Identity()` |",
        nn.Identity(),
        lambda z: z,
        torch.ones_like,
    ),
}


def autograd_slope(layer: nn.Module, z: Tensor) -> Tensor:
    z = z.clone().requires_grad_(True)
    layer(z).sum().backward()
    return z.grad


@pytest.mark.parametrize("name", list(TABLE))
def test_each_activation_and_its_derivative_match_pytorch_and_autograd(name: str) -> None:
    row, layer, g, slope = TABLE[name]
    assert row in RAW, f"the table no longer states {name} as {row}"
    z = torch.arange(-600, 601, dtype=torch.float64) / 100  # -6 to 6, z = 0 exactly included
    assert torch.allclose(g(z), layer(z), rtol=0, atol=1e-12)
    assert torch.allclose(slope(z), autograd_slope(layer, z), rtol=0, atol=1e-12)


def test_the_bullets_under_the_table() -> None:
    # alpha = 0.01 by default; GELU is z Phi(z) exactly (not the tanh approximation); p is
    # the slope of Phi; at 0 PyTorch takes slope 0 for ReLU and alpha for LeakyReLU.
    math_text = " ".join(section("The math").split())
    assert "LeakyReLU's slope for negative inputs, 0.01 by default" in math_text
    assert nn.LeakyReLU().negative_slope == ALPHA and nn.GELU().approximate == "none"
    assert r"$p(z) = e^{-z^2/2} / \sqrt{2\pi}$" in math_text
    z = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    normal_cdf(z).sum().backward()
    assert torch.allclose(z.grad, normal_pdf(z.detach()), atol=1e-12)
    zero = torch.zeros(1, dtype=torch.float64)
    assert autograd_slope(nn.ReLU(), zero).item() == 0.0
    assert autograd_slope(nn.LeakyReLU(), zero).item() == pytest.approx(ALPHA, abs=1e-15)
    assert "PyTorch uses the slope $0$ there ($\\alpha$ for LeakyReLU)" in math_text


def test_sigmoid_and_tanh_ranges_largest_slopes_and_fading() -> None:
    # "Sigmoid squeezes into (0, 1) with slope at most 1/4, tanh into (-1, 1) with slope at
    # most 1, both at z = 0. Far from zero their slopes fade towards 0."
    z = torch.arange(-2000, 2001, dtype=torch.float64) / 100
    for layer, low, high, top in ((nn.Sigmoid(), 0, 1, 0.25), (nn.Tanh(), -1, 1, 1.0)):
        values, slopes = layer(z), autograd_slope(layer, z)
        assert low <= values.min() and values.max() <= high
        assert slopes.max().item() == top and z[slopes.argmax()].item() == 0.0
        assert slopes[z.abs() >= 10].max() < 1e-4
    text = " ".join(section("The math").split())
    assert "Sigmoid squeezes into $(0, 1)$ with slope at most $\\frac{1}{4}$" in text
    assert "tanh into $(-1, 1)$ with slope at most $1$, both at $z = 0$" in text


def test_backward_multiplies_the_gradient_at_each_hidden_unit_by_the_slope() -> None:
    # "loss.backward() multiplies the gradient arriving at each hidden unit by g'(z) at the
    # z it saw in the forward pass": for z = W1 x + b1, h = g(z), out = v . h, the gradient
    # of out with respect to W1 is (v * g'(z)) outer x.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, dtype=torch.float64, generator=generator)
    v = torch.randn(8, dtype=torch.float64, generator=generator)
    for name in ("ReLU", "sigmoid", "tanh", "GELU"):
        _, layer, _, slope = TABLE[name]
        w1 = torch.randn(8, 2, dtype=torch.float64, generator=generator, requires_grad=True)
        pre = w1 @ x
        (v @ layer(pre)).backward()
        expected = torch.outer(v * slope(pre.detach()), x)
        assert torch.allclose(w1.grad, expected, atol=1e-12), name


def test_the_sigmoid_fragment_prints_true() -> None:
    fragment = next(
        block
        for block in re.findall(r"```python\n(.*?)```", section("In depth"), re.S)
        if "torch.sigmoid" in block
    )
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(fragment, {"torch": torch})
    assert printed.getvalue().strip() == "True"


def test_quick_check_sigmoid_slope_at_zero_is_a_quarter() -> None:
    z = torch.zeros(1, dtype=torch.float64)
    assert torch.sigmoid(z).item() == 0.5 and autograd_slope(nn.Sigmoid(), z).item() == 0.25
    assert autograd_slope(nn.Tanh(), z).item() == 1.0  # "1 is the slope of tanh at 0"
    question = LESSON.questions[1]
    assert question.options[question.correct] == r"$\frac{1}{4}$"


# ---------------------------------------------------------------- the math: linear maps


def test_linear_borders_are_where_two_scores_tie_and_regions_are_convex() -> None:
    # Border of classes i, j: (w_i - w_j)^T x + (b_i - b_j) = 0, a straight line; class i
    # wins exactly where it beats all K - 1 others (an overlap of half-planes), so every
    # class region is convex.
    torch.manual_seed(3)
    generator = torch.Generator().manual_seed(3)
    layer = nn.Linear(2, 3).double()
    w, b = layer.weight.detach(), layer.bias.detach()
    i, j = 0, 1
    normal, offset = w[i] - w[j], b[i] - b[j]
    along = torch.tensor([-normal[1], normal[0]])
    start = -offset * normal / normal.dot(normal)  # one point of the line
    on_line = start + torch.linspace(-5, 5, 101, dtype=torch.float64).unsqueeze(1) * along
    with torch.no_grad():
        scores = layer(on_line)
        assert torch.allclose(scores[:, i], scores[:, j], atol=1e-12)
        nudge = 1e-3 * normal / normal.norm()
        assert (layer(on_line + nudge)[:, i] > layer(on_line + nudge)[:, j]).all()
        assert (layer(on_line - nudge)[:, i] < layer(on_line - nudge)[:, j]).all()

        points = 4 * torch.randn(4000, 2, dtype=torch.float64, generator=generator)
        classes = layer(points).argmax(dim=1)
        for k in range(3):
            others = [m for m in range(3) if m != k]
            wins = torch.stack([(points @ (w[k] - w[m]) + b[k] - b[m]) > 0 for m in others])
            assert torch.equal(wins.all(dim=0), classes == k)
            members = points[classes == k]
            a, c = members[:1000], members.flip(0)[:1000]
            share = torch.rand(len(a), 1, dtype=torch.float64)
            between = share * a + (1 - share) * c
            assert (layer(between).argmax(dim=1) == k).all()  # convex


def stack(widths: tuple[int, ...], activation: type[nn.Module], seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths, widths[1:], strict=False):
        layers += [nn.Linear(n_in, n_out).double(), activation()]
    return nn.Sequential(*layers[:-1])


@pytest.mark.parametrize(
    "widths", [(2, 64, 64, 3), (2, 5, 3), (3, 16, 16, 16, 16, 4), (2, 128, 128, 128, 3)]
)
def test_stacked_linear_layers_are_one_linear_layer(widths: tuple[int, ...]) -> None:
    # z = W3 (W2 (W1 x + b1) + b2) + b3 = (W3 W2 W1) x + (W3 W2 b1 + W3 b2 + b3), for any
    # depth and width: the product is one K x 2 matrix.
    model = stack(widths, nn.Identity, seed=len(widths))
    linears = [m for m in model if isinstance(m, nn.Linear)]
    weight = linears[0].weight
    bias = linears[0].bias
    for layer in linears[1:]:
        weight, bias = layer.weight @ weight, layer.weight @ bias + layer.bias
    assert weight.shape == (widths[-1], widths[0])
    x = torch.randn(500, widths[0], dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(model(x), x @ weight.T + bias, atol=1e-12)
    if len(linears) == 3:  # the formula exactly as the lesson writes it
        (w1, b1), (w2, b2), (w3, b3) = ((m.weight, m.bias) for m in linears)
        assert torch.allclose(w3 @ w2 @ w1, weight) and torch.allclose(
            w3 @ w2 @ b1 + w3 @ b2 + b3, bias
        )
    text = " ".join(section("The math").split())
    assert "= (W_3 W_2 W_1)\\, x + (W_3 W_2 b_1 + W_3 b_2 + b_3)" in text


def test_a_real_activation_blocks_the_substitution(program: ModuleType) -> None:
    # g(u + v) != g(u) + g(v), so the product of the weights no longer gives the network.
    u, v = torch.tensor(1.0), torch.tensor(-1.0)
    assert torch.relu(u + v) != torch.relu(u) + torch.relu(v)
    relu_mlp = program.build_model(program.HIDDEN, "relu")
    single = program.collapse(relu_mlp)
    x = torch.randn(600, 2)
    with torch.no_grad():
        assert (relu_mlp(x) - single(x)).abs().max() > 0.05


def test_a_relu_network_is_piecewise_linear_and_a_tanh_network_is_not() -> None:
    # Along a straight path through the plane, a ReLU MLP's output is linear between kinks:
    # its second differences are zero at most points, but not all (it bends somewhere).
    t = torch.linspace(-1.5, 1.5, 3001, dtype=torch.float64).unsqueeze(1)
    path = t * torch.tensor([[0.8, 0.6]], dtype=torch.float64) + 0.1
    for activation, straight in ((nn.ReLU, True), (nn.Tanh, False)):
        model = stack((2, 64, 64, 3), activation, seed=0)
        with torch.no_grad():
            second = model(path).diff(n=2, dim=0).abs().max(dim=1).values
        flat = (second < 1e-12).float().mean().item()
        if straight:
            assert 0.9 < flat < 1.0
        else:
            assert flat < 0.05


def test_the_identity_mlp_still_gets_gradients_and_trains(program: ModuleType) -> None:
    # Quick check: "The gradients are not zero, so the stack trains".
    model = program.build_model(program.HIDDEN, "identity")
    assert all(isinstance(m, nn.Identity) for m in model[1::2][:-1])
    x, y = program.make_spirals(torch.Generator().manual_seed(0))
    first = nn.functional.cross_entropy(model(x), y)
    first.backward()
    assert all(p.grad.abs().sum() > 0 for p in model.parameters())
    with torch.no_grad():  # one plain SGD step (torch.optim's first use is slow to import)
        for p in model.parameters():
            p -= 0.1 * p.grad
    assert nn.functional.cross_entropy(model(x), y) < first


# ---------------------------------------------------------------- the program's pieces


def test_program_is_standalone_and_shown_in_depth_after_a_sentence() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "math", "torch"}
    assert LESSON.programs == (PROGRAM,)
    in_depth = section("In depth")
    before = in_depth[: in_depth.index("{{program: lessons/programs/lesson_2_1.py}}")]
    assert before.rstrip().endswith(":") and "python lessons/programs/lesson_2_1.py" in before


def test_in_depth_fragments_are_the_programs_own_lines() -> None:
    source = {line.strip() for line in PROGRAM.read_text(encoding="utf-8").splitlines()}
    blocks = re.findall(r"```python\n(.*?)```", section("In depth"), re.S)
    shown = [block for block in blocks if "torch.sigmoid" not in block]
    assert len(shown) == 3
    for block in shown:
        for line in block.splitlines():
            assert line.strip() in source, f"not in the program: {line}"


def test_the_spirals_wind_one_turn_so_every_direction_crosses_every_arm(
    program: ModuleType,
) -> None:
    # "angle ... grows by one full turn"; "ends on the unit circle"; "a walk outwards in any
    # direction crosses all three arms"; 600 points, 480 to train and 120 to test.
    assert (program.ARMS, program.PER_ARM, program.TURNS, program.TEST_SIZE) == (3, 200, 1.0, 120)
    x, y = program.make_spirals(torch.Generator().manual_seed(program.SEED))
    assert x.shape == (600, 2) and torch.equal(y.bincount(), torch.tensor([200, 200, 200]))
    assert math.isclose(x.norm(dim=1).max().item(), 1.0, abs_tol=1e-6)
    angles = torch.atan2(x[:, 1], x[:, 0])
    for direction in torch.linspace(-math.pi, math.pi, 72):
        gap = torch.remainder(angles - direction + math.pi, 2 * math.pi) - math.pi
        near = gap.abs() < 0.15
        assert set(y[near].tolist()) == {0, 1, 2}, direction


def test_mlp_shapes_and_parameter_counts(program: ModuleType) -> None:
    # W1: 64 x 2, W2: 64 x 64, W3: K x 64; no activation after the output layer;
    # 4,547 parameters in the MLP, 9 in logistic regression.
    mlp = program.build_model((64, 64), "relu")
    weights = [tuple(m.weight.shape) for m in mlp if isinstance(m, nn.Linear)]
    assert weights == [(64, 2), (64, 64), (3, 64)] and isinstance(mlp[-1], nn.Linear)
    assert program.count_parameters(mlp) == 2 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3 == 4547
    assert program.count_parameters(program.build_model(())) == 2 * 3 + 3 == 9
    start = program.build_model((64, 64), "identity").state_dict()
    assert all(torch.equal(start[key], value) for key, value in mlp.state_dict().items())
    assert "gives the ReLU and identity MLPs the same starting weights" in FLAT


def test_program_settings_the_text_names(program: ModuleType) -> None:
    # "each epoch is one batch of all 480 training points (200 epochs of Adam, lr=0.01)";
    # ACTIVATIONS maps "relu" to nn.ReLU and "identity" to nn.Identity, which returns its
    # input unchanged; the identity MLP collapses "into one nn.Linear(2, 3)".
    source = PROGRAM.read_text(encoding="utf-8")
    assert (program.EPOCHS, program.LR) == (200, 0.01)
    assert "torch.optim.Adam(model.parameters(), lr=LR)" in source
    assert "loss = loss_fn(model(x), y)" in source  # the whole training set every step
    activations = dict(program.ACTIVATIONS)
    assert activations == {"relu": nn.ReLU, "identity": nn.Identity}
    x = torch.randn(4, 2)
    assert nn.Identity()(x) is x
    single = program.collapse(program.build_model(program.HIDDEN, "identity"))
    assert isinstance(single, nn.Linear) and (single.in_features, single.out_features) == (2, 3)
    assert "collapses the identity MLP into one `nn.Linear(2, 3)`" in FLAT


def test_the_apps_picture_is_the_predicted_class_on_a_grid() -> None:
    # "The app's decision-boundary picture is drawn the same way: the class the model
    # predicts at every point of a grid" (engine.snapshots records it after every epoch).
    shot = snapshots(default_config("spirals", epochs=2), resolution=12)
    assert len(shot.grid) == 2 * 12 * 12 and set(shot.grid["epoch"]) == {1, 2}
    assert set(shot.grid["class"]) <= {0, 1, 2}
    assert shot.grid["confidence"].between(1 / 3, 1).all()  # the winning class's probability
    assert "the class the model predicts at every point of a grid" in FLAT


def test_the_collapse_error_is_float32_rounding(program: ModuleType) -> None:
    # "matches the network on all 600 points to within 3.6e-07, float32 rounding": the
    # same collapse in float64 leaves an error near 1e-15.
    x, _ = program.make_spirals(torch.Generator().manual_seed(0))
    model = program.build_model(program.HIDDEN, "identity")
    with torch.no_grad():
        gap32 = (model(x) - program.collapse(model)(x)).abs().max().item()
        model64 = model.double()
        gap64 = (model64(x.double()) - program.collapse(model64)(x.double())).abs().max().item()
    assert 1e-8 < gap32 < 1e-5 and gap64 < 1e-13


def test_lesson_1_1_program_has_a_hidden_relu_layer() -> None:
    # "(Lesson 1.1's program already had a hidden layer and an nn.ReLU(); ...)"
    assert "Lesson 1.1's program already had a hidden layer and an `nn.ReLU()`" in FLAT
    source = (ROOT / "lessons" / "programs" / "lesson_1_1.py").read_text(encoding="utf-8")
    assert "nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))" in source


def test_exercise_prompts_match_their_solutions() -> None:
    # Ex 1: "801 points from -4 to 4 in float64, z = 0 among them"; ex 2: "2 -> 16 -> 16 ->
    # 16 -> 3", "1,000 random points", "f(0.3a + 0.7b)"; ex 3: "300 points per class,
    # holding out a quarter", "a ReLU MLP (64, 64)", "a third input, x1^2 + x2^2".
    solutions = ROOT / "lessons" / "solutions"
    prompts = [" ".join(exercise.prompt.split()) for exercise in LESSON.exercises]
    ex1 = (solutions / "lesson_2_1_ex1.py").read_text(encoding="utf-8")
    z = torch.arange(-400, 401, dtype=torch.float64) / 100
    assert len(z) == 801 and z[0] == -4 and z[-1] == 4 and (z == 0).any()
    assert "torch.arange(-400, 401, dtype=torch.float64) / 100" in ex1
    assert "On 801 points from $-4$ to $4$ in float64, $z = 0$ among them" in prompts[0]
    assert set(load_module(solutions / "lesson_2_1_ex1.py", "ex1").ACTIVATIONS) == {
        "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "identity"
    }  # fmt: skip
    ex2 = load_module(solutions / "lesson_2_1_ex2.py", "ex2")
    assert ex2.WIDTHS == (2, 16, 16, 16, 3) and "$2 \\to 16 \\to 16 \\to 16 \\to 3$" in prompts[1]
    ex2_source = (solutions / "lesson_2_1_ex2.py").read_text(encoding="utf-8")
    assert "torch.randn(1000, 2" in ex2_source and "share=0.3" in ex2_source
    assert "1,000 random points" in prompts[1] and "$f(0.3a + 0.7b)" in prompts[1]
    ex3 = load_module(solutions / "lesson_2_1_ex3.py", "ex3")
    assert ex3.PER_CLASS == 300 and "300 points per class, holding out a quarter" in prompts[2]
    ex3_source = (solutions / "lesson_2_1_ex3.py").read_text(encoding="utf-8")
    assert "order[: len(x) // 4]" in ex3_source and "build_model(2, (64, 64))" in ex3_source
    x = torch.tensor([[3.0, 4.0]])
    assert ex3.with_squared_radius(x).tolist() == [[3.0, 4.0, 25.0]]
    assert "a third input, $x_1^2 + x_2^2$" in prompts[2]


# ---------------------------------------------------------------- Try it: the app's demo


def test_try_it_describes_the_apps_baseline() -> None:
    # "an MLP with two hidden layers of 64 ReLU units (Adam, lr=1e-3, batches of 32,
    # 40 epochs), on 600 points of three spiral arms"
    import tomllib

    front = tomllib.loads(RAW.split("+++")[1])
    assert front["baseline"] == {"dataset": "spirals"}
    assert front["variants"] == ["identity_activation"]
    config = default_config(**front["baseline"])
    assert (config.model, config.hidden, config.activation) == ("mlp", (64, 64), "relu")
    assert (config.optimizer, config.lr, config.batch_size, config.epochs) == ("adam", 1e-3, 32, 40)
    data = load_data(config)
    assert len(data.train) + len(data.val) + len(data.test) == 600
    assert data.n_classes == 3 and data.input_shape == (2,)
    text = " ".join(section("Try it").split())
    assert "two hidden layers of 64 ReLU units (Adam, `lr=1e-3`, batches of 32, 40 epochs)" in text
    assert "on 600 points of three spiral arms" in text


def test_try_it_variant_swaps_every_activation_for_identity_from_the_same_start() -> None:

    baseline = default_config("spirals")
    healthy = build_parts(baseline)
    broken = build_parts(apply_variant(baseline, "identity_activation"))
    linear_types = (nn.Linear, nn.Flatten)
    healthy_acts = [m for m in healthy.model.modules() if not isinstance(m, linear_types)][1:]
    broken_acts = [m for m in broken.model.modules() if not isinstance(m, linear_types)][1:]
    assert healthy_acts and all(isinstance(m, nn.ReLU) for m in healthy_acts)
    assert len(broken_acts) == len(healthy_acts)
    assert all(isinstance(m, nn.Identity) for m in broken_acts)
    start, broken_start = healthy.model.state_dict(), broken.model.state_dict()
    assert start.keys() == broken_start.keys()
    assert all(torch.equal(start[key], broken_start[key]) for key in start)
    assert torch.equal(healthy.data.train.inputs, broken.data.train.inputs)  # same data
    assert "every activation replaced by `nn.Identity`, from the same starting weights" in FLAT


def test_try_it_quotes_no_numbers_from_the_demo() -> None:
    text = section("Try it")
    assert not re.search(r"\d+(\.\d+)?\s*%", text)  # no accuracy is given away


# ---------------------------------------------------------------- what the program prints

ROW = re.compile(
    r"^(linear \(logistic regression\)|MLP 64-64, ReLU|MLP 64-64, identity) +([\d,]+) +"
    r"([\d.]+) +([\d.]+)% +([\d.]+)%$",
    re.M,
)

# (what the lesson says, what the program prints): both must hold.
QUOTED = [
    ("all 480 training points", "480 points to train on, 120 to test"),
    ("(200 epochs of Adam, `lr=0.01`)", "200 full-batch epochs"),
    ("scores 35.6% on the training points and 25.8% on the 120 test points",
     "linear (logistic regression) 9 1.0324 35.6% 25.8%"),
    ("no better than guessing one of three arms (33.3%)", "accuracy 33.3%)"),
    ("Its loss ends at 1.0324, barely under $\\ln 3 \\approx 1.0986$", "loss ln 3 = 1.0986"),
    ("The ReLU MLP gets 100.0% of both, with a loss of 0.0026",
     "MLP 64-64, ReLU 4,547 0.0026 100.0% 100.0%"),
    ("The identity MLP has the ReLU MLP's 4,547 parameters", "MLP 64-64, identity 4,547"),
    ("ends at 35.8% and 25.8% with a loss of 1.0322",
     "MLP 64-64, identity 4,547 1.0322 35.8% 25.8%"),
    ("$(3, 64)$ times $(64, 64)$ times $(64, 2)$, multiply into one $3 \\times 2$ matrix",
     "W = (3, 64) @ (64, 64) @ (64, 2) -> (3, 2)"),
    ("that layer of 9 parameters", "parameters: 4,547 in the MLP, 9 in the single layer"),
    ("matches the network on all 600 points to within 3.6e-07",
     "largest difference between their outputs on all 600 points: 3.6e-07"),
    ("the square from $-1.1$ to $1.1$", "over the square [-1.1, 1.1]^2"),
]  # fmt: skip


@pytest.mark.parametrize(("in_lesson", "in_output"), QUOTED)
def test_program_prints_what_the_lesson_quotes(in_lesson: str, in_output: str) -> None:
    assert in_lesson in FLAT, f"the lesson no longer says {in_lesson!r}"
    assert in_output in " ".join(program_output().split())


def test_program_results_are_what_the_text_says_they_mean() -> None:
    rows = {
        name: (int(p.replace(",", "")), float(loss), float(train) / 100, float(test) / 100)
        for name, p, loss, train, test in ROW.findall(program_output())
    }
    linear = rows["linear (logistic regression)"]
    relu, identity = rows["MLP 64-64, ReLU"], rows["MLP 64-64, identity"]
    assert f"{1 / 3:.1%}" == "33.3%" and f"{math.log(3):.4f}" == "1.0986"
    assert linear[2] < 0.4 and linear[3] < 1 / 3  # no better than guessing
    assert math.log(3) - 0.1 < linear[1] < math.log(3)  # barely under ln 3
    assert relu[2] == relu[3] == 1.0 and relu[1] < 0.01
    assert abs(identity[2] - linear[2]) <= 0.01 and abs(identity[3] - linear[3]) <= 0.01
    assert abs(identity[1] - linear[1]) < 0.01  # "give or take a point"
    assert relu[0] == identity[0] == 4547 and linear[0] == 9


def printed_maps() -> list[str]:
    lines = program_output().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("linear   ")))
    return lines[start : start + 16]


def test_the_map_in_the_lesson_is_the_programs() -> None:
    shown = re.search(r"```text\n(.*?)\n```", section("In depth"), re.S)
    assert shown and shown.group(1).splitlines() == printed_maps()


def test_the_maps_show_wedges_curls_and_a_handful_of_differences() -> None:
    # "three convex wedges with straight borders"; "the ReLU MLP's regions curl"; "the
    # identity MLP's map differs from the linear one in a handful of cells".
    width = 27
    rows = printed_maps()[1:]
    linear = [row[:width] for row in rows]
    relu = [row[width + 3 : 2 * width + 3] for row in rows]
    identity = [row[2 * width + 6 :] for row in rows]

    def runs(row: str) -> list[str]:
        return [symbol for k, symbol in enumerate(row) if k == 0 or row[k - 1] != symbol]

    for grid in (linear, identity):  # every class forms one unbroken run in each row...
        assert all(len(runs(r)) == len(set(runs(r))) for r in grid)
        columns = ["".join(r[k] for r in grid) for k in range(width)]
        assert all(len(runs(c)) == len(set(runs(c))) for c in columns)  # ...and column
        assert {symbol for r in grid for symbol in r} == set(".o#")
    assert any(len(runs(r)) > len(set(runs(r))) for r in relu)  # a class met twice: curled
    differences = sum(
        a != b for r, s in zip(linear, identity, strict=True) for a, b in zip(r, s, strict=True)
    )
    assert 0 < differences <= 10
    assert "differs from the linear one in a handful of cells" in FLAT
