"""Lessons 1.1-1.3: every number and formula the text states, checked by running code.

Each test names the claim it checks. The three complete programs the lessons show start
in the background when this module begins (one process each, on the CPU) and are
collected by the tests at the end, which check the numbers the lessons quote from them.
"""

from __future__ import annotations

import ast
import functools
import io
import itertools
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from engine.config import default_config
from engine.data import load_data, make_loader
from engine.linear_regression import linear_data
from engine.step import train_step
from engine.training import train
from engine.variants import apply_variant
from engine.variants.optimisation import step_without_step, step_without_zero_grad
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import BackgroundPrograms, check_stands_alone, load_module

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ("1.1", "1.2", "1.3")
PROGRAMS = {i: ROOT / f"lessons/programs/lesson_{i.replace('.', '_')}.py" for i in LESSONS}
PROGRAM_TIMEOUT_S = 60
_runs: list[BackgroundPrograms] = []  # the module's programs, while its tests run


def lesson_text(lesson_id: str) -> str:
    """The lesson file as written (programs not expanded), with line breaks as spaces."""
    return " ".join(lesson_path(lesson_id).read_text(encoding="utf-8").split())


@pytest.fixture(scope="module", autouse=True)
def programs_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms(PROGRAMS, PROGRAM_TIMEOUT_S))
    yield
    _runs.pop().stop()


def program_output(lesson_id: str) -> str:
    """What the lesson's program printed; fails unless it exited 0 within the time limit."""
    return _runs[-1].output(lesson_id)


def test_1_1_iterations_for_the_apps_digits_data() -> None:
    # "N = 1259 and B = 32 give ceil(39.3) = 40 iterations per epoch (39 full batches and
    # one of 11), so 20 epochs are 800 updates" -- for the app's own default run.
    config = default_config()
    assert (config.dataset, config.batch_size, config.epochs) == ("digits", 32, 20)
    train_split = load_data(config).train
    loader = make_loader(train_split, config.batch_size, shuffle=True)
    sizes = [len(targets) for _, targets in loader]
    assert len(train_split) == 1259 and f"{1259 / 32:.1f}" == "39.3"
    assert len(loader) == len(sizes) == math.ceil(1259 / 32) == 40
    assert sizes.count(32) == 39 and sizes[-1] == 11
    assert config.epochs * len(loader) == 800
    text = lesson_text("1.1")
    assert "$N = 1259$ and $B = 32$ give $\\lceil 39.3 \\rceil = 40$" in text
    assert "(39 full batches and one of 11), so 20 epochs are 800 updates" in text


@pytest.mark.parametrize(
    ("n", "batch_size", "per_epoch", "last"),
    [(1259, 32, 40, 11), (1000, 64, 16, 40), (10_000, 100, 100, 100), (7, 7, 1, 7), (7, 1, 7, 1)],
)
def test_1_1_len_of_a_loader_is_ceil_n_over_b(
    n: int, batch_size: int, per_epoch: int, last: int
) -> None:
    # "A DataLoader cuts the data into ceil(N/B) batches, and len(loader) tells you that
    # number"; the quick checks: 1,000 examples at 64 -> 16 batches, the last of 40, and
    # 5 epochs -> 80 steps (1.1); 10,000 at 100 -> 100 updates (1.3).
    loader = DataLoader(TensorDataset(torch.zeros(n)), batch_size=batch_size, shuffle=True)
    sizes = [len(batch) for (batch,) in loader]
    assert len(loader) == len(sizes) == math.ceil(n / batch_size) == per_epoch
    assert sizes[-1] == last
    if (n, batch_size) == (1000, 64):
        assert 5 * len(loader) == 80 and f"{n / batch_size:.1f}" == "15.6"


def test_1_1_the_loss_formula_and_the_shapes_of_one_step() -> None:
    # L is the mean of the per-example losses; forward maps [B, features] to [B, outputs];
    # the loss has shape () and remembers how it was computed; each .grad has the shape of
    # its parameter.
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    inputs, targets = torch.randn(5, 3), torch.randn(5, 2)
    outputs = model(inputs)
    assert outputs.shape == (5, 2)
    loss = nn.MSELoss()(outputs, targets)
    per_example = ((outputs - targets) ** 2).mean(dim=1)  # l(f(x_i), y_i) for each i
    assert torch.allclose(loss, per_example.sum() / 5)
    assert loss.shape == () and loss.grad_fn is not None
    loss.backward()
    for param in model.parameters():
        assert param.grad is not None and param.grad.shape == param.shape


def test_1_1_sgd_step_is_theta_minus_lr_times_grad() -> None:
    # "optimizer.step() applies theta <- theta - eta grad; for plain SGD it does exactly
    # what `param -= lr * param.grad` would", and the step goes downhill.
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    by_hand = nn.Linear(4, 1)
    by_hand.load_state_dict(model.state_dict())
    inputs, targets = torch.randn(16, 4), torch.randn(16, 1)
    lr = 0.1
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for net in (model, by_hand):
        nn.functional.mse_loss(net(inputs), targets).backward()
    before = nn.functional.mse_loss(model(inputs), targets).item()
    optimizer.step()
    with torch.no_grad():
        for param in by_hand.parameters():
            param -= lr * param.grad
    for stepped, manual in zip(model.parameters(), by_hand.parameters(), strict=True):
        assert torch.allclose(stepped, manual, rtol=0, atol=1e-7)  # the same, to rounding
    assert nn.functional.mse_loss(model(inputs), targets).item() < before


def test_1_1_backward_adds_and_zero_grad_clears() -> None:
    # "backward() does not replace .grad, it adds to it ... clearing is all
    # optimizer.zero_grad() does" (the weights are left alone).
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.randn(8, 2), torch.randn(8, 1)
    nn.functional.mse_loss(model(inputs), targets).backward()
    once = model.weight.grad.clone()
    nn.functional.mse_loss(model(inputs), targets).backward()
    assert torch.allclose(model.weight.grad, 2 * once)
    weight = model.weight.detach().clone()
    optimizer.zero_grad()
    assert model.weight.grad is None or not model.weight.grad.any()
    assert torch.equal(model.weight, weight)


def test_1_1_the_engine_step_is_five_working_lines_and_clipping_is_off() -> None:
    # "the whole lesson fits in its five working lines. The two lines between backward()
    # and step() only run when a run asks for gradient clipping; max_grad_norm is None".
    import inspect

    lines = [line.split("#")[0].strip() for line in inspect.getsource(train_step).splitlines()]
    lines = [line for line in lines if line]
    backward = lines.index("loss.backward()")
    step = lines.index("optimizer.step()")
    working = ["optimizer.zero_grad()", "outputs = model(inputs)", "loss.backward()"]
    assert all(line in lines for line in working)
    assert any(line.startswith("loss = loss_fn(") for line in lines)
    between = lines[backward + 1 : step]
    assert len(between) == 2 and between[0] == "if max_grad_norm is not None:"
    assert default_config().grad_clip is None


def _line_losses(step_fn: Callable[..., Tensor], steps: int = 40) -> list[float]:
    """Full-batch losses of a line fit with SGD when every step is `step_fn`."""
    x, y = linear_data()
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    inputs, targets = x.unsqueeze(1), y.unsqueeze(1)
    return [step_fn(model, inputs, targets, loss_fn, optimizer).item() for _ in range(steps)]


def test_1_1_a_missing_line_shows_in_the_curve() -> None:
    # "No zero_grad(): ... the loss swings up and down. No step(): ... the loss is the same
    # number at every epoch: a perfectly flat line."
    healthy = _line_losses(train_step)
    no_zero_grad = _line_losses(step_without_zero_grad)
    no_step = _line_losses(step_without_step)
    assert all(b < a for a, b in itertools.pairwise(healthy))  # smooth descent
    rises = sum(b > a for a, b in itertools.pairwise(no_zero_grad))
    falls = sum(b < a for a, b in itertools.pairwise(no_zero_grad))
    assert rises >= 5 and falls >= 5  # it swings both ways, again and again
    assert max(no_zero_grad[10:]) > 5 * healthy[-1]
    assert len(set(no_step)) == 1  # exactly the same number every time


def test_1_1_ln_10_is_the_loss_of_even_bets() -> None:
    # "close to ln 10 = 2.303, the loss of a model that spreads its bets evenly over ten
    # digits" (and the program's start, 2.328, is close to it: see the program test).
    labels = torch.arange(10).repeat(7)
    loss = nn.functional.cross_entropy(torch.zeros(70, 10), labels)
    assert math.isclose(loss.item(), math.log(10), rel_tol=1e-6)
    assert f"{math.log(10):.3f}" == "2.303"


def test_1_1_the_installation_check_prints_version_and_accelerators() -> None:
    # The one-line check in the Installation section runs and prints what it promises.
    section = load_lesson(lesson_path("1.1")).sections["Installation"]
    assert section.index("uv pip install torch scikit-learn") < section.index(
        "python -m pip install torch scikit-learn"
    )
    assert "uv add torch scikit-learn" in section
    code = re.search(r'^python -c "(.+)"$', section, flags=re.MULTILINE)
    assert code, "no one-line check"
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(code.group(1), {})
    assert printed.getvalue().startswith(torch.__version__)
    assert re.search(r"cuda: (True|False) mps: (True|False)", printed.getvalue())


# --- lesson 1.2: linear regression by hand and with autograd ----------------------------


def _plane(n: int = 100, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Exercise 3's data: the plane y = 3 x1 - 2 x2 + 0.5 with noise 0.1."""
    exercise = load_module(ROOT / "lessons/solutions/lesson_1_2_ex3.py")
    return exercise.make_data(n, seed)


def _line() -> tuple[Tensor, Tensor]:
    program = load_module(PROGRAMS["1.2"])
    return program.make_line(torch.device("cpu"))


def _hand_gradients(x: Tensor, y: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    residual = x @ w + b - y
    return (2 / len(x)) * x.T @ residual, (2 / len(x)) * residual.sum()


def _fit(
    x: Tensor, y: Tensor, lr: float, steps: int, by_hand: bool
) -> tuple[Tensor, Tensor, list[float]]:
    """Full-batch gradient descent from w = 0, b = 0; (w, b, loss after each update)."""
    w, b = torch.zeros(x.shape[1]), torch.zeros(())
    losses = []
    if by_hand:
        for _ in range(steps):
            grad_w, grad_b = _hand_gradients(x, y, w, b)
            w, b = w - lr * grad_w, b - lr * grad_b
            losses.append(((x @ w + b - y) ** 2).mean().item())
        return w, b, losses
    w.requires_grad_(True)
    b.requires_grad_(True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        ((x @ w + b - y) ** 2).mean().backward()
        optimizer.step()
        with torch.no_grad():
            losses.append(((x @ w + b - y) ** 2).mean().item())
    return w.detach(), b.detach(), losses


def _least_squares_loss(x: Tensor, y: Tensor) -> float:
    design = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    solution = torch.linalg.lstsq(design, y.double().unsqueeze(1)).solution.flatten()
    return ((design @ solution - y.double()) ** 2).mean().item()


@pytest.mark.parametrize("d", [1, 2, 5])
def test_1_2_hand_derived_gradients_equal_autograd(d: int) -> None:
    # dL/dw = (2/N) X^T r and dL/db = (2/N) sum r; y_hat = x @ w + b has shape [N].
    # The quick check's wrong answers (1/N instead of 2/N, X^T r for b) really are wrong.
    generator = torch.Generator().manual_seed(d)
    x = torch.randn(50, d, generator=generator)
    y = torch.randn(50, generator=generator)
    w = torch.randn(d, generator=generator).requires_grad_(True)
    b = torch.randn((), generator=generator).requires_grad_(True)
    y_hat = x @ w + b
    assert y_hat.shape == (50,)
    ((y_hat - y) ** 2).mean().backward()
    with torch.no_grad():
        grad_w, grad_b = _hand_gradients(x, y, w, b)
        residual = x @ w + b - y
    assert grad_w.shape == w.shape == (d,) and grad_b.shape == ()
    assert torch.allclose(grad_w, w.grad, atol=1e-5) and torch.allclose(grad_b, b.grad, atol=1e-5)
    assert not torch.allclose(residual.mean(), b.grad, atol=1e-3)  # "dropping the 2"


@pytest.mark.parametrize("data", ["line", "plane"])
def test_1_2_by_hand_and_autograd_end_at_the_same_weights(data: str) -> None:
    # "both versions end with the same weights, to at least six decimal places" after 200
    # steps at lr 0.1, and (the program) that line is least squares to within 0.000001.
    x, y = _line() if data == "line" else _plane()
    hand_w, hand_b, _ = _fit(x, y, 0.1, 200, by_hand=True)
    auto_w, auto_b, losses = _fit(x, y, 0.1, 200, by_hand=False)
    assert (hand_w - auto_w).abs().max() < 1e-6 and (hand_b - auto_b).abs() < 1e-6
    design = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    best = torch.linalg.lstsq(design, y.double().unsqueeze(1)).solution.flatten()
    assert (torch.cat([auto_w, auto_b.reshape(1)]).double() - best).abs().max() < 1e-6
    assert math.isclose(losses[-1], _least_squares_loss(x, y), rel_tol=1e-4)


def test_1_2_the_programs_points_are_the_apps_points() -> None:
    # "the same points this module's charts in the app draw" (engine.linear_regression).
    x, y = _line()
    app_x, app_y = linear_data()
    assert torch.equal(x.squeeze(1), app_x) and torch.equal(y, app_y)


@pytest.mark.parametrize(("data", "growth", "first_inf"), [("line", 4.6, 54), ("plane", 6.3, 47)])
def test_1_2_learning_rates_too_low_right_and_too_high(
    data: str, growth: float, first_inf: int
) -> None:
    # 1e-4: after 50 steps the loss has fallen by only about 2%. 0.1: within 50 steps it
    # is down to the least-squares floor. 1.5: it multiplies at every step, by 4.6 on the
    # program's line and by 6.3 on Exercise 3's data, and overflows to inf after about 50
    # steps (54 and 47).
    x, y = _line() if data == "line" else _plane()
    start = ((x @ torch.zeros(x.shape[1]) - y) ** 2).mean().item()
    low = _fit(x, y, 1e-4, 50, by_hand=False)[2]
    assert 0.01 < 1 - low[-1] / start < 0.025
    right = _fit(x, y, 0.1, 50, by_hand=False)[2]
    assert math.isclose(right[-1], _least_squares_loss(x, y), rel_tol=0.01)
    high = _fit(x, y, 1.5, 70, by_hand=False)[2]
    assert all(round(b / a, 1) == growth for a, b in itertools.pairwise(high[10:40]))
    assert next(i for i, loss in enumerate(high, start=1) if math.isinf(loss)) == first_inf
    text = lesson_text("1.2")
    assert "by 4.6 on the program's line and by 6.3 on Exercise 3's data" in text
    assert "after about 50 steps (54 and 47)" in text


def test_1_2_exercise_3_goes_from_4_183_to_4_115() -> None:
    # "on Exercise 3's data, from 4.183 to 4.115", the run the quick check's "4.18 to 4.12"
    # describes: exactly what the exercise's solution records.
    exercise = load_module(ROOT / "lessons/solutions/lesson_1_2_ex3.py")
    losses = exercise.losses_for(1e-4, *exercise.make_data())
    assert (f"{losses[0]:.3f}", f"{losses[-1]:.3f}") == ("4.183", "4.115")
    assert (f"{losses[0]:.2f}", f"{losses[-1]:.2f}") == ("4.18", "4.12")
    assert "from 4.183 to 4.115" in lesson_text("1.2")
    assert "from 4.18 to 4.12" in lesson_text("1.2")


def _fit_nn_linear(targets: Tensor) -> tuple[nn.Linear, list[str]]:
    """100 SGD steps of nn.Linear(1, 1) on the line; (model, warnings it raised)."""
    x, _ = linear_data()
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(100):
            optimizer.zero_grad()
            nn.MSELoss()(model(x.unsqueeze(1)), targets).backward()
            optimizer.step()
    return model, [str(warning.message) for warning in caught]


def test_1_2_targets_of_shape_n_broadcast_warn_and_learn_nothing() -> None:
    # nn.Linear returns [N, 1]; with targets [N] the difference is an [N, N] table, PyTorch
    # only warns, and training quietly learns nothing useful.
    x, y = linear_data()
    inputs = x.unsqueeze(1)
    assert (nn.Linear(1, 1)(inputs) - y).shape == (100, 100)
    healthy, healthy_warnings = _fit_nn_linear(y.unsqueeze(1))
    broken, broken_warnings = _fit_nn_linear(y)
    assert not healthy_warnings
    assert broken_warnings and all("target size" in message for message in broken_warnings)
    assert abs(healthy.weight.item() - 3.0) < 0.1
    assert abs(broken.weight.item()) < 0.1  # it predicts the mean of y for every input
    with torch.no_grad():
        healthy_loss = nn.functional.mse_loss(healthy(inputs), y.unsqueeze(1)).item()
        broken_loss = nn.functional.mse_loss(broken(inputs), y.unsqueeze(1)).item()
    assert broken_loss > 20 * healthy_loss


# --- lesson 1.3: how noisy a mini-batch gradient is --------------------------------------


@functools.cache
def _example_gradients(n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(one gradient row per example, the full-batch gradient) of a small float64 model."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    true_w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    y = x @ true_w + 0.3 * torch.randn(n, generator=generator, dtype=torch.float64)
    torch.manual_seed(seed)
    model = nn.Linear(3, 1).double()

    def gradient(index: slice | Tensor) -> Tensor:
        model.zero_grad()
        nn.functional.mse_loss(model(x[index]).squeeze(1), y[index]).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    rows = torch.stack([gradient(slice(i, i + 1)) for i in range(n)])
    return rows, gradient(slice(None))


def _sigma2(rows: Tensor, full: Tensor) -> float:
    return (rows - full).pow(2).sum(dim=1).mean().item()


def _formula(sigma2: float, n: int, batch_size: int) -> float:
    return sigma2 / batch_size * (n - batch_size) / (n - 1)


def test_1_3_the_formula_is_exact_over_every_possible_batch() -> None:
    # E|g_B - grad L|^2 = sigma^2/B * (N-B)/(N-1) for B different examples: average over
    # ALL C(N, B) batches, no sampling at all. The old text's sigma^2/B is not it.
    n = 9
    rows, full = _example_gradients(n)
    assert torch.allclose(rows.mean(dim=0), full, atol=1e-12)  # the gradient of a mean
    sigma2 = _sigma2(rows, full)
    for batch_size in range(1, n + 1):
        misses = [
            (rows[list(batch)].mean(dim=0) - full).pow(2).sum().item()
            for batch in itertools.combinations(range(n), batch_size)
        ]
        exact = sum(misses) / len(misses)
        assert math.isclose(exact, _formula(sigma2, n, batch_size), rel_tol=1e-9, abs_tol=1e-15)
        if batch_size > 1:
            assert not math.isclose(exact, sigma2 / batch_size, rel_tol=0.05)
    assert exact < 1e-20  # B = N: the full batch misses by nothing
    stated = load_lesson(lesson_path("1.3")).sections["The math"]
    assert "= \\frac{\\sigma^2}{B} \\cdot \\frac{N - B}{N - 1}" in stated
    assert "\\sigma^2 = \\frac{1}{N} \\sum_{i=1}^{N}" in stated  # sigma^2 divides by N
    assert "\\approx \\frac{\\sigma^2}{B}" not in stated


def _shuffled_epoch_misses(rows: Tensor, batch_size: int, shuffles: int) -> Tensor:
    """|g_B - grad L|^2 of every batch of `shuffles` shuffled epochs (B divides N)."""
    n = len(rows)
    generator = torch.Generator().manual_seed(batch_size)
    order = torch.rand(shuffles, n, generator=generator).argsort(dim=1)
    batches = rows[order].reshape(shuffles, n // batch_size, batch_size, -1).mean(dim=2)
    return (batches - rows.mean(dim=0)).pow(2).sum(dim=-1).flatten()


def test_1_3_shuffled_epochs_match_the_corrected_formula_not_sigma2_over_b() -> None:
    # The mini-batches of a shuffled epoch (without replacement) miss by
    # sigma^2/B * (N-B)/(N-1) on average, within sampling error; at B = N/2 that is about
    # half of sigma^2/B, and at B = N it is zero.
    n = 200
    rows, full = _example_gradients(n)
    sigma2 = _sigma2(rows, full)
    for batch_size in (1, 4, 20, 100, 200):
        misses = _shuffled_epoch_misses(rows, batch_size, shuffles=4000 * batch_size // n + 200)
        measured = misses.mean().item()
        error = 4 * misses.std().item() / math.sqrt(len(misses)) + 1e-12
        assert abs(measured - _formula(sigma2, n, batch_size)) < error, batch_size
        if batch_size == n // 2:
            assert 0.45 < measured / (sigma2 / batch_size) < 0.56
    assert measured < 1e-20


def test_1_3_sigma2_over_b_is_the_with_replacement_answer() -> None:
    # "If examples were drawn with replacement, the factor would be missing and the miss
    # would be sigma^2 / B, not zero even at B = N."
    n = 200
    rows, full = _example_gradients(n)
    sigma2 = _sigma2(rows, full)
    generator = torch.Generator().manual_seed(1)
    for batch_size in (4, 100, 200):
        draws = 200_000 // batch_size + 1000
        index = torch.randint(0, n, (draws, batch_size), generator=generator)
        misses = (rows[index].mean(dim=1) - full).pow(2).sum(dim=1)
        error = 4 * misses.std().item() / math.sqrt(len(misses))
        assert abs(misses.mean().item() - sigma2 / batch_size) < error, batch_size
    assert misses.mean().item() > 0.5 * sigma2 / n  # even the "full" batch misses


def test_1_3_the_squared_miss_shrinks_like_1_over_b_the_miss_like_1_over_sqrt_b() -> None:
    # "It is the squared miss that shrinks like 1/B. The typical miss, its square root,
    # shrinks only like 1/sqrt(B): while B is small next to N, four times the batch halves
    # the typical miss."
    rows, _ = _example_gradients(400)
    mean_square = {b: _shuffled_epoch_misses(rows, b, 300).mean().item() for b in (2, 8, 40)}
    assert 3.6 < mean_square[2] / mean_square[8] < 4.4
    typical = {b: math.sqrt(value) for b, value in mean_square.items()}
    assert 1.9 < typical[2] / typical[8] < 2.1
    text = lesson_text("1.3")
    assert "It is the *squared* miss that shrinks like $1/B$" in text
    assert "shrinks like $1/B$, its typical miss only like $1/\\sqrt{B}$" in text
    assert "its noise shrinks like $1/B$" not in text


def test_1_3_a_mini_batch_gradient_is_right_on_average() -> None:
    # E[g_B] = grad L: over one shuffled epoch of equal batches, the batch gradients
    # (each from loss.backward() on its batch) average to the full gradient exactly.
    n, batch_size = 200, 20
    rows, full = _example_gradients(n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    epoch = rows[order].reshape(n // batch_size, batch_size, -1).mean(dim=1)
    assert torch.allclose(epoch.mean(dim=0), full, atol=1e-12)
    assert not torch.allclose(epoch[0], full, atol=1e-3)  # while one batch alone misses


@pytest.mark.parametrize("batch_size", [8, 64])
def test_1_3_a_summed_loss_makes_the_gradient_b_times_larger(batch_size: int) -> None:
    # "With .sum() instead, the gradient would be B times larger."
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    inputs, targets = torch.randn(batch_size, 3), torch.randn(batch_size, 1)
    grads = {}
    for reduction in ("mean", "sum"):
        model.zero_grad()
        nn.functional.mse_loss(model(inputs), targets, reduction=reduction).backward()
        grads[reduction] = model.weight.grad.clone()
    assert torch.allclose(grads["sum"], batch_size * grads["mean"], rtol=1e-5)


def _seconds_per_epoch(x: Tensor, y: Tensor, batch_size: int) -> float:
    """Wall time of one shuffled epoch of SGD on the line with this batch size."""
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=0.05)
    start = time.perf_counter()
    for batch in torch.randperm(len(x)).split(batch_size):
        optimizer.zero_grad()
        ((x[batch] @ w + b - y[batch]) ** 2).mean().backward()
        optimizer.step()
    return time.perf_counter() - start


def test_1_3_single_examples_spend_the_epoch_on_python_overhead() -> None:
    # "Stochastic makes N steps per epoch ... Python overhead dominates"; a mini-batch is
    # one matrix product: an epoch of B = 1 takes many times as long as one of B = 32.
    x, y = load_module(PROGRAMS["1.3"]).make_line(torch.device("cpu"))
    _seconds_per_epoch(x, y, 32)  # warm up: the first optimizer of a process imports more
    assert _seconds_per_epoch(x, y, 1) > 5 * _seconds_per_epoch(x, y, 32)


def test_1_3_sorted_data_gives_single_class_batches_a_saw_tooth_and_a_worse_start() -> None:
    # "most batches hold a single class (31 of the 40 in the app's sorted digits)"; "the
    # per-step loss falls while one class lasts and mostly jumps back up when the next one
    # arrives (at 7 of the 9 changes in the demo's first epoch)"; "a worse start".
    healthy = default_config().replace(epochs=1)
    broken = apply_variant(healthy, "no_shuffle")
    loader = make_loader(load_data(broken).train, broken.batch_size, shuffle=False)
    classes = [targets.unique().tolist() for _, targets in loader]
    assert (sum(len(c) == 1 for c in classes), len(classes)) == (31, 40)
    assert "(31 of the 40 in the app's sorted digits)" in lesson_text("1.3")

    broken_run = train(broken)  # the demo's broken run, first epoch
    losses = [step.loss for step in broken_run.steps]
    blocks = [[i for i, c in enumerate(classes) if c == [k]] for k in range(10)]
    assert all(losses[block[-1]] < losses[block[0]] for block in blocks)  # falls within
    jumps = sum(losses[blocks[k + 1][0]] > losses[blocks[k][-1]] for k in range(9))
    assert jumps == 7 and "at 7 of the 9 changes" in lesson_text("1.3")
    assert broken_run.epochs[0].val_loss > 1.5 * train(healthy).epochs[0].val_loss


# --- the three programs: standalone, typed, and printing what the lessons quote -----------


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_program_is_typed_standalone_and_picks_a_device(lesson_id: str) -> None:
    imported = check_stands_alone(PROGRAMS[lesson_id])
    assert imported <= {"__future__", "math", "torch", "sklearn"}
    source = PROGRAMS[lesson_id].read_text(encoding="utf-8")
    main = next(
        node for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "main"
    )  # fmt: skip
    assert "pick_device()" in (ast.get_source_segment(source, main) or "")
    assert ".to(device" in source or "device=device" in source  # data and model placed
    assert "fetch_" not in source and "download=True" not in source  # offline


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_lesson_shows_its_program_in_depth_with_an_introduction(lesson_id: str) -> None:
    lesson = load_lesson(lesson_path(lesson_id))
    program = PROGRAMS[lesson_id]
    assert lesson.programs == (program,)
    assert program.read_text(encoding="utf-8").rstrip() in lesson.sections["In depth"]
    raw = lesson_path(lesson_id).read_text(encoding="utf-8")
    before = raw[: raw.index(f"{{{{program: lessons/programs/{program.name}}}}}")]
    assert before.rstrip().endswith(":")  # introduced by a sentence
    assert re.findall(r"^## (.+)$", before, flags=re.MULTILINE)[-1] == "In depth"


# (what the lesson says, what the program prints): both must hold, so the text and the
# program cannot drift apart.
QUOTED = {
    "1.1": [
        ("20 epochs of 40 batches", "N=1259 examples, B=32: 40 iterations per epoch"),
        ("the loss is 2.328", "loss before training: 2.328"),
        ("$\\ln 10 \\approx 2.303$", "(ln 10 = 2.303)"),
        ("from 1.6327 in the first", "epoch 1 train_loss 1.6327"),
        ("to 0.0294 in the twentieth", "epoch 20 train_loss 0.0294"),
        ("after 800 updates", "20 epochs x 40 iterations = 800 updates"),
        ("96.3% of the 538 digits", "test set (538 unseen digits): loss"),
        ("96.3%", "accuracy 96.3%"),
    ],
    "1.2": [
        ("$\\partial L/\\partial w = -6.053235$", "by hand: dL/dw = -6.053235, dL/db = -4.394973"),
        ("$\\partial L/\\partial b = -4.394973$", "autograd: dL/dw = -6.053235, dL/db = -4.394973"),
        ("$w = 3.005905$, $b = 2.017838$", "by hand: w = 3.005905, b = 2.017838"),
        ("$w = 3.005905$, $b = 2.017838$", "autograd: w = 3.005905, b = 2.017838"),
        ("a largest difference of `0.0e+00`", "largest difference: 0.0e+00"),
        ("from 13.7270 to 0.1951", "loss 13.7270 -> 0.1951"),
        ("(0.1951 for the program above)", "(least squares: 0.1951)"),
        ("the best line is $3.006x + 2.018$", "least squares: w = 3.005905, b = 2.017837"),
    ],
    "1.3": [
        ("$\\sigma^2 = 174.26$", "sigma^2 = 174.26"),
        ("43.2125 against 43.3099 at $B = 4$", " 4 43.2125 43.3099 "),
        ("0.3322 against 0.3410 at $B = 256$", " 256 0.3322 0.3410 0.6807 "),
        ("$\\sigma^2/B = 0.6807$", " 256 0.3322 0.3410 0.6807 "),
        ("At $B = 512$ the miss is 0.0000", " 512 0.0000 0.0000 "),
        ("13.2009, 6.5736, 3.2579, 1.5253", " 1 174.2627 174.2627 174.2627 13.2009 "),
        ("13.2009, 6.5736, 3.2579, 1.5253", " 4 43.2125 43.3099 43.5657 6.5736 "),
        ("13.2009, 6.5736, 3.2579, 1.5253", " 16 10.6139 10.5717 10.8914 3.2579 "),
        ("13.2009, 6.5736, 3.2579, 1.5253", " 64 2.3266 2.3872 2.7229 1.5253 "),
        ("has made 3 updates in 3 epochs and its loss is still 7.2408", "updates=3 loss"),
        ("its loss is still 7.2408", "full batch B=512 updates=3 loss 11.2889 9.0342 7.2408"),
        ("the best line's 0.2686", "(the best line's loss is 0.2686)"),
        ("made 1,536 updates", "stochastic B=1 updates=1536 loss 0.2798 0.2698 0.2812"),
        ("0.2798, 0.2698, 0.2812", "0.2798 0.2698 0.2812"),
        ("The 48 updates of mini-batches of 32 end at 0.2692", "B=32 updates=48 loss"),
        ("end at 0.2692", "updates=48 loss 0.6177 0.2769 0.2692"),
    ],
}


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_program_runs_and_prints_what_the_lesson_quotes(lesson_id: str) -> None:
    stdout = program_output(lesson_id)
    text, printed = lesson_text(lesson_id), " ".join(stdout.split())  # spacing aside
    for in_lesson, in_output in QUOTED[lesson_id]:
        assert in_lesson in text, f"the lesson no longer says {in_lesson!r}"
        assert in_output in printed, f"the program no longer prints {in_output!r}"


def test_1_1_program_loss_falls_every_epoch_from_about_ln_10() -> None:
    stdout = program_output("1.1")
    start = float(re.search(r"loss before training: ([\d.]+)", stdout).group(1))
    assert abs(start - math.log(10)) < 0.05
    epochs = [float(v) for v in re.findall(r"^epoch +\d+ +train_loss ([\d.]+)$", stdout, re.M)]
    assert len(epochs) == 20 and epochs[0] < start
    assert all(b < a for a, b in itertools.pairwise(epochs))
    assert float(re.search(r"accuracy ([\d.]+)%", stdout).group(1)) > 95


def test_1_2_program_gradients_and_lines_agree() -> None:
    stdout = program_output("1.2")
    first = re.findall(r"dL/dw = (-?[\d.]+), dL/db = (-?[\d.]+)", stdout)
    assert len(first) == 2 and first[0] == first[1]
    lines = re.findall(r"w = (-?[\d.]+), b = (-?[\d.]+)", stdout)
    assert len(lines) == 3  # by hand, autograd, least squares
    for w, b in lines[1:]:
        assert abs(float(w) - float(lines[0][0])) <= 1.01e-6
        assert abs(float(b) - float(lines[0][1])) <= 1.01e-6


def test_1_3_program_table_follows_the_formula_and_training_ends_where_claimed() -> None:
    stdout = program_output("1.3")
    rows = {
        int(b): tuple(float(v) for v in rest)
        for b, *rest in re.findall(
            r"^ *(\d+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$", stdout, re.M
        )
    }
    assert sorted(rows) == [1, 4, 16, 64, 256, 512]
    for batch_size, (measured, formula, _, typical) in rows.items():
        if batch_size < 512:
            assert abs(measured - formula) < 0.06 * formula  # "within a few percent"
        assert math.isclose(typical, math.sqrt(measured), abs_tol=1e-3)
    assert rows[512][0] == rows[512][1] == 0.0 < rows[512][2]
    assert 1.9 < rows[256][2] / rows[256][0] < 2.2  # sigma^2/B "twice too big"
    for small, large in ((1, 4), (4, 16), (16, 64)):
        assert 1.8 < rows[small][3] / rows[large][3] < 2.2  # "each fourfold batch halves it"
    runs = {
        name: (int(updates), [float(v) for v in losses.split()])
        for name, updates, losses in re.findall(
            r"^(full batch|stochastic|mini-batch) +B=\d+ +updates=(\d+) +loss ([\d. ]+)$",
            stdout,
            re.M,
        )
    }
    floor = float(re.search(r"best line's loss is ([\d.]+)", stdout).group(1))
    assert runs["full batch"][0] == 3 and runs["full batch"][1][-1] > 10 * floor
    assert runs["stochastic"][0] == 1536 and runs["stochastic"][1][0] < 1.1 * floor
    stochastic = runs["stochastic"][1]
    assert stochastic[2] > stochastic[1]  # it wanders instead of settling
    assert runs["mini-batch"][0] == 48 and runs["mini-batch"][1][-1] < 1.005 * floor
