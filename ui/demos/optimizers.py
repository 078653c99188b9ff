"""Lessons 3.1 and 3.2's visuals: optimizers racing on 2-D surfaces and on digits, Adam's
bias correction, a gallery of learning-rate schedules and the LR range test.

Every path, curve and suggestion comes from running the engine (`engine.surfaces`,
`engine.lr_range`, `engine.training.train`); this file only chooses widgets and draws.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
import torch

from engine.config import SCHEDULE_CLOCKS, default_config
from engine.data import make_loader
from engine.loop import start
from engine.lr_range import BLOW_UP, SUGGESTION_BELOW_MINIMUM, lr_range_test
from engine.results import RunResult
from engine.surfaces import OPTIMIZER_LABELS, SGD_FAMILY, SURFACES, Racer, race, surface_grid
from engine.training import build_parts, train
from ui.charts import BASELINE_COLOUR, BROKEN_COLOURS, REFERENCE_COLOUR

HEIGHT = 320
OPTIMIZER_COLOURS = {
    "SGD": BROKEN_COLOURS[0],
    "SGD + momentum": BROKEN_COLOURS[1],
    "Nesterov": BROKEN_COLOURS[2],
    "RMSprop": BROKEN_COLOURS[3],
    "Adam": BASELINE_COLOUR,
    "AdamW": BROKEN_COLOURS[5],
    "Adam, no bias correction": BROKEN_COLOURS[4],
}


def _show(chart: alt.TopLevelMixin) -> None:
    st.altair_chart(chart, width="stretch")


def _colour(labels: list[str], title: str = "Optimizer") -> alt.Color:
    order = [label for label in OPTIMIZER_COLOURS if label in labels]
    return alt.Color(
        "optimizer:N",
        title=title,
        sort=order,
        scale=alt.Scale(domain=order, range=[OPTIMIZER_COLOURS[label] for label in order]),
        legend=alt.Legend(orient="bottom", columns=4, labelLimit=220),
    )


def _epochs(result: RunResult, name: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"optimizer": name, "epoch": e.epoch, "val_loss": e.val_loss, "val_acc": e.val_acc}
        for e in result.epochs
    )


def _val_loss_chart(table: pd.DataFrame, colour: alt.Color, title: str) -> alt.Chart:
    return (
        alt.Chart(table)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("val_loss:Q", title="Validation loss (log scale)", scale=alt.Scale(type="log")),
            color=colour,
            tooltip=[
                "optimizer:N",
                "epoch:Q",
                alt.Tooltip("val_loss:Q", format=".4f"),
                alt.Tooltip("val_acc:Q", format=".1%"),
            ],
        )
        .properties(title=title, height=HEIGHT)
    )


# --- 3.1 (a) the race on a 2-D surface ----------------------------------------------------

RACE_STEPS = 150  # every path is computed this far; the slider shows a prefix of it
GRID_RESOLUTION = 60
SGD_LRS = (0.001, 0.003, 0.01, 0.02, 0.03, 0.035, 0.04, 0.05, 0.1, 0.2, 0.3)
ADAPTIVE_LRS = (0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5)
DEFAULT_RACERS = ("sgd", "momentum", "rmsprop", "adam")


@st.cache_data(show_spinner=False)
def _grid(surface: str) -> pd.DataFrame:
    grid = surface_grid(SURFACES[surface], GRID_RESOLUTION)
    return pd.DataFrame({"x": grid.x, "y": grid.y, "loss": grid.loss})


@st.cache_data(show_spinner="Racing the optimizers...")
def _race(
    surface: str, racers: tuple[tuple[str, float, float, tuple[float, float], float], ...]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every racer's path as rows (optimizer, step, x, y, loss) and where any diverged."""
    chosen = [Racer(key, lr, momentum, betas, decay) for key, lr, momentum, betas, decay in racers]
    paths = race(SURFACES[surface], chosen, RACE_STEPS)
    frames = [
        pd.DataFrame(
            {
                "optimizer": path.racer.label,
                "step": range(len(path.loss)),
                "x": path.x,
                "y": path.y,
                "loss": path.loss,
            }
        )
        for path in paths.values()
    ]
    diverged = {p.racer.label: p.diverged_at for p in paths.values() if p.diverged_at is not None}
    return pd.concat(frames, ignore_index=True), diverged


def _in_window(paths: pd.DataFrame, surface: str) -> pd.DataFrame:
    """Each path up to its first point outside the map (later ones are not drawn)."""
    x_range, y_range = SURFACES[surface].x_range, SURFACES[surface].y_range
    inside = paths.x.between(*x_range) & paths.y.between(*y_range)
    left = (~inside).groupby(paths.optimizer).cummax()  # True from the first exit on
    return paths[~left]


def _race_map(grid: pd.DataFrame, shown: pd.DataFrame, surface: str) -> alt.LayerChart:
    spec = SURFACES[surface]
    half_x = (spec.x_range[1] - spec.x_range[0]) / (GRID_RESOLUTION - 1) * 0.51
    half_y = (spec.y_range[1] - spec.y_range[0]) / (GRID_RESOLUTION - 1) * 0.51
    # The lowest points have loss 0; a floor keeps them on the log colour scale.
    cells = grid.assign(
        x0=grid.x - half_x,
        x1=grid.x + half_x,
        y0=grid.y - half_y,
        y1=grid.y + half_y,
        shade=grid.loss.clip(lower=1e-2),
    )
    heat = (
        alt.Chart(cells)
        .mark_rect(strokeWidth=0)
        .encode(
            x=alt.X(
                "x0:Q",
                title="Parameter x",
                axis=alt.Axis(grid=False),
                scale=alt.Scale(domain=spec.x_range, nice=False),
            ),
            x2="x1:Q",
            y=alt.Y(
                "y0:Q",
                title="Parameter y",
                axis=alt.Axis(grid=False),
                scale=alt.Scale(domain=spec.y_range, nice=False),
            ),
            y2="y1:Q",
            color=alt.Color(
                "shade:Q",
                title="Loss (log colour)",
                scale=alt.Scale(type="log", range=["#f8fafc", "#334155"]),
                legend=alt.Legend(format=".2g", orient="right"),
            ),
            tooltip=[
                alt.Tooltip("x:Q", format=".2f"),
                alt.Tooltip("y:Q", format=".2f"),
                alt.Tooltip("loss:Q", format=".3g"),
            ],
        )
    )
    paths = (
        alt.Chart(shown)
        .mark_line(strokeWidth=1.8, point=alt.OverlayMarkDef(size=18))
        .encode(
            x="x:Q",
            y="y:Q",
            order="step:Q",
            color=_colour(list(shown.optimizer.unique())),
            tooltip=[
                "optimizer:N",
                "step:Q",
                alt.Tooltip("x:Q", format=".3f"),
                alt.Tooltip("y:Q", format=".3f"),
                alt.Tooltip("loss:Q", format=".4g"),
            ],
        )
    )
    marks = pd.DataFrame(
        [{"x": spec.start[0], "y": spec.start[1], "what": "start"}]
        + [{"x": x, "y": y, "what": "lowest point"} for x, y in spec.minima]
    )
    points = (
        alt.Chart(marks)
        .mark_point(shape="cross", size=160, strokeWidth=2.5, color="#0f172a")
        .encode(x="x:Q", y="y:Q", tooltip=["what:N"])
    )
    return (
        alt.layer(heat, paths, points)
        .properties(title=f"Loss {spec.formula} and each optimizer's path", height=HEIGHT + 60)
        .configure_axis(grid=False)  # grid lines would read as contour lines on the map
    )


def _race_loss_chart(paths: pd.DataFrame, shown_steps: int) -> alt.LayerChart:
    positive = paths[paths.loss > 0]  # an exact 0 has no place on a log axis
    lines = (
        alt.Chart(positive)
        .mark_line(strokeWidth=1.6)
        .encode(
            x=alt.X("step:Q", title="Step (optimizer updates)"),
            y=alt.Y(
                "loss:Q",
                title="Loss at the current (x, y), log scale",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(format=".0e"),
            ),
            color=_colour(list(paths.optimizer.unique())),
            tooltip=["optimizer:N", "step:Q", alt.Tooltip("loss:Q", format=".3g")],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"step": [shown_steps]}))
        .mark_rule(strokeDash=[4, 3], color="#475569")
        .encode(x="step:Q")
    )
    return alt.layer(lines, rule).properties(title="Loss per step", height=HEIGHT)


def _race_settings() -> tuple[
    str, tuple[tuple[str, float, float, tuple[float, float], float], ...]
]:
    columns = st.columns([1, 2])
    surface = columns[0].radio(
        "Surface",
        list(SURFACES),
        format_func=lambda name: SURFACES[name].title,
        key="demo_3_1_surface",
    )
    keys = columns[1].multiselect(
        "Optimizers",
        list(OPTIMIZER_LABELS),
        default=list(DEFAULT_RACERS),
        format_func=OPTIMIZER_LABELS.__getitem__,
        key="demo_3_1_optimizers",
    )
    lr_columns = st.columns(4)
    sgd_lr = lr_columns[0].select_slider(
        "lr: SGD, momentum, Nesterov", SGD_LRS, value=0.035, key="demo_3_1_sgd_lr"
    )
    rmsprop_lr = lr_columns[1].select_slider(
        "lr: RMSprop", ADAPTIVE_LRS, value=0.05, key="demo_3_1_rmsprop_lr"
    )
    adam_lr = lr_columns[2].select_slider(
        "lr: Adam, AdamW", ADAPTIVE_LRS, value=0.1, key="demo_3_1_adam_lr"
    )
    momentum = lr_columns[3].select_slider(
        "Momentum β", (0.0, 0.5, 0.8, 0.9, 0.95, 0.99), value=0.9, key="demo_3_1_momentum"
    )
    more = st.columns(3)
    beta1 = more[0].select_slider(
        "Adam β1 (mean)", (0.0, 0.5, 0.8, 0.9, 0.95, 0.99), value=0.9, key="demo_3_1_beta1"
    )
    beta2 = more[1].select_slider(
        "Adam β2 (square)", (0.9, 0.99, 0.999, 0.9999), value=0.999, key="demo_3_1_beta2"
    )
    decay = more[2].select_slider(
        "AdamW weight decay", (0.0, 0.01, 0.1, 0.5), value=0.1, key="demo_3_1_weight_decay"
    )
    lrs = {key: sgd_lr if key in SGD_FAMILY else adam_lr for key in keys}
    lrs.update({"rmsprop": rmsprop_lr} if "rmsprop" in keys else {})
    racers = tuple(
        (key, float(lrs[key]), float(momentum), (float(beta1), float(beta2)), float(decay))
        for key in keys
    )
    return str(surface), racers


def _race_section() -> None:
    st.subheader("Race the optimizers on a 2-D loss surface")
    surface, racers = _race_settings()
    if not racers:
        st.info("Tick at least one optimizer to race.")
        return
    paths, diverged = _race(surface, racers)
    shown_steps = st.slider(
        "Steps shown", 0, RACE_STEPS, 40, key="demo_3_1_step", help="Move it to replay the race."
    )
    upto = paths[paths.step <= shown_steps]
    shown = _in_window(upto, surface)
    left, right = st.columns([3, 2])
    with left:
        _show(_race_map(_grid(surface), shown, surface))
    with right:
        _show(_race_loss_chart(paths, shown_steps))
    _race_table(upto, racers)
    _race_notes(upto, shown, diverged, surface)


def _race_table(upto: pd.DataFrame, racers: tuple[tuple[Any, ...], ...]) -> None:
    last = upto.groupby("optimizer", sort=False).last()
    lrs = {OPTIMIZER_LABELS[key]: lr for key, lr, *_ in racers}
    table = pd.DataFrame(
        {
            "optimizer": last.index,
            "lr": [lrs[name] for name in last.index],
            "after step": last.step.to_numpy(),
            "loss": last.loss.to_numpy(),
            "x": last.x.to_numpy(),
            "y": last.y.to_numpy(),
        }
    ).sort_values("loss")
    number = st.column_config.NumberColumn
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "lr": number(format="%g"),
            "loss": number(format="%.3e"),
            "x": number(format="%.3f"),
            "y": number(format="%.3f"),
        },
    )


def _race_notes(
    upto: pd.DataFrame,
    shown: pd.DataFrame,
    diverged: dict[str, int],
    surface: str,
) -> None:
    for name, step in diverged.items():
        st.warning(f"{name}: the loss overflowed at step {step}; this lr is too large for it here.")
    left = sorted(set(upto.optimizer) - set(shown[shown.step == upto.step.max()].optimizer))
    left = [name for name in left if name not in diverged]
    if left:
        st.warning(f"Left the map (later points not drawn): {', '.join(left)}.")
    spec = SURFACES[surface]
    along, across = spec.curvatures
    notes = {
        "valley": "A round-ish bowl: every optimizer gets there. SGD's step is lr × slope, so "
        "it slows as the floor flattens; Adam's step is about lr per coordinate whatever the "
        "slope, so it marches in at a steady pace.",
        "ravine": f"Curvature {along:g} along the ravine and {across:g} across it. Plain SGD "
        f"must keep lr below 2/{across:g} = {2 / across:.2f} for the steep direction, so it "
        "zig-zags across and crawls along. Momentum adds up the steady push along the floor "
        "while the zig-zags cancel; RMSprop and Adam divide each coordinate's step by its "
        "own gradient size, so both directions move at similar speeds. Nesterov tolerates "
        "less curvature than plain momentum: tick it at a large lr and watch.",
        "saddle": "The start sits almost on the ridge y = 0 leading to the saddle point "
        "(0, 0), where the slope across is nearly zero. SGD's y-step is lr × a tiny slope, so "
        "it lingers near the saddle before sliding off to a lowest point at y = ±1; Adam and "
        "RMSprop rescale the tiny y-gradient and escape sooner.",
    }
    st.caption(
        notes[surface]
        + " Crosses: the start and the lowest points. The table reads the paths at the "
        "slider's step (the dashed line on the right). AdamW's weight decay pulls (x, y) "
        "towards (0, 0), so where the lowest point is elsewhere it settles a little short."
    )


# --- 3.1 (b) the same optimizers on digits -------------------------------------------------

DIGITS_EPOCHS = 4
# Each optimizer at a learning rate that suits it: SGD's lr multiplies the gradient, momentum
# 0.9 moves about 1 / (1 - 0.9) = 10 times further per lr, Adam and RMSprop steps are ~lr.
DIGITS_RUNS: dict[str, dict[str, Any]] = {
    "SGD": {"optimizer": "sgd", "lr": 0.1},
    "SGD + momentum": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9},
    "Nesterov": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True},
    "RMSprop": {"optimizer": "rmsprop", "lr": 1e-3},
    "Adam": {"optimizer": "adam", "lr": 1e-3},
    "AdamW": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.01},
}


@st.cache_data(show_spinner="Training on digits...")
def _digits_run(name: str, settings: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    """One digits run (MLP 64-128-64-10, batch 32, seed 42: the same initial weights)."""
    result = train(default_config("digits", epochs=DIGITS_EPOCHS, **dict(settings)))
    return _epochs(result, name)


def _digits_section() -> None:
    st.subheader("The same optimizers on digits")
    table = pd.concat(
        [_digits_run(name, tuple(sorted(s.items()))) for name, s in DIGITS_RUNS.items()],
        ignore_index=True,
    )
    _show(
        _val_loss_chart(
            table, _colour(list(DIGITS_RUNS)), "Validation loss per epoch, same initial weights"
        )
    )
    final = table.groupby("optimizer", sort=False).last()
    st.caption(
        f"Digits MLP 64-128-64-10, batch 32, {DIGITS_EPOCHS} epochs, all six from the same "
        "initial weights (seed 42). Learning rates: SGD 0.1; momentum and Nesterov 0.01 with "
        "β = 0.9 (momentum multiplies the effective step by about 1/(1−β) = 10); RMSprop, "
        "Adam and AdamW 1e-3 (AdamW with weight decay 0.01). Final val acc: "
        + ", ".join(f"{name} {row.val_acc:.1%}" for name, row in final.iterrows())
        + ". On an easy problem with well-chosen lrs they all arrive; what differs is how "
        "fast, and how much tuning each needed to get there."
    )


# --- 3.1 (c) Adam's bias correction ---------------------------------------------------------

UPDATE_STEPS = 120


@st.cache_data(show_spinner=False)
def _update_sizes(lr: float, bias_correction: bool) -> list[float]:
    """Median |change of a weight| / lr at each of the first steps of Adam on digits."""
    config = default_config("digits", lr=lr, bias_correction=bias_correction)
    state = start(build_parts(config))  # fresh model, Adam (HandAdam when the correction is off)
    parts, sizes = state.parts, []
    while len(sizes) < UPDATE_STEPS:
        loader = make_loader(parts.data.train, config.batch_size, True, state.shuffle_generator)
        for inputs, targets in loader:
            before = torch.cat([p.detach().flatten() for p in parts.model.parameters()])
            parts.train_step(parts.model, inputs, targets, parts.loss_fn, state.optimizer)
            after = torch.cat([p.detach().flatten() for p in parts.model.parameters()])
            sizes.append(float((after - before).abs().median()) / lr)
            if len(sizes) == UPDATE_STEPS:
                break
    return sizes


def _bias_correction_section() -> None:
    st.subheader("Adam's bias correction: the first steps")
    lr = st.select_slider(
        "Adam learning rate",
        (1e-3, 3e-3, 1e-2),
        value=1e-2,
        key="demo_3_1_bc_lr",
        format_func=lambda value: f"{value:g}",
    )
    beta1, beta2 = 0.9, 0.999
    rows = []
    for label, corrected in (("Adam", True), ("Adam, no bias correction", False)):
        for step, size in enumerate(_update_sizes(float(lr), corrected), start=1):
            rows.append({"optimizer": label, "step": step, "size": size})
    sizes = pd.DataFrame(rows)
    steps = range(1, UPDATE_STEPS + 1)
    factor = pd.Series([(1 - beta1**t) / math.sqrt(1 - beta2**t) for t in steps], index=steps)
    corrected_sizes = sizes[sizes.optimizer == "Adam"].set_index("step")["size"]
    # What the uncorrected step would be from where the corrected run stands: its step
    # times the factor the missing correction multiplies by.
    predicted = pd.DataFrame(
        {"step": steps, "size": (corrected_sizes * factor).to_numpy(), "factor": factor.to_numpy()}
    )
    measured = (
        alt.Chart(sizes)
        .mark_line(strokeWidth=1.8)
        .encode(
            x=alt.X(
                "step:Q",
                title="Step (optimizer updates, log scale)",
                scale=alt.Scale(type="log", domain=[1, UPDATE_STEPS], nice=False),
            ),
            y=alt.Y("size:Q", title="Median |Δw| / lr (log scale)", scale=alt.Scale(type="log")),
            color=_colour(list(sizes.optimizer.unique())),
            tooltip=["optimizer:N", "step:Q", alt.Tooltip("size:Q", format=".3f")],
        )
    )
    expected = (
        alt.Chart(predicted)
        .mark_line(strokeDash=[5, 4], color=REFERENCE_COLOUR)
        .encode(
            x="step:Q",
            y="size:Q",
            tooltip=[
                "step:Q",
                alt.Tooltip("factor:Q", format=".2f", title="(1 − β1^t)/√(1 − β2^t)"),
                alt.Tooltip("size:Q", format=".3f", title="Adam's step × factor"),
            ],
        )
    )
    left, right = st.columns(2)
    with left:
        _show(
            alt.layer(measured, expected).properties(
                title="How far each step moves a typical weight", height=HEIGHT
            )
        )
    with right:
        _show(_bias_curves(float(lr)))
    by_step = sizes.pivot(index="step", columns="optimizer", values="size")
    first, third = by_step.loc[1], by_step.loc[3]
    columns = st.columns(2)
    columns[0].metric("First update ÷ lr, with correction", f"{first['Adam']:.2f}")
    columns[1].metric(
        "First update ÷ lr, without correction", f"{first['Adam, no bias correction']:.2f}"
    )
    st.caption(
        f"m and v start at 0. After one step m = {1 - beta1:g}·g and v = {1 - beta2:g}·g², so "
        f"without the correction the step is lr·{1 - beta1:g}/√{1 - beta2:g} = "
        f"{(1 - beta1) / math.sqrt(1 - beta2):.2f}·lr instead of lr. The dashed line is the "
        "blue line times the factor the missing correction multiplies a step by, "
        "(1 − β1^t)/√(1 − β2^t): v, "
        "averaged over ~1000 steps, stays too small far longer than m. Measured at step 3: "
        f"{third['Adam, no bias correction'] / third['Adam']:.1f}× the corrected step "
        f"(the formula: {factor[3]:.1f}×); later the two runs are in different "
        "places and no longer compare step for step. Sizes are the median over all weights "
        "of the digits MLP; both runs start from the same weights, the uncorrected one with "
        "engine.optimizers.HandAdam. Try lr 1e-3: a cautious lr can even gain from the "
        "oversized early steps; at 1e-2 they overshoot."
    )


@st.cache_data(show_spinner="Training Adam with and without bias correction...")
def _bias_runs(lr: float) -> pd.DataFrame:
    # The same settings tuple as the optimizer comparison's Adam run: shared from its cache.
    adam = {"optimizer": "adam", "lr": lr}
    return pd.concat(
        [
            _digits_run("Adam", tuple(sorted(adam.items()))),
            _digits_run(
                "Adam, no bias correction",
                tuple(sorted({**adam, "bias_correction": False}.items())),
            ),
        ],
        ignore_index=True,
    )


def _bias_curves(lr: float) -> alt.Chart:
    table = _bias_runs(lr)
    return _val_loss_chart(table, _colour(list(table.optimizer.unique())), "Digits, val loss")


def optimizer_demo() -> None:
    """3.1: the race on 2-D surfaces, the optimizers on digits, Adam's bias correction."""
    _race_section()
    _digits_section()
    _bias_correction_section()


# --- 3.2 (a) the schedule gallery -------------------------------------------------------------

SCHEDULE_EPOCHS = 5
# Each schedule as the engine's config writes it; warm-up over the first epoch (40 steps).
SCHEDULE_RUNS: dict[str, dict[str, Any]] = {
    "constant, 1-epoch warm-up": {"schedule": "constant", "warmup_steps": 40},
    "step (÷10 after epochs 2, 4)": {"schedule": "step", "milestones": (2, 4)},
    "exponential (×0.7 per epoch)": {"schedule": "exponential", "gamma": 0.7},
    "cosine": {"schedule": "cosine"},
    "warmup_cosine (5% warm-up)": {"schedule": "warmup_cosine"},
    "onecycle": {"schedule": "onecycle"},
    "plateau (×0.3, patience 0)": {"schedule": "plateau", "gamma": 0.3, "plateau_patience": 0},
}


@st.cache_data(show_spinner="Training digits once per schedule...")
def _schedule_runs(lr: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each schedule's lr at every step (as the run recorded it) and its final epoch."""
    steps, finals = [], []
    for name, settings in SCHEDULE_RUNS.items():
        result = train(default_config("digits", epochs=SCHEDULE_EPOCHS, lr=lr, **settings))
        steps.append(
            pd.DataFrame({"schedule": name, "step": s.step, "lr": s.lr} for s in result.steps)
        )
        last = result.epochs[-1]
        finals.append(
            {
                "schedule": name,
                "clock": result.config.schedule,
                "final lr": result.steps[-1].lr,
                "final val loss": last.val_loss,
                "final val acc": last.val_acc,
            }
        )
    return pd.concat(steps, ignore_index=True), pd.DataFrame(finals)


def _gallery_section() -> None:
    st.subheader("A gallery of learning-rate schedules, each trained on digits")
    lr = st.select_slider(
        "Base learning rate (Adam)",
        (1e-3, 3e-3, 1e-2),
        value=1e-2,
        key="demo_3_2_lr",
        format_func=lambda value: f"{value:g}",
    )
    steps, finals = _schedule_runs(float(lr))
    chart = (
        alt.Chart(steps)
        .mark_line(color=BASELINE_COLOUR, strokeWidth=1.8)
        .encode(
            x=alt.X("step:Q", title="Step (batch of 32)"),
            y=alt.Y("lr:Q", title="Learning rate", axis=alt.Axis(format=".1e")),
            tooltip=["schedule:N", "step:Q", alt.Tooltip("lr:Q", format=".3g")],
        )
        .properties(width=190, height=130)
        .facet(
            facet=alt.Facet("schedule:N", title=None, sort=list(SCHEDULE_RUNS)),
            columns=4,
        )
        .resolve_scale(y="independent")
        .properties(title="Learning rate at every step, as each real run recorded it")
    )
    st.altair_chart(chart, width="content")
    finals["clock"] = finals["clock"].map(_clock_name)
    number = st.column_config.NumberColumn
    st.dataframe(
        finals,
        hide_index=True,
        width="stretch",
        column_config={
            "final lr": number(format="%.2e"),
            "final val loss": number(format="%.4f"),
            "final val acc": number(format="percent"),
        },
    )
    best = finals.sort_values("final val loss").iloc[0]
    st.caption(
        f"Digits MLP, Adam with base lr {lr:g}, batch 32, {SCHEDULE_EPOCHS} epochs (40 steps "
        "each), same initial weights. Step and exponential tick once per epoch (flat stairs); "
        "cosine, warm-up and one-cycle tick every step; plateau lowers the lr only after an "
        "epoch whose val loss did not improve, so its line comes from the run itself. "
        f"Lowest final val loss here: {best['schedule']} ({best['final val loss']:.4f}). At a "
        "large base lr the schedules that end small let the weights settle; at a small one "
        "they matter less."
    )


def _clock_name(schedule: str) -> str:
    return {"steps": "per step", "epochs": "per epoch", "val_loss": "per epoch, val loss"}[
        SCHEDULE_CLOCKS[schedule]
    ]


# --- 3.2 (b) the LR range test -------------------------------------------------------------------

RANGE_OPTIMIZERS: dict[str, dict[str, Any]] = {
    "Adam": {"optimizer": "adam"},
    "SGD + momentum 0.9": {"optimizer": "sgd", "momentum": 0.9},
    "SGD": {"optimizer": "sgd"},
}
RANGE_START_LR = 1e-6
RANGE_END_LR = 10.0  # past where every optimizer here blows up (SGD's edge is above 1)
RANGE_STEPS = 100
TRAIN_EPOCHS = 5


@st.cache_data(show_spinner="Running the LR range test...")
def _range_test(optimizer: str) -> tuple[pd.DataFrame, float, float, float, bool]:
    config = default_config("digits", **RANGE_OPTIMIZERS[optimizer])
    test = lr_range_test(config, RANGE_START_LR, RANGE_END_LR, RANGE_STEPS)
    table = pd.DataFrame({"lr": test.lrs, "loss": test.losses, "smoothed": test.smoothed})
    return table, test.suggested_lr, test.min_lr, test.steepest_lr, test.stopped_early


@st.cache_data(show_spinner="Training with the suggested lr, 100x smaller and 10x larger...")
def _train_at(optimizer: str, suggested: float) -> pd.DataFrame:
    frames = []
    for factor, name in ((0.01, "suggested ÷ 100"), (1.0, "suggested"), (10.0, "suggested × 10")):
        lr = suggested * factor
        result = train(
            default_config("digits", epochs=TRAIN_EPOCHS, lr=lr, **RANGE_OPTIMIZERS[optimizer])
        )
        frames.append(_epochs(result, f"{name} (lr {lr:.2g})"))
    return pd.concat(frames, ignore_index=True)


def _range_chart(table: pd.DataFrame, suggested: float, lowest: float) -> alt.LayerChart:
    long = table.melt(id_vars="lr", value_vars=["loss", "smoothed"], var_name="curve")
    long = long[long.value > 0]
    lines = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=alt.X("lr:Q", title="Learning rate (log scale)", scale=alt.Scale(type="log")),
            y=alt.Y(
                "value:Q",
                title="Training loss on the batch (log scale)",
                scale=alt.Scale(type="log"),
            ),
            color=alt.Color(
                "curve:N",
                title=None,
                scale=alt.Scale(domain=["loss", "smoothed"], range=["#cbd5e1", BASELINE_COLOUR]),
                legend=alt.Legend(
                    orient="bottom", labelExpr="datum.label == 'loss' ? 'each batch' : 'smoothed'"
                ),
            ),
            tooltip=[
                alt.Tooltip("lr:Q", format=".2e"),
                "curve:N",
                alt.Tooltip("value:Q", format=".4f"),
            ],
        )
    )
    layers: list[alt.Chart] = [lines]
    # Each mark in a fixed colour of its own, so it stays out of the curves' legend.
    for lr, text, colour, height in (
        (suggested, f"suggested lr {suggested:.2g}", BROKEN_COLOURS[3], 14),
        (lowest, f"lowest smoothed loss at lr {lowest:.2g}", REFERENCE_COLOUR, 32),
    ):
        mark = alt.Chart(pd.DataFrame({"lr": [lr], "text": [text]}))
        layers.append(
            mark.mark_rule(strokeDash=[5, 3], strokeWidth=2, color=colour).encode(x="lr:Q")
        )
        layers.append(
            mark.mark_text(align="left", dx=5, fontSize=12, fontWeight="bold", color=colour).encode(
                x="lr:Q", y=alt.value(height), text="text:N"
            )
        )
    growth = (RANGE_END_LR / RANGE_START_LR) ** (1 / (RANGE_STEPS - 1))
    return alt.layer(*layers).properties(
        title=f"LR range test: the lr grows ×{growth:.2f} every step", height=HEIGHT
    )


def _range_section() -> None:
    st.subheader("The LR range test on digits")
    optimizer = st.selectbox("Optimizer", list(RANGE_OPTIMIZERS), key="demo_3_2_range_optimizer")
    table, suggested, lowest, steepest, stopped_early = _range_test(str(optimizer))
    _show(_range_chart(table, suggested, lowest))
    columns = st.columns(3)
    columns[0].metric("Suggested lr", f"{suggested:.3g}")
    columns[1].metric("lr at the lowest smoothed loss", f"{lowest:.3g}")
    columns[2].metric("lr of the steepest fall", f"{steepest:.3g}")
    ending = (
        f"it stopped at lr {table.lr.iloc[-1]:.2g}, once the smoothed loss passed "
        f"{BLOW_UP:g}× its lowest value"
        if stopped_early
        else "the loss never blew up"
    )
    st.caption(
        f"{len(table)} steps of {optimizer} on a fresh digits MLP (batch 32), the lr "
        f"multiplied by the same factor every step from {RANGE_START_LR:g} towards "
        f"{RANGE_END_LR:g}; {ending}. Read it left to right: flat (too small to change "
        "anything), falling (useful), turning up (too large). The suggestion is the lr of "
        f"the lowest smoothed loss ÷ {SUGGESTION_BELOW_MINIMUM:g}: on the falling part, well "
        "before the turn. Then press the button to train with it."
    )
    if st.button("Train with this lr", key="demo_3_2_train", icon=":material/play_arrow:"):
        st.session_state["demo_3_2_trained"] = (str(optimizer), suggested)
    trained = st.session_state.get("demo_3_2_trained")
    if trained is not None:
        _show_training(*trained)


def _show_training(optimizer: str, suggested: float) -> None:
    table = _train_at(optimizer, suggested)
    names = list(table.optimizer.unique())
    colour = alt.Color(
        "optimizer:N",
        title="Learning rate",
        sort=names,
        scale=alt.Scale(domain=names, range=[REFERENCE_COLOUR, BASELINE_COLOUR, BROKEN_COLOURS[0]]),
        legend=alt.Legend(orient="bottom", labelLimit=260),
    )
    _show(_val_loss_chart(table, colour, f"{optimizer} on digits at three learning rates"))
    final = table.groupby("optimizer", sort=False).last()
    st.caption(
        f"{TRAIN_EPOCHS} epochs each, same initial weights. Final val acc: "
        + "; ".join(f"{name}: {row.val_acc:.1%}" for name, row in final.iterrows())
        + ". Too small an lr creeps: the loss falls slowly and steadily. Too large jumps "
        "around or stalls at a worse loss."
    )


def schedule_demo() -> None:
    """3.2: the schedules drawn from real runs, and the LR range test with its suggestion."""
    _gallery_section()
    _range_section()
