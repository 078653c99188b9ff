"""Module 2's own visuals: boundaries as they form, gradients layer by layer, a net by hand,
activation statistics, data pipelines, regularisation and a fitted curve.

Each `*_demo` function is one lesson's "Try it" visual, shown once the learner has made
their predictions. Every number comes from really training or measuring through the engine;
this file only chooses widgets and draws charts.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from engine.activations import activation_curves
from engine.backprop import chain_rule_table
from engine.config import ACTIVATIONS, default_config
from engine.from_scratch import scratch_vs_module
from engine.pipeline import measure_throughput
from engine.snapshots import snapshots
from engine.training import train
from engine.variants import apply_variant
from ui.charts import BASELINE_COLOUR, BROKEN_COLOURS

HEIGHT = 300
CLASS_COLOURS = ("#2563eb", "#dc2626", "#059669")


def _show(chart: alt.TopLevelMixin) -> None:
    st.altair_chart(chart, width="stretch")


def _run(dataset: str, variant: str | None = None, **settings: Any) -> pd.DataFrame:
    """One real run's epochs as a table (the variant applied as the comparison applies it)."""
    config = default_config(dataset, **settings)
    if variant is not None:
        config = apply_variant(config, variant)
    result = train(config)
    rows = []
    for record in result.epochs:
        row = {
            "epoch": record.epoch,
            "train_loss": record.train_loss,
            "val_loss": record.val_loss,
            "train_acc": record.train_acc,
            "val_acc": record.val_acc,
            "weight_norm": record.weight_norm,
        }
        row |= {f"grad:{layer}": norm for layer, norm in record.layer_grad_norms.items()}
        for layer, stats in record.activation_stats.items():
            row |= {f"{key}:{layer}": value for key, value in stats.items()}
        rows.append(row)
    return pd.DataFrame(rows)


def _long(table: pd.DataFrame, prefix: str, name: str) -> pd.DataFrame:
    """Columns "prefix:layer" -> rows (epoch, layer, name)."""
    columns = [c for c in table.columns if c.startswith(prefix + ":")]
    long = table.melt(id_vars="epoch", value_vars=columns, var_name="layer", value_name=name)
    long["layer"] = long["layer"].str.removeprefix(prefix + ":")
    return long.dropna(subset=[name])


# --- 2.1 decision boundaries ------------------------------------------------------------

MODEL_CHOICES = {"linear classifier (no hidden layer)": None} | {
    f"MLP (64, 64), {name}": name for name in ACTIVATIONS
}


@st.cache_data(show_spinner="Training and drawing the boundary after every epoch...")
def _boundaries(dataset: str, activation: str | None) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    settings: dict[str, Any] = {}  # the lesson's baseline: 40 epochs
    if activation is None:
        settings["hidden"] = ()
    else:
        settings["activation"] = activation
    shot = snapshots(default_config(dataset, **settings), resolution=40)
    return shot.points, shot.grid, shot.final_val_acc or 0.0


def _cells(grid: pd.DataFrame) -> pd.DataFrame:
    """Each grid point as a rectangle centred on it, so the cells tile the plane."""
    cells = grid.copy()
    for axis in ("x", "y"):
        values = sorted(grid[axis].unique())
        half = (values[1] - values[0]) / 2 if len(values) > 1 else 0.05
        cells[f"{axis}_from"], cells[f"{axis}_to"] = grid[axis] - half, grid[axis] + half
    return cells


def _boundary_chart(points: pd.DataFrame, grid: pd.DataFrame) -> alt.LayerChart:
    classes = sorted(points["target"].astype(int).unique())
    colour = alt.Scale(domain=classes, range=list(CLASS_COLOURS[: len(classes)]))
    area = (
        alt.Chart(_cells(grid))
        .mark_rect()
        .encode(
            x=alt.X("x_from:Q", title="input 1 (standardised)"),
            x2="x_to:Q",
            y=alt.Y("y_from:Q", title="input 2 (standardised)"),
            y2="y_to:Q",
            color=alt.Color("class:N", scale=colour, title="class"),
            opacity=alt.Opacity("confidence:Q", scale=alt.Scale(domain=[0.3, 1]), legend=None),
        )
    )
    dots = (
        alt.Chart(points.assign(target=points["target"].astype(int)))
        .mark_circle(size=30, stroke="#111827", strokeWidth=0.5, opacity=1)
        .encode(x="x:Q", y="y:Q", color=alt.Color("target:N", scale=colour))
    )
    return (area + dots).properties(width=460, height=460)


def _activation_chart() -> alt.Chart:
    curves = activation_curves().rename(columns={"value": "f(z)", "derivative": "f'(z)"})
    curves = curves.melt(
        id_vars=["activation", "x"], value_vars=["f(z)", "f'(z)"], var_name="curve", value_name="y"
    )
    return (
        alt.Chart(curves)
        .mark_line()
        .encode(
            x=alt.X("x:Q", title="input z"),
            y=alt.Y("y:Q", title="f(z) and f'(z)"),
            color=alt.Color("curve:N", title=None),
            facet=alt.Facet("activation:N", columns=3, title=None),
        )
        .properties(width=180, height=130)
    )


def boundary_demo() -> None:
    """2.1: a linear classifier and MLPs on 2-D points, the boundary after every epoch."""
    st.subheader("Decision boundaries, epoch by epoch")
    left, right = st.columns(2)
    dataset = left.radio("Dataset", ("moons", "circles", "spirals"), index=2, key="demo_2_1_data")
    choice = right.selectbox("Model", list(MODEL_CHOICES), index=1, key="demo_2_1_model")
    points, grid, val_acc = _boundaries(dataset, MODEL_CHOICES[choice])
    last = int(grid["epoch"].max())
    epoch = st.slider("Epoch", 1, last, last, key="demo_2_1_epoch")
    st.altair_chart(_boundary_chart(points, grid[grid["epoch"] == epoch]), width="content")
    st.caption(
        f"Each square is the class the model predicts there after epoch {epoch} (fainter: "
        f"less sure); dots are the training points. Val accuracy after epoch {last}: "
        f"{val_acc:.1%}. Adam, lr 1e-3, batch 32."
    )
    with st.expander("The activations and their derivatives"):
        st.altair_chart(_activation_chart())
        st.caption("Derivatives computed by autograd. Sigmoid's never exceeds 0.25.")


# --- 2.2 gradients layer by layer -------------------------------------------------------


@st.cache_data(show_spinner="Training both runs and recording each layer's gradient...")
def _layer_gradients() -> pd.DataFrame:
    frames = []
    for run, variant in (("healthy", None), ("stray_detach", "stray_detach")):
        table = _long(_run("digits", variant, epochs=10), "grad", "grad_norm")
        frames.append(table.assign(run=run))
    return pd.concat(frames, ignore_index=True)


def backward_demo() -> None:
    """2.2: the chain rule by hand beside autograd, then per-layer gradient norms."""
    st.subheader("The chain rule, node by node")
    st.caption(
        "The lesson's worked example: x = (0.5, -1), 2 sigmoid hidden units, one output, "
        "squared error against y = 1. "
        "'by_hand' comes from the chain rule; 'autograd' from loss.backward() (retain_grad "
        "keeps the nodes in between)."
    )
    table = chain_rule_table()
    number = st.column_config.NumberColumn
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=36 * (len(table) + 1) + 4,
        column_config={
            **{name: number(format="%.6f") for name in ("value", "by_hand", "autograd")},
            "difference": number(format="%.1e"),
        },
    )
    st.subheader("Each layer's gradient norm, healthy and with a stray .detach()")
    gradients = _layer_gradients()
    chart = (
        alt.Chart(gradients)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch"),
            y=alt.Y("grad_norm:Q", title="mean gradient norm of the layer's weights"),
            color=alt.Color("layer:N", title="layer"),
            column=alt.Column("run:N", title=None),
        )
        .properties(width=300, height=HEIGHT - 60)
    )
    st.altair_chart(chart)
    st.caption("Digits MLP, 10 epochs. A line at exactly 0 is a layer the update never reaches.")


# --- 2.3 a net by hand -------------------------------------------------------------------


@st.cache_data(show_spinner="Training the hand-written net and the nn.Module net...")
def _scratch() -> pd.DataFrame:
    return scratch_vs_module()


def scratch_demo() -> None:
    """2.3: the hand-written net's loss and the nn.Module net's loss, step by step."""
    st.subheader("By hand against nn.Module, from the same weights")
    table = _scratch()
    long = table.melt(id_vars="step", value_vars=["by_hand", "nn_module"], var_name="net")
    chart = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("value:Q", title="training loss (cross-entropy)"),
            color=alt.Color(
                "net:N",
                scale=alt.Scale(range=[BASELINE_COLOUR, BROKEN_COLOURS[1]]),
                title="net",
            ),
            strokeDash=alt.StrokeDash("net:N", legend=None),
        )
        .properties(height=HEIGHT)
    )
    _show(chart)
    st.metric("Largest difference between the two losses", f"{table['difference'].max():.1e}")
    st.caption(
        "Digits, one hidden layer of 32 ReLU units, SGD lr 0.1, batch 32, 3 epochs; the two "
        "lines lie on top of each other (float32 rounding is all that separates them)."
    )


# --- 2.4 activation statistics -----------------------------------------------------------

STATS = {
    "dead": "fraction of dead units",
    "saturated": "fraction saturated",
    "mean": "mean output",
    "std": "std of outputs",
}


def _fraction_axis(statistic: str) -> dict[str, Any]:
    """Fractions on a fixed 0-100% axis, so "none dead" reads as 0%, not as a zoomed line."""
    if statistic in ("dead", "saturated"):
        return {"scale": alt.Scale(domain=[0, 1]), "axis": alt.Axis(format="%")}
    return {}


@st.cache_data(show_spinner="Training and recording every layer's activations...")
def _activation_stats(activation: str, dead_bias: bool) -> pd.DataFrame:
    table = _run("digits", "dead_relu" if dead_bias else None, epochs=10, activation=activation)
    frames = [_long(table, stat, "value").assign(statistic=stat) for stat in STATS]
    return pd.concat(frames, ignore_index=True)


def activation_stats_demo() -> None:
    """2.4: per-layer activation statistics recorded by forward hooks every epoch."""
    st.subheader("What each layer outputs, epoch by epoch")
    columns = st.columns(3)
    activation = columns[0].selectbox(
        "Activation", [a for a in ACTIVATIONS if a != "identity"], key="demo_2_4_act"
    )
    dead_bias = columns[1].toggle("Hidden biases at -3 (dead_relu)", key="demo_2_4_dead")
    statistic = columns[2].selectbox(
        "Statistic", list(STATS), format_func=STATS.get, key="demo_2_4_stat"
    )
    stats = _activation_stats(activation, dead_bias)
    shown = stats[stats["statistic"] == statistic]
    if shown.empty:
        st.info(f"The {STATS[statistic]} is not defined for {activation} (see the caption).")
        return
    chart = (
        alt.Chart(shown)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch"),
            y=alt.Y("value:Q", title=STATS[statistic], **_fraction_axis(statistic)),
            color=alt.Color("layer:N", title="layer"),
        )
        .properties(height=HEIGHT)
    )
    _show(chart)
    st.caption(
        "Measured on the validation split after each epoch by forward hooks on the activation "
        "layers (digits MLP 128-64, Adam 1e-3, 10 epochs). Dead: a unit that outputs nothing "
        "above 0 for any validation example (ReLU, LeakyReLU, GELU). Saturated: sigmoid "
        "outside 0.01-0.99, tanh beyond ±0.99."
    )


# --- 2.5 data pipelines ------------------------------------------------------------------


def throughput_demo() -> None:
    """2.5: examples per second of the two ways to batch, measured now on this machine."""
    st.subheader("Per-example Dataset against batched indexing, measured here")
    if not st.button("Measure on this machine", key="demo_2_5_measure"):
        st.caption("Times one shuffled epoch of the digits training split (1,257 examples).")
        return
    with st.spinner("Timing both pipelines at four batch sizes..."):
        table = measure_throughput()
    chart = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("batch_size:O", title="batch size"),
            xOffset="pipeline:N",
            y=alt.Y("examples_per_s:Q", title="examples per second", scale=alt.Scale(type="log")),
            color=alt.Color("pipeline:N", title=None, legend=alt.Legend(orient="bottom")),
        )
        .properties(height=HEIGHT)
    )
    _show(chart)
    wide = table.pivot(index="batch_size", columns="pipeline", values="examples_per_s")
    ratio = wide["batched indexing (the engine)"] / wide["per-example Dataset + DataLoader"]
    st.caption(
        "Batched indexing is "
        + ", ".join(f"{r:.1f}x at batch {b}" for b, r in ratio.items())
        + " the per-example loader's speed (best of 3 epochs each; num_workers=0)."
    )


# --- 2.6 regularisation ------------------------------------------------------------------


@st.cache_data(show_spinner="Training with and without regularisation...")
def _regularised(weight_decay: float, dropout: float) -> pd.DataFrame:
    frames = []
    for run, settings in (
        ("no regularisation", {}),
        ("with your settings", {"weight_decay": weight_decay, "dropout": dropout}),
    ):
        table = _run("digits", None, subset=200, epochs=40, optimizer="adamw", **settings)
        frames.append(table.assign(run=run))
    return pd.concat(frames, ignore_index=True)


def regularization_demo() -> None:
    """2.6: weight decay and dropout against the train/val gap and the weights' norm."""
    st.subheader("Regularisation on 200 training examples")
    left, right = st.columns(2)
    weight_decay = left.select_slider(
        "Weight decay (AdamW)", (0.0, 0.01, 0.1, 0.3, 1.0), value=0.1, key="demo_2_6_wd"
    )
    dropout = right.select_slider(
        "Dropout", (0.0, 0.1, 0.3, 0.5), value=0.3, key="demo_2_6_dropout"
    )
    table = _regularised(float(weight_decay), float(dropout))
    table["gap"] = table["train_acc"] - table["val_acc"]
    colour = alt.Color(
        "run:N",
        scale=alt.Scale(range=[BASELINE_COLOUR, BROKEN_COLOURS[0]]),
        title=None,
        legend=alt.Legend(orient="bottom"),
    )
    base = alt.Chart(table).encode(x=alt.X("epoch:Q", title="epoch"), color=colour)
    gap = base.mark_line().encode(y=alt.Y("gap:Q", title="train acc − val acc (the gap)"))
    norm = base.mark_line().encode(y=alt.Y("weight_norm:Q", title="L2 norm of all weights"))
    left.altair_chart(gap.properties(height=HEIGHT), width="stretch")
    right.altair_chart(norm.properties(height=HEIGHT), width="stretch")
    last = table.groupby("run").last()
    st.caption(
        "After 40 epochs: "
        + "; ".join(
            f"{run}: train acc {row.train_acc:.1%}, val acc {row.val_acc:.1%}"
            for run, row in last.iterrows()
        )
        + ". Digits MLP 128-64, AdamW lr 1e-3, batch 32."
    )


# --- 2.7 the line against the curve ------------------------------------------------------


@st.cache_data(show_spinner="Training the MLP and the linear model on the wave...")
def _wave() -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = []
    models = (("MLP (tanh)", None), ("identity activations (a line)", "identity_activation"))
    for model, variant in models:
        shot = snapshots(default_config("wave", variant=variant), resolution=120)
        frames.append(shot.grid.assign(model=model))
        points = shot.points
    return points, pd.concat(frames, ignore_index=True)


def wave_demo() -> None:
    """2.7: the wave data with the MLP's curve and the linear model's line, per epoch."""
    st.subheader("A line and a curve on the same data")
    points, fits = _wave()
    last = int(fits["epoch"].max())
    epoch = st.slider("Epoch", 1, last, last, key="demo_2_7_epoch")
    dots = (
        alt.Chart(points)
        .mark_circle(size=14, color="#94a3b8")
        .encode(
            x=alt.X("x:Q", title="input x (standardised)"),
            y=alt.Y("target:Q", title="y"),
        )
    )
    lines = (
        alt.Chart(fits[fits["epoch"] == epoch])
        .mark_line(strokeWidth=3)
        .encode(
            x="x:Q",
            y="prediction:Q",
            color=alt.Color(
                "model:N",
                scale=alt.Scale(range=[BASELINE_COLOUR, BROKEN_COLOURS[0]]),
                title=None,
            ),
        )
    )
    _show((dots + lines).properties(height=HEIGHT + 60))
    st.caption(
        "The wave: y = sin(2x) + 0.3x + noise (std 0.1). Both models: MLP (64, 64), Adam "
        "3e-3, batch 32, mean squared error; one with tanh, one with identity activations."
    )
