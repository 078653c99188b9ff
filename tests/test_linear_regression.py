"""engine.linear_regression: every number Module 1's visuals draw is really computed, and right."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from engine import linear_regression
from engine.linear_regression import (
    batch_size_curves,
    descent_path,
    finite_difference_check,
    fit_by_hand,
    fit_with_autograd,
    iterations,
    largest_stable_lr,
    least_squares,
    linear_data,
    loss_surface,
    lr_regime,
    mse,
    mse_gradients_autograd,
    mse_gradients_by_hand,
    one_step_walkthrough,
    wrong_gradient_example,
)


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return linear_data()


# --- data and gradients ----------------------------------------------------------------


def test_linear_data_is_a_seeded_noisy_line() -> None:
    x, y = linear_data(seed=3, n=500)
    assert x.shape == y.shape == (500,)
    assert torch.equal(x, linear_data(seed=3, n=500)[0])
    best = least_squares(x, y)
    assert best.w == pytest.approx(3.0, abs=0.1)
    assert best.b == pytest.approx(2.0, abs=0.1)
    assert best.loss == pytest.approx(0.25, rel=0.2)  # the noise variance, 0.5 ** 2
    with pytest.raises(ValueError, match="n = 1"):
        linear_data(n=1)


@pytest.mark.parametrize(("w", "b"), [(0.0, 0.0), (0.5, -1.0), (3.0, 2.0), (-4.0, 7.5)])
def test_hand_gradients_match_autograd(
    data: tuple[torch.Tensor, torch.Tensor], w: float, b: float
) -> None:
    by_hand = mse_gradients_by_hand(*data, w, b)
    by_autograd = mse_gradients_autograd(*data, w, b)
    assert by_hand == pytest.approx(by_autograd, abs=1e-5)


def test_fit_by_hand_follows_the_same_path_as_autograd(
    data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    hand = fit_by_hand(*data, lr=0.1, steps=60)
    auto = fit_with_autograd(*data, lr=0.1, steps=60)
    assert len(hand) == len(auto) == 61
    for a, b in zip(hand, auto, strict=True):
        assert a.step == b.step
        assert (a.w, a.b, a.loss) == pytest.approx((b.w, b.b, b.loss), abs=1e-5)
    best = least_squares(*data)
    assert (hand[-1].w, hand[-1].b) == pytest.approx((best.w, best.b), abs=1e-3)
    assert hand[0].loss > 10 * hand[-1].loss


# --- the landscape and the stability limit ---------------------------------------------


def test_loss_surface_is_the_mse_on_a_grid(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    surface = loss_surface(*data, w_range=(-1.0, 7.0), b_range=(-2.0, 6.0), resolution=41)
    assert list(surface.columns) == ["w", "b", "loss"]
    assert len(surface) == 41 * 41
    row = surface.iloc[777]
    assert row.loss == pytest.approx(mse(*data, float(row.w), float(row.b)), rel=1e-5)
    lowest = surface.loc[surface.loss.idxmin()]
    best = least_squares(*data)
    assert (lowest.w, lowest.b) == pytest.approx((best.w, best.b), abs=0.2)
    with pytest.raises(ValueError, match="resolution"):
        loss_surface(*data, (0.0, 1.0), (0.0, 1.0), resolution=1000)


@pytest.mark.parametrize("shift", [0.0, 2.0])
def test_largest_stable_lr_is_two_over_the_top_curvature(shift: float) -> None:
    x, y = linear_data(x_shift=shift)

    def loss(params: torch.Tensor) -> torch.Tensor:
        return ((y.double() - (params[0] * x.double() + params[1])) ** 2).mean()

    # An independent Hessian, from autograd rather than from the 2/N X^T X formula.
    hessian = torch.autograd.functional.hessian(loss, torch.zeros(2, dtype=torch.float64))
    assert largest_stable_lr(x) == pytest.approx(2 / float(torch.linalg.eigvalsh(hessian).max()))


@pytest.mark.parametrize("shift", [0.0, 2.0])
def test_slightly_below_the_limit_converges_slightly_above_diverges(shift: float) -> None:
    x, y = linear_data(x_shift=shift)
    limit = largest_stable_lr(x)
    best = least_squares(x, y).loss
    below = descent_path(x, y, 0.95 * limit, steps=400, start=(0.0, 0.0))
    above = descent_path(x, y, 1.05 * limit, steps=400, start=(0.0, 0.0))
    assert below.loss.iloc[-1] == pytest.approx(best, rel=1e-3)
    assert above.loss.iloc[-1] > 1e6 * above.loss.iloc[0]
    assert lr_regime(x, 0.95 * limit) == "zig-zag"
    assert lr_regime(x, 1.05 * limit) == "diverges"
    assert lr_regime(x, 0.4 * limit) == "smooth"


def test_zig_zag_overshoots_and_smooth_does_not(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    best = least_squares(x, y)
    limit = largest_stable_lr(x)
    smooth = descent_path(x, y, 0.3 * limit, steps=20, start=(0.0, 0.0))
    zigzag = descent_path(x, y, 0.9 * limit, steps=20, start=(0.0, 0.0))
    assert (smooth.w.diff().dropna() >= 0).all()  # only ever moves towards w* from below
    side = (zigzag.w - best.w).apply(math.copysign, args=(1.0,))
    assert (side.diff().dropna() != 0).sum() >= 5  # w* crossed again and again


def test_descent_path_stops_at_the_first_non_finite_point(
    data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = data
    path = descent_path(x, y, 10 * largest_stable_lr(x), steps=2000, start=(0.0, 0.0))
    assert list(path.columns) == ["step", "w", "b", "loss"]
    assert len(path) < 2001
    assert path[["w", "b", "loss"]].map(math.isfinite).all().all()


# --- batch sizes -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def curves(data: tuple[torch.Tensor, torch.Tensor]) -> pd.DataFrame:
    return batch_size_curves(*data, lr=0.1, epochs=4, seed=0)


def test_batch_size_curves_count_updates_per_mode(curves: pd.DataFrame) -> None:
    assert list(curves.columns) == ["mode", "batch_size", "update", "epoch", "loss", "batch_loss"]
    updates = curves.groupby("batch_size")["update"].max().to_dict()
    assert updates == {100: 4, 1: 400, 16: 4 * math.ceil(100 / 16)}
    assert (curves.groupby("batch_size")["epoch"].max() == 4).all()
    assert list(dict.fromkeys(curves["mode"])) == [
        "full batch (B=100)",
        "stochastic (B=1)",
        "mini-batch (B=16)",
    ]
    starts = curves[curves["update"] == 0]
    assert starts.loss.nunique() == 1  # every mode starts from the same (w, b)


def test_more_updates_per_epoch_is_faster_but_noisier(curves: pd.DataFrame) -> None:
    def mode(size: int) -> pd.DataFrame:
        return curves[curves.batch_size == size]

    after_one_epoch = {
        size: float(mode(size)[mode(size).epoch <= 1].loss.iloc[-1]) for size in (100, 1, 16)
    }
    assert after_one_epoch[1] < after_one_epoch[16] < after_one_epoch[100]
    raised = {size: float((mode(size).loss.diff().dropna() > 0).mean()) for size in (100, 1, 16)}
    assert raised[100] == 0  # the full-batch gradient always points downhill here
    assert raised[1] > raised[16] >= raised[100]
    assert raised[1] > 0.2


def test_batch_size_curves_are_reproducible(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    first = batch_size_curves(*data, lr=0.1, epochs=1, batch_sizes=(8,), seed=5)
    again = batch_size_curves(*data, lr=0.1, epochs=1, batch_sizes=(8,), seed=5)
    pd.testing.assert_frame_equal(first, again)


# --- numerical vs analytical gradients -------------------------------------------------


def test_finite_differences_agree_with_autograd_on_a_matrix() -> None:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    weight = torch.randn(3, 2, generator=generator, dtype=torch.float64)
    bias = torch.randn(2, generator=generator, dtype=torch.float64)

    def loss(w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.tanh(inputs @ w + b).pow(2).mean()

    table = finite_difference_check(loss, [weight, bias], names=["weight", "bias"])
    assert len(table) == 6 + 2
    assert list(table.columns[:5]) == ["parameter", "index", "numerical", "analytical", "abs_error"]
    assert table.passes.all()
    assert table.abs_error.max() < 1e-5
    # Central differences err by about eps^2 times the third derivative: 100x smaller eps,
    # about 10,000x closer (until float64 rounding takes over).
    finer = finite_difference_check(loss, [weight, bias], eps=1e-5)
    assert finer.abs_error.max() < table.abs_error.max() / 1000


def test_the_check_catches_the_wrong_hand_gradient_and_only_it() -> None:
    example = wrong_gradient_example(w=0.5, b=-1.0)
    table = example.table.set_index(["gradient", "parameter"])
    failing = table[~table.passes].index.tolist()
    assert failing == [("by hand (forgot the 2)", "w")]
    assert table.loc[("by hand (forgot the 2)", "w"), "rel_error"] == pytest.approx(0.5)
    assert table.loc[("by hand (correct)", "w"), "rel_error"] < 1e-8
    assert table.loc[("autograd", "b"), "rel_error"] < 1e-8


def test_gradcheck_passes_autograd_and_the_right_backward_only() -> None:
    verdicts = wrong_gradient_example().gradcheck
    assert verdicts == {
        "autograd's own backward": True,
        "hand-written backward (correct)": True,
        "hand-written backward (forgot the 2)": False,
    }


def test_gradcheck_directly_in_float64(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    loss = linear_regression.mse_of_parameters(*data)
    point = (
        torch.tensor(0.5, dtype=torch.float64, requires_grad=True),
        torch.tensor(-1.0, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(loss, point)


# --- iterations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "b", "epochs", "expected"),
    [
        (60_000, 64, 3, (938, 2814)),  # MNIST: the last batch holds 32 examples
        (100, 10, 2, (10, 20)),
        (10, 64, 5, (1, 5)),  # a batch larger than the data is one batch
        (1, 1, 1, (1, 1)),
    ],
)
def test_iterations(n: int, b: int, epochs: int, expected: tuple[int, int]) -> None:
    assert iterations(n, b, epochs) == expected


@given(st.integers(1, 10**6), st.integers(1, 10**4), st.integers(1, 100))
def test_iterations_cover_every_example_exactly_once(n: int, b: int, epochs: int) -> None:
    per_epoch, total = iterations(n, b, epochs)
    assert (per_epoch - 1) * b < n <= per_epoch * b
    assert total == epochs * per_epoch


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0, 1, 1), "n_examples"),
        ((10, 0, 1), "batch_size"),
        ((10, 2, -1), "epochs"),
        ((10, 2.5, 1), "batch_size"),
    ],
)
def test_iterations_rejects_bad_values(args: tuple, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        iterations(*args)


# --- one training step -----------------------------------------------------------------


def test_one_step_walkthrough_obeys_the_sgd_update_rule() -> None:
    walk = one_step_walkthrough(seed=0)
    assert walk["inputs_shape"] == [4, 1, 8, 8]
    assert walk["outputs_shape"] == [4, 10]
    assert walk["targets_shape"] == [4]
    assert len(walk["labels"]) == len(walk["predictions"]) == 4
    assert walk["loss"] == pytest.approx(math.log(10), abs=0.5)  # untrained: near chance
    assert walk["grad"] != 0
    assert walk["weight_after"] != walk["weight_before"]
    assert walk["update"] == pytest.approx(-walk["lr"] * walk["grad"], rel=1e-4, abs=1e-7)
    assert walk["weight_name"].startswith("out.weight[")


def test_one_step_walkthrough_is_deterministic() -> None:
    assert one_step_walkthrough(seed=1) == one_step_walkthrough(seed=1)
