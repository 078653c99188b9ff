"""Lessons 1.4-1.6: the numbers, formulas and code the text states, checked by running code.

Every test names the claim it checks. The three complete programs the lessons show are
started in the background as soon as this module is collected (one process each, on the
CPU, without the app on the path) and read back by the tests that check the numbers the
lessons quote from them; those tests come last, so the others run in the meantime.
"""

from __future__ import annotations

import inspect
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.autograd.gradcheck import GradcheckError
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from engine import linear_regression
from lessons.lesson_file import PROGRAM, lesson_path, load_lesson
from tests.lesson_programs import BackgroundPrograms, check_stands_alone
from tests.lesson_programs import flat_lesson_text as flat_text
from tests.lesson_programs import lesson_section as section
from ui.demos.module1 import CHECK_STEP, CHECK_TOLERANCE

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ("1.4", "1.5", "1.6")
PROGRAM_TIMEOUT_S = 60


def program_path(lesson_id: str) -> Path:
    return ROOT / "lessons" / "programs" / f"lesson_{lesson_id.replace('.', '_')}.py"


def code_blocks(lesson_id: str) -> list[str]:
    """The Python fragments of the In depth section, in order."""
    return re.findall(r"```python\n(.*?)```", section(lesson_id, "In depth"), re.S)


def block_with(lesson_id: str, marker: str) -> str:
    found = [block for block in code_blocks(lesson_id) if marker in block]
    assert len(found) == 1, f"expected one fragment with {marker!r} in lesson {lesson_id}"
    return found[0]


def run_fragment(code: str, **names: Any) -> dict[str, Any]:
    """Execute a lesson's fragment with the names it expects from its context."""
    namespace: dict[str, Any] = {"torch": torch, "nn": nn, **names}
    exec(compile(code, "<lesson fragment>", "exec"), namespace)
    return namespace


def power_of_ten(latex: str) -> float:
    """`10^{-6}` -> 1e-06."""
    match = re.fullmatch(r"10\^\{(-?\d+)\}", latex)
    assert match, latex
    return 10.0 ** int(match.group(1))


# --- the programs, run once in the background ---------------------------------------------


_runs: list[BackgroundPrograms] = []  # the module's programs, while its tests run


@pytest.fixture(scope="module", autouse=True)
def programs_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({i: program_path(i) for i in LESSONS}, PROGRAM_TIMEOUT_S))
    yield
    _runs.pop().stop()


def program_output(lesson_id: str) -> str:
    """The stdout of the lesson's program; fails if it took over 60 s or exited non-zero."""
    return _runs[-1].output(lesson_id)


# --- 1.4 the loss landscape ---------------------------------------------------------------


def valley_points(centred: bool = False) -> tuple[Tensor, Tensor]:
    """The lesson's narrow-valley data: 200 points near y = 2x - 1 with x between 1 and 3."""
    generator = torch.Generator().manual_seed(0)
    x = 1 + 2 * torch.rand(200, generator=generator)
    y = 2 * x - 1 + 0.3 * torch.randn(200, generator=generator)
    x, y = x.double(), y.double()
    return (x - x.mean() if centred else x), y


def hessian_of(x: Tensor) -> Tensor:
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    return 2 / len(x) * design.T @ design


def gradient_descent(x: Tensor, y: Tensor, lr: float, steps: int) -> Tensor:
    """Full-batch descent on the MSE of w x + b from (w, b) = (-1, 3): [steps + 1, 2]."""
    params = torch.tensor([-1.0, 3.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([params], lr=lr)
    path = [params.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((params[0] * x + params[1] - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        path.append(params.detach().clone())
    return torch.stack(path)


def minimum_of(x: Tensor, y: Tensor) -> Tensor:
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    return torch.linalg.solve(design.T @ design, design.T @ y)


def test_1_4_fragments_draw_the_map_record_the_path_and_find_the_limit() -> None:
    x, y = (t.float() for t in valley_points())
    drawn = run_fragment(block_with("1.4", "def loss_surface"), x=x, y=y)
    surface = drawn["surface"]
    assert surface.shape == (121, 121)
    # The broadcast [W, B, N] computation is the loop over the grid, done at once.
    ws, bs = drawn["ws"], drawn["bs"]
    for i, j in ((0, 0), (60, 100), (120, 7)):
        assert surface[i, j] == pytest.approx(((ws[i] * x + bs[j] - y) ** 2).mean().item())

    limit = run_fragment(block_with("1.4", "largest_safe_lr"), x=x)["largest_safe_lr"].item()
    walked = run_fragment(block_with("1.4", "path.append"), x=x, y=y, lr=0.9 * limit)
    assert len(walked["path"]) == 41  # the start and one dot per step
    assert limit == pytest.approx(2 / torch.linalg.eigvalsh(hessian_of(x.double()))[-1].item())


def test_1_4_hessian_is_2_over_n_a_transpose_a_everywhere_on_the_map() -> None:
    x, y = valley_points()

    def loss(params: Tensor) -> Tensor:
        return ((params[0] * x + params[1] - y) ** 2).mean()

    formula = hessian_of(x)
    for point in ([-1.0, 3.0], [2.0, -1.0], [40.0, 7.5]):
        exact = torch.autograd.functional.hessian(loss, torch.tensor(point, dtype=torch.float64))
        assert torch.allclose(exact, formula, atol=1e-12)


@pytest.mark.parametrize(("eta_c", "regime"), [(0.5, "glide"), (1.5, "zig-zag"), (2.1, "diverge")])
def test_1_4_one_step_multiplies_the_distance_by_1_minus_eta_c(eta_c: float, regime: str) -> None:
    curvature = 4.0
    w = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=eta_c / curvature)
    values = [1.0]
    for _ in range(20):
        optimizer.zero_grad()
        (0.5 * curvature * w**2).backward()
        optimizer.step()
        assert w.item() == pytest.approx((1 - eta_c) * values[-1], rel=1e-12)
        values.append(w.item())
    flips = sum(a * b < 0 for a, b in zip(values, values[1:], strict=False))
    assert {"glide": 0, "zig-zag": 20, "diverge": 20}[regime] == flips
    assert (abs(values[-1]) > 1) == (regime == "diverge")
    if regime == "diverge":
        assert abs(values[-1]) == pytest.approx(1.1**20) and round(1.1**20, 1) == 6.7


def test_1_4_quick_check_curvature_10_diverges_above_0_2() -> None:
    def last(lr: float, steps: int = 60) -> float:
        w = 1.0
        for _ in range(steps):
            w -= lr * 10 * w  # the gradient of (10 / 2) w^2 is 10 w
        return w

    assert 2 / 10 == 0.2
    assert last(0.1, steps=1) == 0.0  # lands exactly on the bottom in one step
    assert abs(last(0.15)) < 1e-12 and abs(last(0.199, steps=5000)) < 1e-3  # zig-zag in
    assert abs(last(0.201)) > 1 and abs(last(1.0)) > 1 and abs(last(10)) > 1


def test_1_4_the_steepest_direction_sets_the_limit() -> None:
    x, y = valley_points()
    eigenvalues, eigenvectors = torch.linalg.eigh(hessian_of(x))
    best, across = minimum_of(x, y), eigenvectors[:, -1]
    limit = 2 / eigenvalues[-1].item()
    for factor, grows in ((0.98, False), (1.02, True)):
        path = gradient_descent(x, y, factor * limit, 200)
        offset = ((path - best) @ across).abs()
        assert (offset[-1] > offset[0]) == grows


def test_1_4_the_valley_numbers_and_no_walk_arrives_in_40_steps() -> None:
    x, y = valley_points()
    eigenvalues, eigenvectors = torch.linalg.eigh(hessian_of(x))
    lambda_min, lambda_max = eigenvalues.tolist()
    assert round(lambda_max / lambda_min) == 77
    limit, best = 2 / lambda_max, minimum_of(x, y)
    start = (torch.tensor([-1.0, 3.0], dtype=torch.float64) - best).norm().item()
    assert round(start, 2) == 5.08

    ends = {}
    for factor in (0.2, 0.9, 1.1):
        path = gradient_descent(x, y, factor * limit, 40)
        across = (path - best) @ eigenvectors[:, -1]
        along = (path - best) @ eigenvectors[:, 0]
        crossings = int((across[1:] * across[:-1] < 0).sum())
        ends[factor] = (crossings, (path[-1] - best).norm().item())
        # Along the floor each step keeps exactly 1 - lr * lambda_min of the distance.
        kept = (1 - factor * limit * lambda_min) ** 40
        assert (along[-1] / along[0]).item() == pytest.approx(kept, rel=1e-9)
    assert ends[0.2][0] == 0 and round(ends[0.2][1], 2) == 4.05
    assert ends[0.9][0] == 40 and round(ends[0.9][1], 2) == 1.93 < start
    assert ends[1.1][1] > 1000  # lands higher with each crossing and leaves

    # The correction: the exercise once said "check which ones converge", but none does.
    arrived = [factor for factor, (_, distance) in ends.items() if distance < 0.01]
    exercise = " ".join(load_lesson(lesson_path("1.4")).exercises[2].prompt.split())
    assert not arrived
    assert "None of the three arrives" in exercise and "which ones converge" not in exercise
    assert round(1 - 0.9 * limit * lambda_min, 3) == 0.977

    long_walk = gradient_descent(x, y, 0.9 * limit, 300)
    distances = (long_walk - best).norm(dim=1)
    assert int((distances < 0.01).nonzero()[0]) == 263


def test_1_4_centring_makes_the_bowl_round() -> None:
    x, y = valley_points(centred=True)
    hessian = hessian_of(x)
    assert x.sum().item() == pytest.approx(0, abs=1e-10)  # the two columns of A: perpendicular
    assert hessian[0, 1].item() == pytest.approx(0, abs=1e-12)  # so H has no cross term
    eigenvalues = torch.linalg.eigvalsh(hessian)
    assert round((eigenvalues[-1] / eigenvalues[0]).item()) == 3
    path = gradient_descent(x, y, 0.9 * 2 / eigenvalues[-1].item(), 40)
    distances = (path - minimum_of(x, y)).norm(dim=1)
    assert int((distances < 0.01).nonzero()[0]) == 12
    # The best loss itself does not change: centring only re-labels b.
    x_raw, _ = valley_points()
    best_raw = (minimum_of(x_raw, y) @ torch.stack([x_raw, torch.ones_like(x_raw)])) - y
    best_centred = (minimum_of(x, y) @ torch.stack([x, torch.ones_like(x)])) - y
    assert (best_raw**2).mean().item() == pytest.approx((best_centred**2).mean().item())


# --- 1.5 numerical vs analytical gradients -------------------------------------------------


def wiggly(x: Tensor) -> Tensor:
    return (torch.sin(x) * x**2).sum()


def difference_errors(h: float) -> tuple[float, float]:
    """Largest error of the forward and the central difference against autograd."""
    x = torch.linspace(-2, 2, 7, dtype=torch.float64, requires_grad=True)
    (exact,) = torch.autograd.grad(wiggly(x), x)
    x = x.detach()
    forward, central = [], []
    for j in range(len(x)):
        nudge = torch.zeros_like(x)
        nudge[j] = h
        forward.append((wiggly(x + nudge) - wiggly(x)).item() / h)
        central.append((wiggly(x + nudge) - wiggly(x - nudge)).item() / (2 * h))
    return (
        (torch.tensor(forward, dtype=torch.float64) - exact).abs().max().item(),
        (torch.tensor(central, dtype=torch.float64) - exact).abs().max().item(),
    )


def test_1_5_forward_error_is_o_h_and_central_error_o_h_squared() -> None:
    forward_big, central_big = difference_errors(1e-2)
    forward_small, central_small = difference_errors(1e-3)
    assert 8 < forward_big / forward_small < 12  # 10x smaller h: 10x smaller error
    assert 80 < central_big / central_small < 120  # ...and 100x for the central one


def test_1_5_taylor_leading_error_of_the_central_difference_is_h2_over_6() -> None:
    x, h = torch.tensor(0.7, dtype=torch.float64), 1e-2
    central = (torch.sin(x + h) - torch.sin(x - h)) / (2 * h)
    error = (central - torch.cos(x)).item()
    third_derivative = -torch.cos(x).item()
    assert error == pytest.approx(h**2 / 6 * third_derivative, rel=1e-3)


def test_1_5_digits_of_float32_and_float64() -> None:
    assert round(-math.log10(torch.finfo(torch.float32).eps)) == 7
    assert round(-math.log10(torch.finfo(torch.float64).eps)) == 16


def small_network(dtype: torch.dtype) -> tuple[nn.Module, Callable[[], Tensor]]:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).to(dtype)
    inputs, targets = torch.randn(20, 3, dtype=dtype), torch.randn(20, 2, dtype=dtype)
    return model, lambda: nn.functional.mse_loss(model(inputs), targets)


def test_1_5_fragments_give_a_tiny_error_in_float64_and_noise_in_float32() -> None:
    numerical_gradient = run_fragment(block_with("1.5", "def numerical_gradient"))[
        "numerical_gradient"
    ]
    compare = block_with("1.5", "rel = ")
    worst = {}
    for dtype in (torch.float64, torch.float32):
        model, loss_fn = small_network(dtype)
        loss_fn().backward()
        errors = []
        for param in model.parameters():
            done = run_fragment(
                compare, numerical_gradient=numerical_gradient, loss_fn=loss_fn, param=param
            )
            errors.append(done["rel"].max().item())
        worst[dtype] = max(errors)
    assert worst[torch.float64] < 1e-7  # the lesson: 1e-7 or less when the gradient is right
    assert worst[torch.float32] > 1e-2  # rounding swamps the answer at h = 1e-6

    # Rounding grows as h shrinks: past the sweet spot a smaller h makes things worse.
    model, loss_fn = small_network(torch.float64)
    loss_fn().backward()
    weight = model[0].weight
    errors = [
        (numerical_gradient(loss_fn, weight, h) - weight.grad).abs().max().item()
        for h in (1e-6, 1e-8, 1e-10)
    ]
    assert errors[0] < errors[1] < errors[2]


def test_1_5_numerical_gradient_needs_two_forward_passes_per_weight() -> None:
    numerical_gradient = run_fragment(block_with("1.5", "def numerical_gradient"))[
        "numerical_gradient"
    ]
    model, loss_fn = small_network(torch.float64)
    calls = 0

    def counted() -> Tensor:
        nonlocal calls
        calls += 1
        return loss_fn()

    weights = 0
    for param in model.parameters():
        numerical_gradient(counted, param)
        weights += param.numel()
    assert calls == 2 * weights
    assert 2 * 100_000 == 200_000


def test_1_5_gradcheck_defaults_and_its_pass_rule() -> None:
    defaults = inspect.signature(torch.autograd.gradcheck).parameters
    assert defaults["eps"].default == 1e-6 == power_of_ten("10^{-6}")
    assert defaults["atol"].default == 1e-5 and defaults["rtol"].default == 1e-3
    assert "$h = 10^{-6}$ by default" in flat_text("1.5")
    assert "`atol=1e-5` and `rtol=1e-3`" in flat_text("1.5")

    class Scaled(torch.autograd.Function):
        """y = sum(x) whose backward is off by the factor 1 + error."""

        @staticmethod
        def forward(ctx: Any, x: Tensor, error: float) -> Tensor:
            ctx.error = error
            return x.sum()

        @staticmethod
        def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
            return grad_output * torch.full((3,), 1 + ctx.error, dtype=torch.float64), None

    x = torch.ones(3, dtype=torch.float64, requires_grad=True)
    # |g_a - g_n| <= 1e-5 + 1e-3 |g_n| with g_n = 1: an error of 1e-3 is the edge.
    assert torch.autograd.gradcheck(lambda t: Scaled.apply(t, 9e-4), (x,))
    assert not torch.autograd.gradcheck(
        lambda t: Scaled.apply(t, 2e-3), (x,), raise_exception=False
    )


def test_1_5_gradcheck_warns_on_float32_then_fails() -> None:
    model, _ = small_network(torch.float64)
    inputs, targets = torch.randn(20, 3), torch.randn(20, 2)

    def loss_of(w: Tensor) -> Tensor:
        hidden = torch.tanh(inputs.to(w.dtype) @ w.T)
        return ((hidden @ model[2].weight.detach().to(w.dtype).T - targets.to(w.dtype)) ** 2).mean()

    w64 = model[0].weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(loss_of, (w64,))  # the same gradient, right in float64
    w32 = w64.detach().float().requires_grad_(True)
    with (
        pytest.warns(UserWarning, match="is not a double precision floating point"),
        pytest.raises(GradcheckError, match="Jacobian mismatch"),
    ):
        torch.autograd.gradcheck(loss_of, (w32,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not torch.autograd.gradcheck(loss_of, (w32,), raise_exception=False)
    assert issubclass(GradcheckError, RuntimeError)
    text = flat_text("1.5")
    assert "must be float64" not in text and "It does not refuse float32 inputs" in text


def test_1_5_gradcheck_fragment_passes_and_the_missing_two_is_caught() -> None:
    torch.manual_seed(0)
    x = torch.randn(10, 3, dtype=torch.float64)
    y = torch.randn(10, 2, dtype=torch.float64)
    run_fragment(block_with("1.5", "gradcheck(mse_of"), x=x, y=y)  # its assert must hold

    fragment = block_with("1.5", "class SquaredError")
    squared_error = run_fragment(fragment)["SquaredError"]
    pred = torch.randn(6, dtype=torch.float64, requires_grad=True)
    target = torch.randn(6, dtype=torch.float64)
    assert not torch.autograd.gradcheck(squared_error.apply, (pred, target), raise_exception=False)
    # "Fix the factor and it returns True."
    fixed = fragment.replace("grad_output * residual", "grad_output * 2 * residual")
    assert fixed != fragment
    assert torch.autograd.gradcheck(run_fragment(fixed)["SquaredError"].apply, (pred, target))
    squared_error.apply(pred, target).backward()
    (true_grad,) = torch.autograd.grad(((pred - target) ** 2).mean(), pred)
    assert torch.allclose(pred.grad / true_grad, torch.full_like(pred, 0.5))  # exactly half
    rel = (pred.grad - true_grad).abs() / torch.maximum(pred.grad.abs(), true_grad.abs())
    assert torch.allclose(rel, torch.full_like(rel, 0.5))  # "something like 0.5"


def test_1_5_backward_costs_about_two_forward_passes() -> None:
    torch.manual_seed(0)
    layers = nn.Sequential(nn.Linear(512, 512), nn.Tanh(), nn.Linear(512, 512), nn.Tanh())
    model = nn.Sequential(*layers, nn.Linear(512, 512))

    def flops(inputs_need_grad: bool) -> tuple[int, int]:
        inputs = torch.randn(128, 512, requires_grad=inputs_need_grad)
        with FlopCounterMode(display=False) as forward:
            loss = model(inputs).pow(2).mean()
        with FlopCounterMode(display=False) as backward:
            loss.backward()
        return forward.get_total_flops(), backward.get_total_flops()

    forward, backward = flops(inputs_need_grad=True)
    assert backward == 2 * forward  # two multiplies of the same size per forward multiply
    forward, backward = flops(inputs_need_grad=False)
    assert backward == 2 * forward - forward // 3  # the first layer skips its input's gradient

    # And in time, roughly: best of several tries of each, generous bounds.
    inputs = torch.randn(256, 512)
    forward_s, backward_s = [], []
    for _ in range(7):
        started = time.perf_counter()
        loss = model(inputs).pow(2).mean()
        forward_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        loss.backward()
        backward_s.append(time.perf_counter() - started)
    assert 1.0 < min(backward_s) / min(forward_s) < 4.0
    text = flat_text("1.5")
    assert "one extra pass" not in text and "costs about two forward passes" in text


def test_1_5_zero_grad_between_backward_and_step_wipes_the_gradients() -> None:
    model, loss_fn = small_network(torch.float32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    loss_fn().backward()
    optimizer.zero_grad()  # the bug: between backward() and step()
    assert all(p.grad is None for p in model.parameters())  # wiped, set to None
    optimizer.step()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def test_1_5_demo_uses_the_step_size_and_tolerance_the_lesson_states() -> None:
    try_it = " ".join(section("1.5", "Try it").split())
    match = re.search(
        r"central difference with \$h = (10\^\{-?\d+\})\$ in float64.*?"
        r"relative error is above \$(10\^\{-?\d+\})\$",
        try_it,
    )
    assert match, "the Try it section no longer states the demo's h and tolerance"
    assert power_of_ten(match.group(1)) == CHECK_STEP
    assert power_of_ten(match.group(2)) == CHECK_TOLERANCE
    # ...and it is the h the math section recommends.
    assert f"$h = {match.group(1)}$, a correct gradient" in flat_text("1.5")
    # At that h the demo's verdicts come out as the lesson says at any slider position.
    for w, b in ((0.5, -1.0), (-2.0, 6.0), (3.0, 2.0), (6.0, -2.0)):
        x, y = linear_regression.linear_data()
        x64, y64 = x.double(), y.double()
        loss = linear_regression.mse_of_parameters(x64, y64)
        point = [torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)]
        right = linear_regression.finite_difference_check(loss, point, CHECK_STEP)
        wrong = linear_regression.finite_difference_check(
            loss, point, CHECK_STEP, linear_regression.wrong_mse_gradients(x64, y64, w, b)
        )
        assert right.rel_error.max() < 1e-7 and right.passes.all()
        assert wrong.rel_error.iloc[0] == pytest.approx(0.5) and not wrong.passes.iloc[0]


def test_1_5_demo_caption_shows_the_lesson_values() -> None:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_string(
        "from ui.demos import DEMOS\nDEMOS['1.5']()", default_timeout=60
    ).run()
    assert not app.exception
    captions = " ".join(caption.value for caption in app.caption)
    assert f"h = {CHECK_STEP:g} in float64" in captions
    assert f"above {CHECK_TOLERANCE:g} fails" in captions


# --- 1.6 the recap ---------------------------------------------------------------------------


def test_1_6_steps_are_epochs_times_ceil_n_over_b() -> None:
    dataset = TensorDataset(torch.zeros(2000, 1))
    loader = DataLoader(dataset, batch_size=128)
    assert len(loader) == math.ceil(2000 / 128) == 16
    assert 10 * len(loader) == 160
    assert len(list(loader)[-1][0]) == 80  # the smaller last batch
    assert 10 * (2000 // 128) == 150  # forgets the last batch
    assert 10 * 2000 // 128 == 156  # divides all the examples by B
    assert round(2000 / 128, 1) == 15.6


def test_1_6_one_step_is_theta_minus_eta_times_the_mean_example_gradient() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    inputs, targets = torch.randn(8, 3), torch.randn(8, 1)
    theta = [p.detach().clone() for p in model.parameters()]
    per_example = [
        torch.autograd.grad(
            nn.functional.mse_loss(model(inputs[i : i + 1]), targets[i : i + 1]),
            list(model.parameters()),
        )
        for i in range(8)
    ]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    optimizer.zero_grad()
    nn.functional.mse_loss(model(inputs), targets).backward()
    optimizer.step()
    for k, param in enumerate(model.parameters()):
        mean_gradient = sum(grads[k] for grads in per_example) / 8
        assert torch.allclose(param.detach(), theta[k] - 0.05 * mean_gradient, atol=1e-6)


def linear_loader() -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(100, 1, generator=generator)
    y = 2 * x - 1 + 0.1 * torch.randn(100, 1, generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=generator)


def run_loop(step: bool, zero_where: str = "start", epochs: int = 3) -> tuple[list, list]:
    """Per-step batch losses and per-epoch full-data losses of nn.Linear(1, 1)."""
    torch.manual_seed(0)
    loader = linear_loader()
    model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    everything = loader.dataset.tensors
    step_losses, epoch_losses = [], []
    for _ in range(epochs):
        for inputs, targets in loader:
            if zero_where == "start":
                optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(inputs), targets)
            loss.backward()
            if zero_where == "between":
                optimizer.zero_grad()  # the other bug in the table's first row
            if step:
                optimizer.step()
            step_losses.append(loss.item())
        with torch.no_grad():
            epoch_losses.append(nn.functional.mse_loss(model(everything[0]), everything[1]).item())
    return step_losses, epoch_losses


@pytest.mark.parametrize("bug", ["no step", "zero_grad between backward and step"])
def test_1_6_a_frozen_model_keeps_its_epoch_loss_but_not_its_step_losses(bug: str) -> None:
    if bug == "no step":
        step_losses, epoch_losses = run_loop(step=False)
    else:
        step_losses, epoch_losses = run_loop(step=True, zero_where="between")
    assert len(set(epoch_losses)) == 1  # the same weights on the same data: identical
    assert max(step_losses) - min(step_losses) > 0.5  # different batches: different losses
    assert len(set(step_losses)) == len(step_losses)  # not one repeated value
    table_row = flat_text("1.6")
    assert "exactly the same value every step" not in table_row
    assert "the same value every epoch, while the per-step losses wobble" in table_row


def test_1_6_healthy_loop_fragment_takes_e_times_ceil_n_over_b_steps() -> None:
    loader = linear_loader()
    done = run_fragment(block_with("1.6", "for epoch in range(20)"), loader=loader)
    losses = done["losses"]
    assert len(losses) == 20 * math.ceil(100 / 16)
    assert all(isinstance(value, float) for value in losses)
    first_epoch = losses[: math.ceil(100 / 16)]
    assert first_epoch[-1] < 0.5 * first_epoch[0]  # drops clearly within the first epoch
    assert losses[-1] < 0.1 * losses[0]


def test_1_6_mismatched_shapes_broadcast_to_a_wrong_loss() -> None:
    outputs, targets = torch.randn(8, 1), torch.randn(8)
    with pytest.warns(UserWarning, match="different to the input size"):
        wrong = nn.functional.mse_loss(outputs, targets)  # [8, 1] against [8]: [8, 8]
    right = nn.functional.mse_loss(outputs, targets[:, None])
    assert wrong.item() != pytest.approx(right.item())
    assert wrong.item() == pytest.approx(((outputs - targets) ** 2).mean().item())


def test_1_6_loss_curves_of_the_table() -> None:
    x = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    y = x @ torch.tensor([3.0, -2.0]) + 0.5

    def losses(lr: float, zero_grad: bool = True) -> list[float]:
        torch.manual_seed(0)
        w, b = torch.randn(2, requires_grad=True), torch.zeros((), requires_grad=True)
        optimizer = torch.optim.SGD([w, b], lr=lr)
        history = []
        for _ in range(60):
            if zero_grad:
                optimizer.zero_grad()
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        return history

    design = torch.cat([x, torch.ones(100, 1)], dim=1).double()
    limit = 2 / torch.linalg.eigvalsh(2 / 100 * design.T @ design).max().item()
    exploding = losses(1.5)
    assert limit < 1.5 and (not math.isfinite(exploding[-1]) or exploding[-1] > 1e6)
    assert losses(0.15)[-1] < 1e-3 * losses(0.15)[0]  # a tenth of it falls nicely
    crawling = losses(1e-4)
    assert 0.9 * crawling[0] < crawling[-1] < crawling[0]  # falls, but hardly at all
    swinging = losses(0.1, zero_grad=False)
    rises = sum(later > earlier for earlier, later in zip(swinging, swinging[1:], strict=False))
    assert rises > 10  # goes back up again and again


def test_1_6_quick_check_central_difference_agrees_to_1e_7() -> None:
    model, loss_fn = small_network(torch.float64)
    loss_fn().backward()
    for param in model.parameters():
        flat = param.data.view(-1)
        for j in range(flat.numel()):
            original = flat[j].item()
            flat[j] = original + 1e-6
            up = loss_fn().item()
            flat[j] = original - 1e-6
            down = loss_fn().item()
            flat[j] = original
            numerical, exact = (up - down) / 2e-6, param.grad.view(-1)[j].item()
            assert abs(numerical - exact) / max(abs(numerical), abs(exact), 1e-12) < 1e-7
    assert "about $10^{-7}$ or better, so 0.3 is a real disagreement" in flat_text("1.6")


# --- the programs (last, so the tests above run while they do) ------------------------------


# Pairs of (what the lesson says, what the program prints) for every quoted number.
QUOTED = {
    "1.4": [
        ("about 77 times steeper", "77x steeper across the valley than along it"),
        ("$1 - \\eta\\lambda_{\\min} = 0.977$", "each step keeps 0.9766 of the distance"),
        ("Starting 5.08 from the minimum", "5.08 from the minimum"),
        ("it ends 1.93 away", "distance to minimum 1.93, crossed the floor 40 times"),
        ("needs 263 steps to come within 0.01", "263 steps to get within 0.01"),
        ("is still 4.05 away", "distance to minimum 4.05, crossed the floor 0 times"),
        ("falls from 77 to 3", "3x steeper across the valley than along it"),
        ("within 0.01 of the minimum after 12 steps", "12 steps to get within 0.01"),
    ],
    "1.5": [
        ("all 49 weights", "49 weights, h = 1e-06"),
        ("worst relative error is $8.7 \\cdot 10^{-8}$", "float64: largest relative error 8.7e-08"),
        ("in float32 gives 1.5", "float32: largest relative error 1.5e+00"),
        ("the error is $1.7 \\cdot 10^{-3}$", "0.01     1.7e-03"),
        ("$1.7 \\cdot 10^{-5}$", "0.001    1.7e-05"),
        ("$1.7 \\cdot 10^{-7}$", "0.0001   1.7e-07"),
        ("$4.5 \\cdot 10^{-5}$ at $h = 10^{-8}$", "1e-08    4.5e-05"),
        ("a forgotten factor of 2 gives exactly that", "0.50 without it"),
        ("16,777,216 floating-point operations forward", "forward 16,777,216 FLOPs"),
        ("33,554,432 backward: exactly twice", "backward 33,554,432 FLOPs (2.00x the forward)"),
        ("It does not refuse float32 inputs", "gradcheck in float32: fails (Input #0"),
        ("Give it float64 inputs", "gradcheck in float64: passes"),
    ],
    "1.6": [
        ("$2/\\lambda_{\\max} = 1.000$", "stability limit 2/lambda_max = 1.000"),
        ("relative error of $5.7 \\cdot 10^{-11}$", "largest relative error 5.7e-11"),
        ("falls from 6.0254 to 0.1225 in the first epoch", "epoch  1  train_loss 0.1225"),
        (
            "ends at 0.0112, with the validation loss at 0.0128",
            "train_loss 0.0112  val_loss 0.0128",
        ),
        ("\\lceil 150/16 \\rceil = 200$ steps", "steps: 200 = 20 epochs x ceil(150/16)"),
        ("from 2.0839 to 10.6632", "batch losses from 2.0839 to 10.6632"),
        ("exactly 6.0254 every time", "after each epoch 6.0254, 6.0254, 6.0254"),
    ],
}


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_program_runs_and_prints_what_the_lesson_quotes(lesson_id: str) -> None:
    stdout = program_output(lesson_id)
    text = flat_text(lesson_id)
    assert "device: cpu" in stdout
    for in_lesson, printed in QUOTED[lesson_id]:
        assert in_lesson in text, f"lesson {lesson_id} no longer says {in_lesson!r}"
        assert printed in stdout, f"program {lesson_id} no longer prints {printed!r}"


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_program_is_shown_in_depth_standalone_and_typed(lesson_id: str) -> None:
    path = program_path(lesson_id)
    in_depth = section(lesson_id, "In depth")
    assert f"lessons/programs/{path.name}" in PROGRAM.findall(in_depth)
    assert path in load_lesson(lesson_path(lesson_id)).programs
    # Introduced by a sentence: the line before the include is prose ending in a colon.
    before = in_depth.split(f"{{{{program: lessons/programs/{path.name}}}}}")[0].strip()
    assert before.splitlines()[-1].endswith(":")

    check_stands_alone(path)
