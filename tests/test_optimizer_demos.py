"""Lessons 3.1 and 3.2: optimizers on 2-D surfaces, the LR range test, and their demos.

The numbers asserted are the ones the math predicts: SGD's linear recursion on a quadratic,
the stability edges of SGD, momentum and Nesterov, Adam's first step with and without bias
correction, and the divergence edge 2 / lambda_max of linear regression.
"""

from __future__ import annotations

import math

import pytest
import torch
from streamlit.testing.v1 import AppTest

from engine.config import default_config
from engine.data import load_data
from engine.lr_range import BLOW_UP, SUGGESTION_BELOW_MINIMUM, lr_range_test
from engine.surfaces import SURFACES, Racer, descend, race, surface_grid
from tests.demo_app import CHART, check, metrics, render_demo

RAVINE, SADDLE, VALLEY = SURFACES["ravine"], SURFACES["saddle"], SURFACES["valley"]


# --- the surfaces ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_each_surface_is_flat_and_zero_at_its_lowest_points(name: str) -> None:
    surface = SURFACES[name]
    for minimum in surface.minima:
        point = torch.tensor(minimum, dtype=torch.float64, requires_grad=True)
        loss = surface.loss(point)
        loss.backward()
        assert loss.item() == 0.0
        assert point.grad.abs().max().item() == 0.0
    assert surface.loss(torch.tensor(surface.start, dtype=torch.float64)).item() > 0.1


def test_the_stated_curvatures_are_the_hessian() -> None:
    # At the saddle point (0, 0) of the saddle, and anywhere on the two quadratics.
    for surface, at in ((VALLEY, (0.0, 0.0)), (RAVINE, (1.0, -1.0)), (SADDLE, (0.0, 0.0))):
        point = torch.tensor(at, dtype=torch.float64)
        hessian = torch.autograd.functional.hessian(surface.loss, point)
        assert torch.diag(hessian).tolist() == pytest.approx(list(surface.curvatures))
        assert hessian[0, 1].item() == 0.0


def test_sgd_on_the_ravine_follows_its_linear_recursion() -> None:
    # On x^2/2 + 25 y^2, each SGD step multiplies x by (1 - lr) and y by (1 - 50 lr).
    lr, steps = 0.035, 30
    path = descend(RAVINE, Racer("sgd", lr), steps)
    x0, y0 = RAVINE.start
    assert path.steps == steps
    for t in (1, 10, 30):
        assert path.x[t] == pytest.approx(x0 * (1 - lr) ** t, rel=1e-9)
        assert path.y[t] == pytest.approx(y0 * (1 - 50 * lr) ** t, rel=1e-9)
    assert path.y[1] < 0 < path.y[2]  # 1 - 50 lr = -0.75: it zig-zags across the ravine


@pytest.mark.parametrize(
    ("optimizer", "edge"),
    [
        ("sgd", 2 / 50),  # lr * lambda < 2
        ("momentum", 2 * (1 + 0.9) / 50),  # heavy ball: lr * lambda < 2 (1 + beta)
        ("nesterov", 2 * (1 + 0.9) / (1 + 2 * 0.9) / 50),  # lr * lambda < 2 (1+b) / (1+2b)
    ],
)
def test_the_stability_edge_across_the_ravine(optimizer: str, edge: float) -> None:
    below = descend(RAVINE, Racer(optimizer, edge * 0.95), 300)
    above = descend(RAVINE, Racer(optimizer, edge * 1.05), 300)
    assert below.loss[-1] < 1e-3 * below.loss[0]
    assert above.loss[-1] > above.loss[0]


def test_adam_first_step_is_lr_per_weight_and_3_16_lr_without_correction() -> None:
    lr = 0.1
    paths = race(VALLEY, [Racer("adam", lr), Racer("adam_no_bias_correction", lr)], steps=3)
    corrected, uncorrected = paths["adam"], paths["adam_no_bias_correction"]
    x0, y0 = VALLEY.start
    # The gradient points away from (3, 2): both coordinates step towards it.
    assert corrected.x[1] - x0 == pytest.approx(lr, rel=1e-6)
    assert corrected.y[1] - y0 == pytest.approx(lr, rel=1e-6)
    expected = (1 - 0.9) / math.sqrt(1 - 0.999) * lr  # m = 0.1 g, v = 0.001 g^2
    assert uncorrected.x[1] - x0 == pytest.approx(expected, rel=1e-6)
    assert uncorrected.step_sizes()[0] == pytest.approx(expected * math.sqrt(2), rel=1e-6)


def test_sgd_lingers_at_the_saddle_as_the_negative_curvature_predicts() -> None:
    # Near y = 0 the y-step multiplies y by 1 + 2 lr: from 0.01 to 0.5 takes about
    # ln(50) / ln(1 + 2 lr) steps (a little more: the y^4 term flattens the way out).
    lr = 0.035
    predicted = math.log(0.5 / SADDLE.start[1]) / math.log(1 + 2 * lr)
    paths = race(SADDLE, [Racer("sgd", lr), Racer("adam", 0.1)], steps=200)
    escape = {key: next(t for t, y in enumerate(p.y) if abs(y) > 0.5) for key, p in paths.items()}
    assert predicted <= escape["sgd"] <= 1.1 * predicted
    assert escape["adam"] < escape["sgd"] / 5  # Adam rescales the tiny y-gradient


def test_adamw_decay_pulls_towards_the_origin() -> None:
    free = descend(VALLEY, Racer("adamw", 0.05), 400)
    decayed = descend(VALLEY, Racer("adamw", 0.05, weight_decay=0.1), 400)
    assert math.dist((free.x[-1], free.y[-1]), VALLEY.minima[0]) < 0.05
    assert math.hypot(decayed.x[-1], decayed.y[-1]) < math.hypot(*VALLEY.minima[0]) - 0.1


def test_a_race_ends_a_path_at_its_first_overflow_and_checks_its_input() -> None:
    path = descend(RAVINE, Racer("sgd", 3.0), 1000)  # y *= -149 per step: inf in ~140
    assert path.diverged_at is not None and path.steps == path.diverged_at
    assert not math.isfinite(path.loss[-1]) and math.isfinite(path.loss[-2])
    with pytest.raises(ValueError, match="steps"):
        race(VALLEY, [Racer("sgd", 0.1)], 0)
    with pytest.raises(ValueError, match="each optimizer at most once"):
        race(VALLEY, [Racer("sgd", 0.1), Racer("sgd", 0.2)], 5)


def test_the_grid_holds_the_surface_loss() -> None:
    grid = surface_grid(RAVINE, resolution=11)
    assert len(grid.x) == len(grid.y) == len(grid.loss) == 121
    assert (grid.x[0], grid.y[0]) == (RAVINE.x_range[0], RAVINE.y_range[0])
    point = torch.tensor((grid.x[57], grid.y[57]), dtype=torch.float64)
    assert grid.loss[57] == pytest.approx(RAVINE.loss(point).item())
    with pytest.raises(ValueError, match="resolution"):
        surface_grid(RAVINE, resolution=1)


# --- the LR range test -----------------------------------------------------------------------


def test_range_test_on_linear_regression_reads_the_divergence_edge() -> None:
    config = default_config("line")  # y = 3x + 2 + noise, linear model, SGD, MSE
    inputs = load_data(config).train.inputs.double()
    design = torch.cat([inputs, torch.ones_like(inputs)], dim=1)
    hessian = 2 / len(design) * design.T @ design  # of the MSE over (w, b)
    edge = 2 / torch.linalg.eigvalsh(hessian).max().item()  # SGD diverges above this lr
    test = lr_range_test(config, start_lr=1e-6, end_lr=10.0, steps=100)
    assert test.stopped_early and test.lrs[-1] > edge  # it blows up only past the edge
    assert edge / 2 < test.min_lr < 2 * edge
    assert test.suggested_lr == pytest.approx(test.min_lr / SUGGESTION_BELOW_MINIMUM)
    # Below the edge, within 4x of the lr that solves this quadratic fastest, 2 / (sum of
    # the two curvatures) (about 0.5 here: both curvatures are about 2).
    best = 2 / torch.linalg.eigvalsh(hessian).sum().item()
    assert test.suggested_lr < edge / 2
    assert best / 4 < test.suggested_lr < best * 4


def test_range_test_on_digits_suggests_about_adams_known_good_lr() -> None:
    config = default_config("digits")  # Adam, where 1e-3 is known to train well
    test = lr_range_test(config)  # 1e-6 to 1 in 100 steps
    assert 1e-3 / 4 < test.suggested_lr < 1e-3 * 4
    assert test.lrs[-1] > 10 * test.suggested_lr  # the blow-up is far above the suggestion
    growth = (1.0 / 1e-6) ** (1 / 99)
    assert test.lrs[1] / test.lrs[0] == pytest.approx(growth)
    assert test.lrs[0] == pytest.approx(1e-6)
    # A fresh model: the first batch's loss is near ln 10 (ten classes, no training yet).
    assert test.losses[0] == pytest.approx(math.log(10), abs=0.3)
    assert test.smoothed[0] == pytest.approx(test.losses[0])  # bias-corrected average
    assert test.smoothed[-1] > BLOW_UP * min(test.smoothed[:-1]) or not test.stopped_early
    # The config's schedule is replaced: a cosine config gives the very same test.
    again = lr_range_test(config.replace(schedule="cosine"))
    assert again.losses == test.losses


def test_range_test_checks_its_input() -> None:
    config = default_config("digits")
    with pytest.raises(ValueError, match="start"):
        lr_range_test(config, start_lr=1.0, end_lr=1e-3)
    with pytest.raises(ValueError, match="steps"):
        lr_range_test(config, steps=5)


# --- the demos ----------------------------------------------------------------------------------


def render(function: str) -> AppTest:
    return render_demo("ui.demos.optimizers", function)


def test_3_1_demo_races_and_shows_adams_first_steps() -> None:
    app = render("optimizer_demo")
    assert len(app.get(CHART)) == 5 and len(app.subheader) == 3
    shown = metrics(app)
    assert shown["First update ÷ lr, with correction"] == "1.00"
    assert shown["First update ÷ lr, without correction"] == "3.16"  # 0.1 / sqrt(0.001)
    table = app.dataframe[0].value.set_index("optimizer")
    assert set(table["after step"]) == {40}
    app.slider(key="demo_3_1_step").set_value(10)
    check(app.run())
    moved = app.dataframe[0].value.set_index("optimizer")
    assert set(moved["after step"]) == {10}
    assert (moved.loc[table.index, "loss"] > table["loss"]).all()  # earlier: higher
    captions = " ".join(c.value for c in app.caption)
    assert "SGD 0.1" in captions and captions.count("%") >= 6  # six digits runs
    # Plain SGD past 2 / 50 across the ravine: the zig-zag grows and leaves the map.
    app.radio(key="demo_3_1_surface").set_value("ravine")
    app.multiselect(key="demo_3_1_optimizers").set_value(["sgd", "adam"])
    app.select_slider(key="demo_3_1_sgd_lr").set_value(0.05)
    check(app.run())
    assert any("SGD" in w.value and "Left the map" in w.value for w in app.warning)
    assert len(app.dataframe[0].value) == 2


def test_3_2_demo_marks_the_suggestion_and_trains_with_it() -> None:
    app = render("schedule_demo")
    assert len(app.get(CHART)) == 2
    gallery = app.dataframe[0].value
    assert len(gallery) == 7 and gallery["final val acc"].between(0.8, 1.0).all()
    step = gallery.set_index("schedule").loc["step (÷10 after epochs 2, 4)", "final lr"]
    assert step == pytest.approx(1e-2 * 0.1 * 0.1)  # the real MultiStepLR, both milestones
    adam = metrics(app)
    assert float(adam["Suggested lr"]) == pytest.approx(
        float(adam["lr at the lowest smoothed loss"]) / 10, rel=0.01
    )
    app.selectbox(key="demo_3_2_range_optimizer").set_value("SGD")
    check(app.run())
    assert float(metrics(app)["Suggested lr"]) > 10 * float(adam["Suggested lr"])
    app.button(key="demo_3_2_train").click()
    check(app.run())
    assert len(app.get(CHART)) == 3
    trained = next(c.value for c in app.caption if "Final val acc" in c.value)
    assert trained.count("suggested") == 3
