"""Lesson 2.7 (Module 2 recap): every formula and number the text states, checked by running code.

Each test names the claim it checks. The lesson's complete program starts in the background
when this module begins (one process, on the CPU, without the app on its path), beside
exercise 3's solution, and both are read back by the tests that compare what they print
with what the lesson quotes.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from engine.config import default_config
from engine.data import load_data
from engine.variants import all_variants, apply_variant
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    check_stands_alone,
    flat_lesson_text,
    lesson_section,
    lesson_text,
    load_module,
)
from ui.results import PREDICTIONS

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_2_7.py"
SOLUTIONS = ROOT / "lessons" / "solutions"
NOISE_VAR = 0.01
_runs: list[BackgroundPrograms] = []


raw_text = partial(lesson_text, "2.7")
flat_text = partial(flat_lesson_text, "2.7")
section = partial(lesson_section, "2.7")


def front_matter() -> dict[str, Any]:
    match = re.match(r"\+\+\+\n(.*?)\n\+\+\+\n", raw_text(), re.S)
    assert match
    return tomllib.loads(match.group(1))


@pytest.fixture(scope="module", autouse=True)
def program_in_the_background() -> Iterator[None]:
    programs = {"2.7": PROGRAM, "exercise 3": SOLUTIONS / "lesson_2_7_ex3.py"}
    _runs.append(BackgroundPrograms(programs, timeout_s=180))
    yield
    _runs.pop().stop()


def program_output(key: str = "2.7") -> str:
    """What the lesson's program (or exercise 3's solution) printed, run on the CPU."""
    return _runs[-1].output(key)


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return load_module(PROGRAM)


def baseline() -> Any:
    return default_config(**front_matter()["baseline"])


def curve(x: Tensor) -> Tensor:
    return torch.sin(2 * x) + 0.3 * x


# --- front matter, the demo and the program's settings -------------------------------------


def test_front_matter_names_the_given_variants_and_baseline() -> None:
    meta = front_matter()
    assert meta["variants"] == ["identity_activation", "lr_too_low"]
    assert meta["baseline"] == {"dataset": "wave"}
    assert load_lesson(lesson_path("2.7")).variants == ("identity_activation", "lr_too_low")


def test_try_it_describes_the_baseline_the_engine_trains(program: ModuleType) -> None:
    # "the MLP above (two hidden layers of 64 tanh units) with Adam at a learning rate of
    # 3e-3, batches of 32, 60 epochs and mean squared error", and the program uses the same.
    config = baseline()
    assert (config.model, config.hidden, config.activation) == ("mlp", (64, 64), "tanh")
    assert (config.optimizer, config.batch_size, config.epochs, config.loss) == (
        "adam",
        32,
        60,
        "mse",
    )
    match = re.search(
        r"learning rate of \$(\d+) \\cdot 10\^\{(-\d+)\}\$, batches of (\d+)", section("Try it")
    )
    assert match, "Try it no longer states the baseline's learning rate"
    assert math.isclose(int(match.group(1)) * 10.0 ** int(match.group(2)), config.lr)
    assert int(match.group(3)) == config.batch_size
    text = " ".join(section("Try it").split())
    assert "two hidden layers of 64 tanh units" in text
    assert f"{config.epochs} epochs and mean squared error" in text
    assert (
        config.hidden[0],
        config.lr,
        config.batch_size,
        config.epochs,
    ) == (program.HIDDEN, program.LR, program.BATCH_SIZE, program.EPOCHS)
    assert config.seed == program.SEED


def test_try_it_variants_change_only_what_the_text_says() -> None:
    # "`identity_activation` replaces every activation by the identity, and `lr_too_low`
    # trains at a learning rate of 10^-6."
    config = baseline()
    identity = apply_variant(config, "identity_activation")
    assert identity.replace(variant=None) == config.replace(activation="identity")
    slow = apply_variant(config, "lr_too_low")
    assert slow.replace(variant=None) == config.replace(lr=1e-6)
    assert "`lr_too_low` trains at a learning rate of $10^{-6}$" in flat_text()
    for variant_id in ("identity_activation", "lr_too_low"):
        assert "2.7" in all_variants()[variant_id].lessons


def test_the_program_makes_the_very_points_the_demo_trains_on(program: ModuleType) -> None:
    # "600 points, split 70/15/15, x standardised" and "the very 600 points the demo trains
    # on (same seed, same recipe)".
    splits = program.make_splits(torch.device("cpu"))
    data = load_data(baseline())
    for name in ("train", "val", "test"):
        mine, theirs = splits[name], getattr(data, name)
        assert torch.equal(mine[0], theirs.inputs) and torch.equal(mine[1], theirs.targets)
    sizes = [len(getattr(data, name)) for name in ("train", "val", "test")]
    assert sizes == [420, 90, 90] and [100 * n // 600 for n in sizes] == [70, 15, 15]
    assert "600 points, split 70/15/15, $x$ standardised" in flat_text()
    train_x = data.train.inputs
    assert abs(train_x.mean().item()) < 1e-5 and abs(train_x.std().item() - 1) < 1e-5


def test_the_data_is_the_stated_curve_plus_noise_of_std_0_1() -> None:
    # "x uniform in [-3, 3]", "y = f(x) + eps, f(x) = sin(2x) + 0.3x", "sigma = 0.1"
    generator = torch.Generator().manual_seed(baseline().seed)
    x = 6 * torch.rand(600, 1, generator=generator) - 3
    noise = torch.randn(600, 1, generator=generator)
    data = load_data(baseline())
    targets = torch.cat([data.train.targets, data.val.targets, data.test.targets])
    assert torch.allclose(targets.sort(dim=0).values, (curve(x) + 0.1 * noise).sort(dim=0).values)
    assert x.min() >= -3 and x.max() <= 3
    assert 0.09 < (0.1 * noise).std().item() < 0.11
    assert "f(x) = \\sin(2x) + 0.3x" in raw_text()
    assert "standard deviation $\\sigma = 0.1$, so variance $\\sigma^2 = 0.01$" in flat_text()


def test_try_it_poses_the_prediction_and_quotes_no_demo_numbers() -> None:
    text = " ".join(section("Try it").split())
    question = text.index("Before you press **Train**, commit to a guess for each broken run")
    assert "?" in text[question:]
    # the answers the page offers, in the lesson's words
    for offered, phrase in [
        ("looks healthy", "look healthy"),
        ("stays flat", "stay flat"),
        ("plateaus high", "plateau high"),
        ("overfits", "overfit"),
        ("explodes", "explode"),
    ]:
        assert offered in PREDICTIONS and phrase in text
    numbers = set(re.findall(r"\d+(?:\.\d+)?", text))
    # settings of the runs, the noise variance and the line's floor: nothing measured
    assert numbers <= {"600", "70", "15", "64", "3", "10", "2", "32", "60", "6", "0.01", "0.45"}
    assert "near the line's floor of about 0.45" in text


# --- The math --------------------------------------------------------------------------------


def test_the_noise_floor_decomposition_holds_for_any_model() -> None:
    # E[(y - g)^2] = E[(f - g)^2] + sigma^2; the cross term is zero; g = f lands on sigma^2.
    generator = torch.Generator().manual_seed(7)
    x = 6 * torch.rand(400_000, generator=generator, dtype=torch.float64) - 3
    y = curve(x) + 0.1 * torch.randn(len(x), generator=generator, dtype=torch.float64)
    for g in (0.25 * x, torch.zeros_like(x), torch.tanh(x), curve(x)):
        # left - right is an average of terms whose expectation the claim says is 0
        terms = (y - g) ** 2 - (curve(x) - g) ** 2 - NOISE_VAR
        standard_error = terms.std().item() / math.sqrt(len(x))
        assert abs(terms.mean().item()) < 4 * standard_error
        cross = 2 * (curve(x) - g) * (y - curve(x))
        assert abs(cross.mean().item()) <= 4 * cross.std().item() / math.sqrt(len(x))
    assert abs(((y - curve(x)) ** 2).mean().item() - NOISE_VAR) < 1e-4
    text = raw_text()
    assert (
        "\\mathbb{E}\\big[(y - g(x))^2\\big] = \\mathbb{E}\\big[(f(x) - g(x))^2\\big] + \\sigma^2"
        in text
    )


def _line_gap_exact() -> tuple[float, float]:
    """Var f - Cov(x, f)^2 / Var x for f = sin 2x + 0.3x, x ~ U[-3, 3], from the integrals."""
    e_x_sin = -math.cos(6) / 2 + math.sin(6) / 12  # E[x sin 2x] = (1/3) int_0^3 x sin 2x dx
    e_sin2 = 0.5 - math.sin(12) / 24  # E[sin^2 2x] = 1/2 - E[cos 4x] / 2
    var_x = 3.0
    var_f = e_sin2 + 0.09 * var_x + 2 * 0.3 * e_x_sin  # E[sin 2x] = 0: f has mean 0
    cov = e_x_sin + 0.3 * var_x
    return var_f - cov**2 / var_x, var_x


def test_the_line_floor_formula_and_its_value(program: ModuleType) -> None:
    # "min E[(f - wx - b)^2] = Var f - Cov(x, f)^2 / Var x", "Var x = 3", "about 0.4379",
    # "at least about 0.4479 on new data, about 45 times sigma^2".
    gap, var_x = _line_gap_exact()
    assert var_x == 3.0 and "where $\\operatorname{Var} x = 3$" in raw_text()
    assert f"{gap:.4f}" == "0.4379" and f"{gap + NOISE_VAR:.4f}" == "0.4479"
    assert round((gap + NOISE_VAR) / NOISE_VAR) == 45
    unexplained, floor = program.line_floor()
    assert abs(unexplained - gap) < 1e-5 and abs(floor - gap - NOISE_VAR) < 1e-5
    # the formula is the best line: least squares on a huge sample misses by the same
    generator = torch.Generator().manual_seed(3)
    x = 6 * torch.rand(1_000_000, 1, generator=generator, dtype=torch.float64) - 3
    design = torch.cat([x, torch.ones_like(x)], dim=1)
    solution = torch.linalg.lstsq(design, curve(x)).solution
    assert abs(((design @ solution - curve(x)) ** 2).mean().item() - gap) < 3e-3
    text = flat_text()
    assert "what is left is the part of $\\sin(2x)$ no line can follow, about 0.4379" in text
    assert "every line scores at least about 0.4479 on new data, about 45 times" in text
    assert "\\operatorname{Var} x \\approx 0.438$, plus the noise: about 0.448" in text
    assert "about 0.448 (near 45 times $\\sigma^2$) on the wave data" in text


def test_the_best_line_takes_all_of_the_linear_part_and_ignores_standardising() -> None:
    # "The 0.3x part of f is a line, so the best line takes all of it"; "whether or not x is
    # standardised".
    generator = torch.Generator().manual_seed(4)
    x = 6 * torch.rand(200_000, 1, generator=generator, dtype=torch.float64) - 3

    def best_line_mse(inputs: Tensor, targets: Tensor) -> float:
        design = torch.cat([inputs, torch.ones_like(inputs)], dim=1)
        solution = torch.linalg.lstsq(design, targets).solution
        return ((design @ solution - targets) ** 2).mean().item()

    with_linear = best_line_mse(x, curve(x))
    assert math.isclose(with_linear, best_line_mse(x, torch.sin(2 * x)), rel_tol=1e-9)
    standardised = (x - x.mean()) / x.std()
    assert math.isclose(with_linear, best_line_mse(standardised, curve(x)), rel_tol=1e-9)


def test_the_mlp_has_4353_parameters(program: ModuleType) -> None:
    # "W1: 64x1, b1: 64; W2: 64x64, b2: 64; W3: 1x64, b3: 1: 128 + 4160 + 65 = 4353"
    model = program.build_mlp(torch.device("cpu"))
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(64, 1), (64,), (64, 64), (64,), (1, 64), (1,)]
    assert (64 + 64, 64 * 64 + 64, 64 + 1) == (128, 4160, 65) and 128 + 4160 + 65 == 4353
    assert sum(p.numel() for p in model.parameters()) == 4353
    assert "$128 + 4160 + 65 = 4353$ parameters" in raw_text()
    assert isinstance(model[1], nn.Tanh) and isinstance(model[3], nn.Tanh)  # bends twice


def test_without_tanh_the_layers_multiply_out_to_one_line(program: ModuleType) -> None:
    # W3(W2(W1 x + b1) + b2) + b3 = (W3 W2 W1) x + (W3 W2 b1 + W3 b2 + b3)
    model = program.build_mlp(torch.device("cpu")).double()
    model[1], model[3] = nn.Identity(), nn.Identity()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()  # any weights at all
        w1, b1, w2, b2, w3, b3 = (p for p in model.parameters())
        slope = w3 @ w2 @ w1
        intercept = w3 @ w2 @ b1 + w3 @ b2 + b3
        x = torch.linspace(-3, 3, 101, dtype=torch.float64).unsqueeze(1)
        assert slope.shape == (1, 1)
        assert torch.allclose(model(x), x * slope + intercept, atol=1e-9)
    assert "(W_3 W_2 W_1)\\,x + (W_3 W_2 b_1 + W_3 b_2 + b_3)" in raw_text()
    # Quick check 2: "It still trains, every weight gets a gradient"
    nn.functional.mse_loss(model(x), curve(x)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_backward_through_tanh_multiplies_by_one_minus_h_squared() -> None:
    # dL/dz = dL/dh (1 - h^2); "1 at z = 0 but about 0.0099 at |z| = 3"; Q4: "about 0.0013
    # at z = 4 and exactly 0 in float32 long before z = 3000".
    z = torch.tensor([0.0, 3.0, -3.0, 4.0, 0.7], dtype=torch.float64, requires_grad=True)
    upstream = torch.tensor([1.0, 2.0, -1.5, 1.0, 0.3], dtype=torch.float64)
    h = torch.tanh(z)
    (h * upstream).sum().backward()
    assert torch.allclose(z.grad, upstream * (1 - h.detach() ** 2))
    slope = 1 - h.detach() ** 2
    assert slope[0].item() == 1.0
    assert f"{slope[1].item():.4f}" == f"{slope[2].item():.4f}" == "0.0099"
    assert f"{slope[3].item():.4f}" == "0.0013"
    big = torch.tensor([12.0, 3000.0], requires_grad=True)  # float32
    torch.tanh(big).sum().backward()
    assert big.grad.tolist() == [0.0, 0.0]
    text = flat_text()
    assert "It is 1 at $z = 0$ but about 0.0099 at $\\lvert z \\rvert = 3$" in text
    assert "about 0.0013 at $z = 4$ and exactly 0 in float32 long before $z = 3000$" in text


def test_a_relu_slope_is_one_or_zero_and_a_dead_unit_passes_nothing() -> None:
    z = torch.tensor([-2.0, -0.1, 0.3, 5.0], requires_grad=True)
    torch.relu(z).sum().backward()
    assert z.grad.tolist() == [0.0, 0.0, 1.0, 1.0]
    layer = nn.Linear(1, 3)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([-100.0, 0.0, 0.0]))  # unit 0: z < 0 for every input
    x = torch.linspace(-3, 3, 50).unsqueeze(1)
    torch.relu(layer(x)).sum().backward()
    assert layer.weight.grad[0].item() == 0.0 and layer.bias.grad[0].item() == 0.0
    assert layer.bias.grad[1:].abs().sum().item() > 0


# --- In depth --------------------------------------------------------------------------------


def test_the_fragment_fits_the_programs_line_and_builds_the_mlp(program: ModuleType) -> None:
    blocks = re.findall(r"```python\n(.*?)```", section("In depth"), re.S)
    assert len(blocks) == 1
    x_train, y_train = program.make_splits(torch.device("cpu"))["train"]
    names: dict[str, Any] = {"torch": torch, "nn": nn, "x_train": x_train, "y_train": y_train}
    exec(compile(blocks[0], "<lesson fragment>", "exec"), names)
    w, b = program.fit_line(x_train, y_train)
    assert abs(names["w"] - w) < 1e-4 and abs(names["b"] - b) < 1e-4
    assert sum(p.numel() for p in names["model"].parameters()) == 4353


def test_steps_per_run_and_batches_per_epoch() -> None:
    # "60 * ceil(420/32) = 840 steps"; "420 points in batches of 32 make 14 batches, the last
    # of 4" (2.5 and exercise 2).
    loader = DataLoader(TensorDataset(torch.zeros(420, 1)), batch_size=32, shuffle=True)
    sizes = [len(batch) for (batch,) in loader]
    assert len(loader) == math.ceil(420 / 32) == 14 and sizes[-1] == 4
    assert 60 * len(loader) == 840
    text = flat_text()
    assert "$60 \\cdot \\lceil 420/32 \\rceil = 840$ steps" in text
    assert "420 points in batches of 32 make 14 batches, the last of 4" in text
    assert "cuts 420 points into 14 batches" in text


def test_backward_fills_grad_and_detach_cuts_the_path() -> None:
    # "loss.backward() runs the chain rule ... to every tensor with requires_grad=True and
    # fills its .grad; tensor.detach() cuts a path."
    a = torch.tensor(2.0, requires_grad=True)
    c = torch.tensor(3.0, requires_grad=True)
    loss = (a * c) ** 2 + a.detach() * 100 + c.detach() * a
    loss.backward()
    assert a.grad.item() == pytest.approx(2 * 6 * 3 + 3)  # no 100: the detached path is cut
    assert c.grad.item() == pytest.approx(2 * 6 * 2)  # no a: c.detach() passes nothing to c


class _Hidden(nn.Module):
    def __init__(self, registered: bool) -> None:
        super().__init__()
        layers = [nn.Linear(1, 4), nn.Linear(4, 4)]
        self.hidden = nn.ModuleList(layers) if registered else layers
        self.out = nn.Linear(4, 1)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return self.out(x)


def test_a_plain_list_computes_and_gets_grad_but_the_optimizer_never_sees_it() -> None:
    # "A layer in a plain Python list still computes and still gets its .grad, but the
    # optimizer never hears of it, so it never moves"; model.parameters(), .to() and
    # state_dict() see only registered layers (.double() goes the same way as .to(device)).
    torch.manual_seed(0)
    plain, registered = _Hidden(registered=False), _Hidden(registered=True)
    assert len(list(plain.parameters())) == 2 and len(list(registered.parameters())) == 6
    assert set(plain.state_dict()) == {"out.weight", "out.bias"}
    assert len(registered.state_dict()) == 6
    x = torch.randn(16, 1)
    before = plain.hidden[0].weight.clone()
    optimizer = torch.optim.SGD(plain.parameters(), lr=0.1)
    optimizer.zero_grad()
    plain(x).pow(2).mean().backward()
    assert plain.hidden[0].weight.grad is not None and plain.hidden[0].weight.grad.abs().sum() > 0
    optimizer.step()
    assert torch.equal(plain.hidden[0].weight, before)
    plain.double()
    assert plain.hidden[0].weight.dtype == torch.float32 and plain.out.weight.dtype == torch.float64
    registered.double()
    assert registered.hidden[0].weight.dtype == torch.float64


def test_standardised_inputs_start_where_the_slope_is_large_and_raw_ones_saturate(
    program: ModuleType,
) -> None:
    # 2.4: "Standardised inputs start the first layer's z where the slope is large."
    # Q4: with x from -3000 to 3000, "most entries of the first layer's weight.grad are
    # thousands of times smaller than with standardised inputs".
    x_std, y = program.make_splits(torch.device("cpu"))["train"]
    x_raw = torch.linspace(-3000, 3000, len(y)).unsqueeze(1)
    grads, slopes = {}, {}
    for name, x in (("standardised", x_std), ("raw", x_raw)):
        model = program.build_mlp(torch.device("cpu"))
        slopes[name] = (1 - torch.tanh(model[0](x)) ** 2).mean().item()
        nn.functional.mse_loss(model(x), y).backward()
        grads[name] = model[0].weight.grad.abs().flatten()
    assert slopes["standardised"] > 0.5 and slopes["raw"] < 0.01
    typical = grads["standardised"].median().item()
    assert grads["raw"].median().item() < typical / 1000
    assert (grads["raw"] < typical / 1000).float().mean().item() > 0.5  # "most entries"
    assert "are thousands of times smaller than with standardised inputs" in flat_text()


def test_the_learning_rate_plays_no_part_in_grad() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(8, 1), torch.randn(8, 1)
    grads = []
    for lr in (1e-6, 1.0):
        torch.manual_seed(1)
        model = nn.Linear(1, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        grads.append(model.weight.grad.clone())
    assert torch.equal(grads[0], grads[1])


def test_adam_weight_decay_adds_lambda_theta_the_gradient_of_half_lambda_norm_squared() -> None:
    lam = 0.1
    torch.manual_seed(0)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    decayed, by_hand = nn.Linear(3, 1), nn.Linear(3, 1)
    by_hand.load_state_dict(decayed.state_dict())
    opt_decayed = torch.optim.Adam(decayed.parameters(), lr=1e-2, weight_decay=lam)
    opt_by_hand = torch.optim.Adam(by_hand.parameters(), lr=1e-2)
    for _ in range(5):
        for model, optimizer, penalty in ((decayed, opt_decayed, 0.0), (by_hand, opt_by_hand, lam)):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            norm2 = sum((p**2).sum() for p in model.parameters())
            (loss + penalty / 2 * norm2).backward()  # grad of (lam/2)|theta|^2 is lam theta
            optimizer.step()
    for a, b in zip(decayed.parameters(), by_hand.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert (
        "adds $\\lambda\\theta$ to every gradient, the gradient of $\\frac{\\lambda}{2}"
        in flat_text()
    )


def test_dropout_is_active_in_train_mode_and_off_in_eval_mode() -> None:
    torch.manual_seed(0)
    dropout = nn.Dropout(0.5)
    ones = torch.ones(1000)
    dropout.train()
    assert (dropout(ones) == 0).sum().item() > 300
    dropout.eval()
    assert torch.equal(dropout(ones), ones)


def test_more_training_leaves_the_line_at_its_floor(program: ModuleType) -> None:
    # Quick check 1: "It stays near 0.45": a long, well-tuned run ends on the closed-form
    # line, whose validation MSE is the line's (0.4549), nowhere near 0.01.
    splits = program.make_splits(torch.device("cpu"))
    (x, y), (x_val, y_val) = splits["train"], splits["val"]
    w_best, b_best = program.fit_line(x, y)
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=0.1)
    for _ in range(300):
        optimizer.zero_grad()
        nn.functional.mse_loss(x * w + b, y).backward()
        optimizer.step()
    assert abs(w.item() - w_best) < 1e-4 and abs(b.item() - b_best) < 1e-4
    with torch.no_grad():
        val = nn.functional.mse_loss(x_val * w + b, y_val).item()
    assert abs(val - 0.45) < 0.01


def test_exercise_3_more_data_cures_what_20_points_overfit() -> None:
    # "More data cures it (exercise 3's MLP ends near the floor on 420 points, not on 20)";
    # Quick check 3: training MSE below 0.01 with a validation MSE far above is memorised
    # noise; "(Exercise 3 trains the same net full-batch at a learning rate of 10^-2, on its
    # own draw of the wave, and reaches 0.0106.)"
    stdout = program_output("exercise 3")
    runs = {
        int(n): (float(train), float(val), verdict)
        for n, train, val, verdict in re.findall(
            r"^MLP, (\d+) points +train ([\d.]+) +val ([\d.]+) +-> (.+)$", stdout, re.M
        )
    }
    assert runs[420][1] < 2 * NOISE_VAR and f"{runs[420][1]:.4f}" == "0.0106"
    assert runs[420][2] == "near the noise floor"
    assert runs[20][0] < NOISE_VAR < 5 * NOISE_VAR < runs[20][1] and runs[20][2] == "overfits"
    ex3 = load_module(SOLUTIONS / "lesson_2_7_ex3.py")
    assert ex3.verdict(0.002, 0.09) == "overfits"  # the quick check's run
    assert round(0.09 / NOISE_VAR) == 9 and "a validation MSE nine times the floor" in flat_text()
    source = (SOLUTIONS / "lesson_2_7_ex3.py").read_text(encoding="utf-8")
    assert "lr=1e-2" in source and "fit_mlp(x, y, steps=300)" in source  # all 420 each step
    text = flat_text()
    assert "learning rate of $10^{-2}$, on its own draw of the wave, and reaches 0.0106" in text
    assert "exercise 3's MLP ends near the floor on 420 points, not on 20" in text


# --- the program: standalone, shown, and printing what the lesson quotes ----------------------


def test_program_is_standalone_and_shown_in_depth_after_a_sentence() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "math", "torch"}
    lesson = load_lesson(lesson_path("2.7"))
    assert lesson.programs == (PROGRAM,)
    raw = raw_text()
    before = raw[: raw.index("{{program: lessons/programs/lesson_2_7.py}}")]
    assert before.rstrip().endswith(":")
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"


# (what the lesson says, what the program prints): both must hold.
QUOTED = [
    ("even the true curve scores 0.0110 on them", "the true curve itself scores val MSE 0.0110"),
    ("$y = 0.2405x - 0.0339$", "line: y = 0.2405 x -0.0339 (2 parameters)"),
    (
        "scores 0.4709 on training and 0.4549 on validation, 45 times",
        "train MSE 0.4709, val MSE 0.4549 = 45 x",
    ),
    ("$0.4479 = 0.0100 + 0.4379$", "0.4479 = 0.0100 noise + 0.4379 of the curve"),
    ("$60 \\cdot \\lceil 420/32 \\rceil = 840$ steps", "60 epochs x ceil(420/32) = 840 steps"),
    ("0.4338 after epoch 1", "1 0.4497 0.4338"),
    ("0.2454 after epoch 5", "5 0.2212 0.2454"),
    ("0.0989 after epoch 10", "10 0.0728 0.0989"),
    ("0.0335 after epoch 60", "60 0.0246 0.0335"),
    ("the line sits 13.6 times higher", "(the line's: 0.4549, 13.6 x higher)"),
    ("0.5477 for the line, 0.0301 for the MLP", "test MSE: line 0.5477, MLP 0.0301"),
]


def test_program_prints_what_the_lesson_quotes() -> None:
    printed = " ".join(program_output().split())
    text = flat_text()
    for in_lesson, in_output in QUOTED:
        assert in_lesson in text, f"the lesson no longer says {in_lesson!r}"
        assert in_output in printed, f"the program no longer prints {in_output!r}"


def test_program_numbers_bear_out_the_words_around_them() -> None:
    stdout = program_output()
    floor = float(re.search(r"floor of every line on this curve: ([\d.]+)", stdout).group(1))
    line_train, line_val = (
        float(v) for v in re.search(r"train MSE ([\d.]+), val MSE ([\d.]+)", stdout).groups()
    )
    assert abs(line_train - floor) < 0.06 * floor and abs(line_val - floor) < 0.06 * floor
    table = {
        int(epoch): (float(train), float(val))
        for epoch, train, val in re.findall(r"^ +(\d+) +([\d.]+) +([\d.]+)$", stdout, re.M)
    }
    assert sorted(table) == [1, 2, 5, 10, 20, 40, 60]
    assert abs(table[1][1] - line_val) < 0.1 * line_val  # "about the line's"
    vals = [table[e][1] for e in sorted(table)]
    assert all(b < a for a, b in zip(vals, vals[1:], strict=False))  # it falls all along
    assert table[60][1] < table[40][1]  # "still falling"
    ratio = table[60][1] / NOISE_VAR
    assert round(ratio) == 3  # "about 3 times the noise variance"
    assert "about 3 times the noise variance and still falling" in flat_text()
    assert "45 times the noise variance" in flat_text() and round(line_val / NOISE_VAR) == 45
