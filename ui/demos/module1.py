"""Module 1's own visuals: the four steps, the line fit, batch size, the landscape, gradient checks.

Each `*_demo` function is one lesson's "Try it" visual. The numbers all come from
`engine.linear_regression`; this file only chooses widgets and draws charts.
"""

from __future__ import annotations

import inspect
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from engine import linear_regression
from engine.step import train_step
from ui.charts import BASELINE_COLOUR, BROKEN_COLOURS, REFERENCE_COLOUR

HEIGHT = 280
HAND_COLOUR = BASELINE_COLOUR
AUTOGRAD_COLOUR = BROKEN_COLOURS[1]
PATH_COLOUR = BROKEN_COLOURS[0]
STAGES = ("1. forward", "2. loss", "3. backward", "4. step")


def _show(chart: alt.TopLevelMixin) -> None:
    st.altair_chart(chart, width="stretch")


# --- 1.1 the four steps and the iterations calculator ---------------------------------


@st.cache_data(show_spinner=False)
def _walkthrough(seed: int) -> dict[str, Any]:
    return dict(linear_regression.one_step_walkthrough(seed))


def _train_step_line(stage: int) -> str:
    """The line of the engine's own `train_step` that does this stage (its text, not a copy)."""
    for line in inspect.getsource(train_step).splitlines():
        if f"# {stage}." in line:
            return line.strip()
    return ""


def four_steps_demo() -> None:
    """1.1: one real `train_step` on four digits, revealed one stage at a time."""
    st.subheader("One training step, taken apart")
    st.caption(
        "The engine's own `train_step` runs once on a batch of 4 digit images "
        "(the course's MLP, plain SGD with lr 0.1). Slide to reveal each stage."
    )
    left, right = st.columns([3, 1])
    stage_name = left.select_slider("Stage", STAGES, value=STAGES[0], key="demo_1_1_stage")
    seed = right.number_input(
        "Seed (starting weights)", min_value=0, max_value=20, value=0, key="demo_1_1_seed"
    )
    stage = STAGES.index(stage_name) + 1
    walk = _walkthrough(int(seed))
    st.code(_train_step_line(stage), language="python")
    columns = st.columns(4)
    columns[0].metric(
        "Outputs (forward)",
        _shape(walk["outputs_shape"]),
        help="One score (logit) per class for each of the 4 images.",
    )
    columns[0].caption(
        f"from inputs {_shape(walk['inputs_shape'])}: 4 images, 1 channel, 8x8 pixels"
    )
    if stage >= 2:
        columns[1].metric(
            "Loss", f"{walk['loss']:.4f}", help="An untrained model scores about ln 10 = 2.303."
        )
        columns[1].caption(
            f"against targets {_shape(walk['targets_shape'])}: one class index per image"
        )
    if stage >= 3:
        columns[2].metric(
            f"Gradient of {walk['weight_name']}",
            f"{walk['grad']:+.5f}",
            help="The output-layer weight with the largest gradient.",
        )
    if stage >= 4:
        columns[3].metric(
            "Weight after the step",
            f"{walk['weight_after']:+.5f}",
            delta=f"{walk['update']:+.5f}",
            delta_color="off",
        )
    _stage_table(walk, stage)


def _shape(shape: list[int]) -> str:
    return "[" + ", ".join(str(size) for size in shape) + "]"


def _stage_table(walk: dict[str, Any], stage: int) -> None:
    if stage == 1:
        st.table(
            pd.DataFrame(
                {
                    "image": range(1, 5),
                    "label": walk["labels"],
                    "predicted class (argmax of outputs)": walk["predictions"],
                }
            ),
            hide_index=True,
        )
    elif stage == 2:
        st.markdown(
            f"Loss {walk['loss']:.4f} against $\\ln 10 = {walk['chance_loss']:.4f}$: "
            "the untrained model is about as wrong as a uniform guess."
        )
    elif stage == 3:
        st.markdown(
            "`loss.backward()` filled in `.grad` for every weight; nothing has moved "
            "yet. A negative gradient means: increasing this weight lowers the loss."
        )
    else:
        st.table(
            pd.DataFrame(
                [
                    {
                        "weight": walk["weight_name"],
                        "before": walk["weight_before"],
                        "gradient": walk["grad"],
                        "lr": walk["lr"],
                        "-lr × gradient": walk["expected_update"],
                        "after − before": walk["update"],
                        "after": walk["weight_after"],
                    }
                ]
            ).style.format(precision=6),
            hide_index=True,
        )
        st.caption("Plain SGD: after − before equals −lr × gradient, up to float32 rounding.")


def iterations_calculator() -> None:
    """1.1: epochs, batches and iterations for any N, B and number of epochs."""
    st.subheader("Epochs, batches and iterations")
    columns = st.columns(3)
    n = int(
        columns[0].number_input(
            "Training examples N",
            min_value=1,
            max_value=10_000_000,
            value=60_000,
            step=1_000,
            key="demo_1_1_n",
        )
    )
    b = int(
        columns[1].number_input(
            "Batch size B", min_value=1, max_value=1_000_000, value=64, step=1, key="demo_1_1_b"
        )
    )
    epochs = int(
        columns[2].number_input(
            "Epochs", min_value=1, max_value=1_000, value=3, step=1, key="demo_1_1_epochs"
        )
    )
    per_epoch, total = linear_regression.iterations(n, b, epochs)
    st.latex(
        rf"\text{{iterations per epoch}} = \left\lceil \frac{{N}}{{B}} \right\rceil"
        rf" = \left\lceil \frac{{{n}}}{{{b}}} \right\rceil = {per_epoch}"
    )
    st.latex(
        rf"\text{{total iterations}} = \text{{epochs}} \times"
        rf" \left\lceil \frac{{N}}{{B}} \right\rceil = {epochs} \times {per_epoch}"
        rf" = {total}"
    )
    left, right = st.columns(2)
    left.metric("Iterations per epoch", f"{per_epoch:,}")
    right.metric("Total iterations (optimizer steps)", f"{total:,}")
    last = n - (per_epoch - 1) * b
    if last == b:
        st.caption(f"B divides N: every batch holds {b} examples.")
    else:
        st.caption(
            f"The last batch of each epoch holds only {last} example(s); it still "
            "counts as an iteration (the ceiling in the formula)."
        )


def module_1_1() -> None:
    """Both 1.1 visuals: a step taken apart, then the calculator."""
    four_steps_demo()
    iterations_calculator()


# --- 1.2 hand-derived gradients vs autograd --------------------------------------------


@st.cache_data(show_spinner=False)
def _fits(lr: float, steps: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    x, y = linear_regression.linear_data()
    data = pd.DataFrame({"x": x.numpy(), "y": y.numpy()})
    paths = []
    for method, fit in (
        ("by hand", linear_regression.fit_by_hand),
        ("autograd + train_step", linear_regression.fit_with_autograd),
    ):
        path = linear_regression.path_frame(fit(x, y, lr, steps))
        path.insert(0, "method", method)
        paths.append(path)
    final = paths[0].iloc[-1]
    rows = []
    for where, (w, b) in (("start", (0.0, 0.0)), (f"after {steps} steps", (final.w, final.b))):
        hand = linear_regression.mse_gradients_by_hand(x, y, float(w), float(b))
        auto = linear_regression.mse_gradients_autograd(x, y, float(w), float(b))
        for name, by_hand, by_autograd in zip(("dL/dw", "dL/db"), hand, auto, strict=True):
            rows.append(
                {
                    "where": f"{where} (w={w:.3f}, b={b:.3f})",
                    "gradient": name,
                    "by hand": by_hand,
                    "autograd": by_autograd,
                    "difference": abs(by_hand - by_autograd),
                }
            )
    return data, pd.concat(paths, ignore_index=True), pd.DataFrame(rows)


def _fit_chart(data: pd.DataFrame, paths: pd.DataFrame) -> alt.LayerChart:
    ends = paths.groupby("method").tail(1)
    span = [float(data.x.min()), float(data.x.max())]
    lines = pd.DataFrame(
        [
            {"method": row.method, "x": x, "y": row.w * x + row.b}
            for row in ends.itertuples()
            for x in span
        ]
    )
    methods = alt.Scale(
        domain=["by hand", "autograd + train_step"], range=[HAND_COLOUR, AUTOGRAD_COLOUR]
    )
    points = (
        alt.Chart(data)
        .mark_circle(size=30, color=REFERENCE_COLOUR, opacity=0.6)
        .encode(
            x=alt.X("x:Q", title="Input x (standardised units)"),
            y=alt.Y("y:Q", title="Target y (units of y)"),
        )
    )
    fitted = (
        alt.Chart(lines)
        .mark_line()
        .encode(
            x="x:Q",
            y="y:Q",
            color=alt.Color(
                "method:N", title="Fitted line", scale=methods, legend=alt.Legend(orient="bottom")
            ),
            strokeDash=alt.StrokeDash(
                "method:N",
                legend=None,
                scale=alt.Scale(domain=methods.domain, range=[[1, 0], [6, 4]]),
            ),
            strokeWidth=alt.StrokeWidth(
                "method:N", legend=None, scale=alt.Scale(domain=methods.domain, range=[5, 2])
            ),
        )
    )
    return alt.layer(points, fitted).properties(
        title="Data and the two fitted lines", height=HEIGHT
    )


def _loss_chart(paths: pd.DataFrame) -> alt.Chart:
    methods = alt.Scale(
        domain=["by hand", "autograd + train_step"], range=[HAND_COLOUR, AUTOGRAD_COLOUR]
    )
    return (
        alt.Chart(paths)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q", title="Step (gradient-descent updates)"),
            y=alt.Y(
                "loss:Q", title="MSE over all examples (y units²)", scale=alt.Scale(type="log")
            ),
            color=alt.Color(
                "method:N",
                title="Gradients from",
                scale=methods,
                legend=alt.Legend(orient="bottom"),
            ),
            strokeDash=alt.StrokeDash(
                "method:N",
                legend=None,
                scale=alt.Scale(domain=methods.domain, range=[[1, 0], [6, 4]]),
            ),
            tooltip=["method:N", "step:Q", alt.Tooltip("loss:Q", format=".5f")],
        )
        .properties(title="Loss per step: two methods, one path", height=HEIGHT)
    )


def hand_vs_autograd_demo() -> None:
    """1.2: gradient descent with pencil-and-paper gradients and with autograd, overlaid."""
    st.subheader("Hand-derived gradients vs autograd")
    left, right = st.columns(2)
    lr = left.select_slider(
        "Learning rate lr", [0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5], value=0.1, key="demo_1_2_lr"
    )
    steps = right.slider("Steps", min_value=1, max_value=100, value=20, key="demo_1_2_steps")
    data, paths, gradients = _fits(float(lr), int(steps))
    charts = st.columns(2)
    with charts[0]:
        _show(_fit_chart(data, paths))
    with charts[1]:
        _show(_loss_chart(paths))
    hand, auto = (paths[paths.method == m] for m in ("by hand", "autograd + train_step"))
    gap = float(abs(hand[["w", "b"]].to_numpy() - auto[["w", "b"]].to_numpy()).max())
    metrics = st.columns(3)
    metrics[0].metric("w (by hand)", f"{hand.w.iloc[-1]:.4f}", help="The data's true w is 3.")
    metrics[1].metric("b (by hand)", f"{hand.b.iloc[-1]:.4f}", help="The data's true b is 2.")
    metrics[2].metric("Largest w/b gap between the methods", f"{gap:.1e}")
    st.dataframe(
        gradients.style.format(
            {"by hand": "{:+.6f}", "autograd": "{:+.6f}", "difference": "{:.1e}"}
        ),
        hide_index=True,
    )
    st.caption(
        "Both paths start at w = 0, b = 0. The lines lie on top of each other: the "
        "formulas on paper and `loss.backward()` compute the same numbers (the gaps "
        "are float32 rounding)."
    )


# --- 1.3 batch vs stochastic vs mini-batch ---------------------------------------------


@st.cache_data(show_spinner=False)
def _batch_curves(lr: float, epochs: int) -> tuple[pd.DataFrame, float]:
    x, y = linear_regression.linear_data()
    return linear_regression.batch_size_curves(x, y, lr, epochs), linear_regression.least_squares(
        x, y
    ).loss


def _batch_summary(curves: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for mode, run in curves.groupby("mode", sort=False):
        per_epoch = int(run["update"].max() / run.epoch.max())
        # Noise, measured simply: how often an update made the full-data loss worse.
        went_up = float((run.loss.diff().iloc[1:] > 0).mean())
        rows.append(
            {
                "mode": mode,
                "updates per epoch": per_epoch,
                "final loss": run.loss.iloc[-1],
                "updates that raised the loss": went_up,
            }
        )
    return pd.DataFrame(rows)


def _batch_chart(curves: pd.DataFrame, best: float, axis: str) -> alt.LayerChart:
    modes = list(dict.fromkeys(curves["mode"]))
    title = {"epoch": "Epoch (passes over all 100 examples)", "update": "Update (optimizer steps)"}[
        axis
    ]
    lines = (
        alt.Chart(curves)
        .mark_line(strokeWidth=1.6)
        .encode(
            x=alt.X(f"{axis}:Q", title=title),
            y=alt.Y(
                "loss:Q", title="MSE over all examples (y units², log)", scale=alt.Scale(type="log")
            ),
            color=alt.Color(
                "mode:N",
                title="Batch size",
                legend=alt.Legend(orient="bottom"),
                scale=alt.Scale(domain=modes, range=[HAND_COLOUR, *BROKEN_COLOURS[:2]]),
            ),
            tooltip=[
                "mode:N",
                "update:Q",
                alt.Tooltip("epoch:Q", format=".2f"),
                alt.Tooltip("loss:Q", format=".4f"),
            ],
        )
    )
    floor = (
        alt.Chart(pd.DataFrame({"loss": [best]}))
        .mark_rule(strokeDash=[6, 4], color=REFERENCE_COLOUR)
        .encode(y="loss:Q")
    )
    return alt.layer(lines, floor).properties(
        title="Loss after every update (dashed: best possible line)", height=300
    )


def batch_size_demo() -> None:
    """1.3: one dataset, three batch sizes, one shared loss axis."""
    st.subheader("Full batch vs stochastic vs mini-batch")
    columns = st.columns(3)
    lr = columns[0].select_slider(
        "Learning rate lr", [0.01, 0.03, 0.1, 0.3], value=0.1, key="demo_1_3_lr"
    )
    epochs = columns[1].slider("Epochs", min_value=1, max_value=15, value=5, key="demo_1_3_epochs")
    axis = columns[2].radio(
        "x axis",
        ["epoch", "update"],
        horizontal=True,
        key="demo_1_3_axis",
        format_func={"epoch": "Epochs", "update": "Updates"}.get,
    )
    curves, best = _batch_curves(float(lr), int(epochs))
    left, right = st.columns(2)
    with left:
        _show(_batch_chart(curves, best, axis))
    with right:
        st.dataframe(
            _batch_summary(curves).style.format(
                {"final loss": "{:.4f}", "updates that raised the loss": "{:.0%}"}
            ),
            hide_index=True,
        )
        st.caption(
            "Per **epoch**, B=1 makes 100 updates where full batch makes one, so it "
            "gets down fast; per **update**, full batch is the most accurate step. "
            "Each B=1 gradient comes from one example, so its loss keeps jittering "
            "above the floor; the mini-batch sits between: most of the speed, little "
            "of the noise."
        )


# --- 1.4 the loss landscape ------------------------------------------------------------

LR_FRACTIONS = (0.1, 0.3, 0.45, 0.7, 0.95, 1.05, 1.3)  # multiples of the stability limit
START = (1.0, 0.0)
W_RANGE = (-2.5, 8.5)  # wide enough to watch a few bounces before a diverging path leaves
B_RANGE = (-3.5, 7.5)
RESOLUTION = 50  # grid points per axis of the heatmap: 2,500 cells
SHAPES = {"round bowl (standardised x)": 0.0, "long valley (x shifted by +2)": 2.0}


@st.cache_data(show_spinner=False)
def _landscape(
    shift: float, fraction: float, steps: int
) -> tuple[pd.DataFrame, pd.DataFrame, float, str]:
    x, y = linear_regression.linear_data(x_shift=shift)
    lr = fraction * linear_regression.largest_stable_lr(x)
    surface = linear_regression.loss_surface(x, y, W_RANGE, B_RANGE, resolution=RESOLUTION)
    path = linear_regression.descent_path(x, y, lr, steps, START)
    return surface, path, lr, linear_regression.lr_regime(x, lr)


def _in_range(path: pd.DataFrame) -> pd.DataFrame:
    """The path up to its first point outside the plotted window (later ones are not drawn)."""
    inside = path.w.between(*W_RANGE) & path.b.between(*B_RANGE)
    outside = (~inside).to_numpy().nonzero()[0]
    return path.iloc[: outside[0]] if len(outside) else path


def _landscape_chart(surface: pd.DataFrame, path: pd.DataFrame) -> alt.LayerChart:
    # Half a grid cell each side, plus a hair, so neighbouring cells overlap without seams.
    half_w = (W_RANGE[1] - W_RANGE[0]) / (RESOLUTION - 1) * 0.51
    half_b = (B_RANGE[1] - B_RANGE[0]) / (RESOLUTION - 1) * 0.51
    cells = surface.assign(
        w0=surface.w - half_w, w1=surface.w + half_w, b0=surface.b - half_b, b1=surface.b + half_b
    )
    heat = (
        alt.Chart(cells)
        .mark_rect(opacity=1, strokeWidth=0)
        .encode(
            x=alt.X(
                "w0:Q",
                title="Weight w (slope)",
                axis=alt.Axis(grid=False),
                scale=alt.Scale(domain=W_RANGE, nice=False),
            ),
            x2="w1:Q",
            y=alt.Y(
                "b0:Q",
                title="Bias b (intercept)",
                axis=alt.Axis(grid=False),
                scale=alt.Scale(domain=B_RANGE, nice=False),
            ),
            y2="b1:Q",
            color=alt.Color(
                "loss:Q",
                title="MSE (log colour)",
                scale=alt.Scale(type="log", scheme="viridis"),
                legend=alt.Legend(format=".3g"),
            ),
            tooltip=[
                alt.Tooltip("w:Q", format=".2f"),
                alt.Tooltip("b:Q", format=".2f"),
                alt.Tooltip("loss:Q", format=".3f"),
            ],
        )
    )
    walk = (
        alt.Chart(path)
        .mark_line(
            color=PATH_COLOUR, strokeWidth=1.5, point=alt.OverlayMarkDef(color=PATH_COLOUR, size=20)
        )
        .encode(
            x="w:Q",
            y="b:Q",
            order="step:Q",
            tooltip=[
                "step:Q",
                alt.Tooltip("w:Q", format=".3f"),
                alt.Tooltip("b:Q", format=".3f"),
                alt.Tooltip("loss:Q", format=".4g"),
            ],
        )
    )
    return alt.layer(heat, walk).properties(
        title="MSE over (w, b) and the path of gradient descent", height=300
    )


def _path_loss_chart(path: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(path)
        .mark_line(color=PATH_COLOUR, point=True)
        .encode(
            x=alt.X("step:Q", title="Step (gradient-descent updates)"),
            y=alt.Y(
                "loss:Q", title="MSE over all examples (y units², log)", scale=alt.Scale(type="log")
            ),
            tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4g")],
        )
        .properties(title="Loss along the path", height=300)
    )


def landscape_demo() -> None:
    """1.4: the MSE bowl as a heatmap, with the optimizer's path for a chosen lr."""
    st.subheader("The loss landscape and the optimizer's path")
    columns = st.columns(3)
    shape = columns[0].radio("Landscape", list(SHAPES), key="demo_1_4_shape")
    steps = columns[2].slider("Steps", min_value=5, max_value=60, value=25, key="demo_1_4_steps")
    x, _ = linear_regression.linear_data(x_shift=SHAPES[shape])
    limit = linear_regression.largest_stable_lr(x)
    fraction = columns[1].select_slider(
        "Learning rate (as a multiple of the stability limit 2/λ_max)",
        LR_FRACTIONS,
        value=0.3,
        key="demo_1_4_lr",
        format_func=lambda f: (
            f"{f * limit:.3g} ({f}× limit: {linear_regression.lr_regime(x, f * limit)})"
        ),
    )
    surface, path, lr, regime = _landscape(SHAPES[shape], float(fraction), int(steps))
    shown = _in_range(path)
    left, right = st.columns(2)
    with left:
        _show(_landscape_chart(surface, shown))
    with right:
        _show(_path_loss_chart(path))
    metrics = st.columns(3)
    metrics[0].metric("Learning rate", f"{lr:.3g}")
    metrics[1].metric("Stability limit 2/λ_max", f"{limit:.3g}")
    metrics[2].metric("Regime", regime)
    _path_note(path, shown, steps, regime)


def _path_note(path: pd.DataFrame, shown: pd.DataFrame, steps: int, regime: str) -> None:
    if len(path) < steps + 1:
        st.error(f"The loss overflowed to infinity at step {len(path)}: the path left for good.")
    if len(shown) < len(path):
        st.warning(
            f"The path left the plotted window at step {len(shown)} (loss "
            f"{path.loss.iloc[len(shown)]:.3g}); later points are not drawn."
        )
    explanation = {
        "smooth": "Below half the limit every step lands on the near side of the valley: "
        "a smooth slide to the bottom.",
        "zig-zag": "Between half the limit and the limit each step overshoots the valley "
        "floor and lands on the far wall, yet a little lower: it zig-zags in.",
        "diverges": "Above the limit each overshoot lands higher than it started: the "
        "path bounces out of the valley and the loss explodes.",
    }
    st.caption(explanation[regime])


# --- 1.5 numerical vs analytical gradients ---------------------------------------------

CHECK_STEP = 1e-6  # h of the central difference: the value lesson 1.5 recommends
CHECK_TOLERANCE = linear_regression.CHECK_TOLERANCE  # a relative error above this fails


@st.cache_data(show_spinner=False)
def _gradient_check(w: float, b: float) -> tuple[pd.DataFrame, dict[str, bool]]:
    example = linear_regression.wrong_gradient_example(w, b, eps=CHECK_STEP)
    return example.table, example.gradcheck


def _highlight_failures(row: pd.Series) -> list[str]:
    colour = "background-color: #fee2e2; color: #991b1b" if not row["passes"] else ""
    return [
        colour if column in ("analytical", "rel_error", "passes") else "" for column in row.index
    ]


def _error_chart(table: pd.DataFrame) -> alt.LayerChart:
    # An exact 0 cannot sit on a log axis; 1e-16 is float64's own rounding level.
    floor = 1e-16
    bars = table.assign(
        shown=table.rel_error.clip(lower=floor),
        row=table.gradient + " · " + table.parameter,
        verdict=table.passes.map({True: "passes", False: "fails"}),
    )
    bar = (
        alt.Chart(bars)
        .mark_bar()
        .encode(
            y=alt.Y("row:N", title=None, sort=None),
            x=alt.X(
                "shown:Q",
                title="Relative error |numerical − analytical| / max (log)",
                scale=alt.Scale(type="log", domain=[floor, 1]),
            ),
            x2=alt.datum(floor),  # bars grow from the floor: a log axis has no zero
            color=alt.Color(
                "verdict:N",
                title="Check",
                scale=alt.Scale(domain=["passes", "fails"], range=[HAND_COLOUR, PATH_COLOUR]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=["gradient:N", "parameter:N", alt.Tooltip("rel_error:Q", format=".2e")],
        )
    )
    limit = (
        alt.Chart(pd.DataFrame({"x": [CHECK_TOLERANCE]}))
        .mark_rule(strokeDash=[6, 4], color="#475569")
        .encode(x="x:Q")
    )
    return alt.layer(bar, limit).properties(
        title=f"Relative error per gradient (dashed: tolerance {CHECK_TOLERANCE:g})", height=260
    )


def gradient_check_demo() -> None:
    """1.5: finite differences against autograd, a right and a wrong hand gradient."""
    st.subheader("Finite differences vs autograd vs gradients by hand")
    columns = st.columns(2)
    w = columns[0].slider("Check at w", -2.0, 6.0, 0.5, step=0.5, key="demo_1_5_w")
    b = columns[1].slider("Check at b", -2.0, 6.0, -1.0, step=0.5, key="demo_1_5_b")
    table, verdicts = _gradient_check(float(w), float(b))
    left, right = st.columns(2)
    with left:
        st.dataframe(
            table.style.apply(_highlight_failures, axis=1).format(
                {
                    "numerical": "{:+.6f}",
                    "analytical": "{:+.6f}",
                    "abs_error": "{:.1e}",
                    "rel_error": "{:.1e}",
                }
            ),
            hide_index=True,
        )
        st.caption(
            f"Numerical: $(L(p+h) - L(p-h)) / 2h$ with h = {CHECK_STEP:g} in float64; "
            f"a relative error above {CHECK_TOLERANCE:g} fails. The wrong hand gradient "
            "forgot the 2 in $\\partial L / \\partial w$: only its w row fails, by a "
            "factor of 2."
        )
    with right:
        _show(_error_chart(table))
    st.markdown("**`torch.autograd.gradcheck(loss, (w, b))` in float64:**")
    for name, passed in verdicts.items():
        (st.success if passed else st.error)(f"{name}: {'passes' if passed else 'fails'}")
    autograd_w = table[(table.gradient == "autograd") & (table.parameter == "w")].analytical
    if abs(float(autograd_w.iloc[0])) < 0.05:
        st.info(
            "Near the minimum every gradient is close to 0, so a missing factor of 2 "
            "hardly shows: check gradients at an ordinary point, not at the optimum."
        )
