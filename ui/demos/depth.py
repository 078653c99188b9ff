"""Module 3's depth visuals: the signal through a fresh deep MLP for each initialisation
and the symmetry zero init never breaks (3.3), and per-layer gradient norms of a 20-layer
MLP step by step, plain against residual and normalised (3.4).

Every number comes from `engine.depth`, which builds and trains through the engine; this
file only chooses widgets and draws charts.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from engine.config import default_config
from engine.depth import gradient_heatmap, signal_through_depth, symmetry_after_training
from ui.charts import BASELINE_COLOUR, BROKEN_COLOURS, REFERENCE_COLOUR

HEIGHT = 300
ACTIVATION_NAMES = {"tanh": "tanh", "relu": "ReLU", "sigmoid": "sigmoid"}
# The init that keeps each activation's variance steady: Glorot for tanh/sigmoid, He for ReLU.
MATCHING_INIT = {"tanh": "xavier", "sigmoid": "xavier", "relu": "kaiming"}
INIT_NAMES = {
    "xavier": "Xavier uniform",
    "xavier_normal": "Xavier normal",
    "kaiming": "Kaiming uniform",
    "kaiming_normal": "Kaiming normal",
    "default": "PyTorch default",
    "zeros": "zeros",
}
SMALL, LARGE = 0.1, 5.0


def _show(chart: alt.TopLevelMixin) -> None:
    st.altair_chart(chart, width="stretch")


def _percent(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.0%}"


# --- 3.3 signal through depth at initialisation -------------------------------------------


def _init_runs(activation: str) -> dict[str, tuple[str, float]]:
    """Label -> (init, scale): the too-small and too-large ones scale the matching init."""
    base = MATCHING_INIT[activation]
    return {
        "zeros": ("zeros", 1.0),
        f"{INIT_NAMES[base]} × {SMALL:g} (too small)": (base, SMALL),
        f"{INIT_NAMES[base]} × {LARGE:g} (too large)": (base, LARGE),
        **{INIT_NAMES[init]: (init, 1.0) for init in ("xavier", "xavier_normal")},
        **{INIT_NAMES[init]: (init, 1.0) for init in ("kaiming", "kaiming_normal")},
        "PyTorch default": ("default", 1.0),
    }


@st.cache_data(show_spinner="Building each network and pushing a batch through it...")
def _profiles(activation: str, depth: int, width: int) -> pd.DataFrame:
    rows = []
    for label, (init, scale) in _init_runs(activation).items():
        profile = signal_through_depth(depth, width, activation, init, scale)
        saturated = profile.saturated or (None,) * depth
        for number, (std, grad, sat) in enumerate(
            zip(profile.activation_std, profile.grad_norm, saturated, strict=True), start=1
        ):
            rows.append(
                {"init": label, "layer": number, "std": std, "grad_norm": grad, "saturated": sat}
            )
    return pd.DataFrame(rows)


def _init_colour(labels: list[str]) -> alt.Color:
    colours = [REFERENCE_COLOUR, *BROKEN_COLOURS[:2], BASELINE_COLOUR, *BROKEN_COLOURS[2:]]
    return alt.Color(
        "init:N",
        title="initialisation",
        scale=alt.Scale(domain=labels, range=colours[: len(labels)]),
        sort=labels,
        legend=alt.Legend(orient="right", labelLimit=260),
    )


def _by_layer(table: pd.DataFrame, field: str, title: str, log: bool) -> alt.Chart:
    labels = list(dict.fromkeys(table["init"]))
    shown = table[table[field] > 0] if log else table  # an exact 0 has no place on a log axis
    scale = alt.Scale(type="log") if log else alt.Scale(domain=[0, 1])
    axis_format = ".0e" if log else "%"
    return (
        alt.Chart(shown)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "layer:Q",
                title="hidden layer (1 = next to the input)",
                axis=alt.Axis(format="d", tickMinStep=1),
            ),
            y=alt.Y(f"{field}:Q", title=title, scale=scale, axis=alt.Axis(format=axis_format)),
            color=_init_colour(labels),
            tooltip=["init:N", "layer:Q", alt.Tooltip(f"{field}:Q", format=".3g")],
        )
        .properties(height=HEIGHT)
    )


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per init: first and last hidden layer's std and gradient norm."""
    rows = []
    for label, runs in table.groupby("init", sort=False):
        first, last = runs.iloc[0], runs.iloc[-1]
        rows.append(
            {
                "initialisation": label,
                "activation std, layer 1": first["std"],
                "activation std, last layer": last["std"],
                "gradient norm, layer 1": first["grad_norm"],
                "gradient norm, last layer": last["grad_norm"],
                "saturated, last layer": last["saturated"],
            }
        )
    return pd.DataFrame(rows)


def _signal_caption(table: pd.DataFrame, activation: str, depth: int, width: int) -> str:
    """What the lines say, in this selection's own numbers."""
    summary = _summary(table).set_index("initialisation")
    base = INIT_NAMES[MATCHING_INIT[activation]]
    parts = []
    for label in (base, *list(_init_runs(activation))[1:3]):
        row = summary.loc[label]
        if row["activation std, layer 1"] > 0 and row["gradient norm, last layer"] > 0:
            std_factor = row["activation std, last layer"] / row["activation std, layer 1"]
            grad_factor = row["gradient norm, layer 1"] / row["gradient norm, last layer"]
            parts.append(f"{label}: std × {std_factor:.2g}, gradient × {grad_factor:.2g}")
    text = (
        f"Each line is one fresh MLP of {depth} {ACTIVATION_NAMES[activation]} layers of "
        f"{width} units, built with the same seed; one batch of 256 standardised digits "
        "goes forward and its cross-entropy loss backward. A straight line on these log "
        "axes is a geometric change: the same factor in every layer. The activation std from "
        f"layer 1 to layer {depth}, and the gradient norm from layer {depth} back to layer 1 "
        f"(the way backward travels), change by: {'; '.join(parts)}."
    )
    zeros = summary.loc["zeros"]
    if zeros["activation std, layer 1"] == 0 and zeros["gradient norm, layer 1"] == 0:
        text += (
            " zeros draws no line: every hidden unit outputs the same number for every "
            "example (std exactly 0) and every hidden weight gradient is exactly 0."
        )
    return text


def _saturation_caption(table: pd.DataFrame, activation: str) -> str:
    summary = _summary(table).set_index("initialisation")
    runs = list(_init_runs(activation))
    large, base = runs[2], INIT_NAMES[MATCHING_INIT[activation]]
    # The slope where an output is 0.99 from its flat tail: 1 - 0.99² for tanh, 0.99 x 0.01.
    slope = 1 - 0.99**2 if activation == "tanh" else 0.99 * 0.01
    last = summary["saturated, last layer"]
    return (
        f"Saturated: outputs within 0.01 of the activation's limits, where its slope is "
        f"below {slope:.2g}. Last layer: {large} {_percent(last[large])}, "
        f"{base} {_percent(last[base])}. A saturated unit "
        "passes almost no gradient back, whatever its weights."
    )


def _signal_section() -> None:
    columns = st.columns(3)
    activation = columns[0].radio(
        "Activation",
        list(ACTIVATION_NAMES),
        format_func=ACTIVATION_NAMES.get,
        horizontal=True,
        key="demo_3_3_activation",
    )
    depth = columns[1].slider("Hidden layers", 2, 24, 20, key="demo_3_3_depth")
    width = columns[2].select_slider(
        "Units per layer", (32, 64, 128, 256), value=128, key="demo_3_3_width"
    )
    table = _profiles(str(activation), int(depth), int(width))
    _show(_by_layer(table, "std", "activation std (log scale)", log=True))
    _show(_by_layer(table, "grad_norm", "weight-gradient norm (log scale)", log=True))
    st.caption(_signal_caption(table, str(activation), int(depth), int(width)))
    if activation == "relu":
        st.info("ReLU has no flat tail above zero, so it does not saturate: no chart for it.")
    else:
        _show(_by_layer(table, "saturated", "share of outputs saturated", log=False))
        st.caption(_saturation_caption(table, str(activation)))
    st.dataframe(
        _summary(table),
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(format="%.2e")
            for name in _summary(table).columns[1:5]
        }
        | {"saturated, last layer": st.column_config.NumberColumn(format="percent")},
    )


# --- 3.3 zero init and symmetry -----------------------------------------------------------

SYMMETRY_HIDDEN = (16, 16)
SYMMETRY_STEPS = 200


@st.cache_data(show_spinner="Training with zero init and with a random init...")
def _symmetry(activation: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    weights, stats = [], []
    for init in ("zeros", MATCHING_INIT[activation]):
        config = default_config("digits", hidden=SYMMETRY_HIDDEN, activation=activation, init=init)
        report = symmetry_after_training(config, SYMMETRY_STEPS)
        label = INIT_NAMES[init]
        for unit, row in enumerate(report.first_layer, start=1):
            weights += [
                {"init": label, "unit": unit, "pixel": pixel, "weight": float(value)}
                for pixel, value in enumerate(row, start=1)
            ]
        stats.append(
            {
                "init": label,
                "max_distance": max(report.max_distance),
                "mean_norm": sum(report.mean_norm) / len(report.mean_norm),
                "val_acc": report.val_acc,
            }
        )
    return pd.DataFrame(weights), pd.DataFrame(stats)


def _weights_chart(weights: pd.DataFrame) -> alt.FacetChart:
    reach = float(weights["weight"].abs().max()) or 1.0  # all zero: any symmetric domain
    return (
        alt.Chart(weights)
        .mark_rect()
        .encode(
            x=alt.X(
                "pixel:O", title="input pixel (1-64)", axis=alt.Axis(values=[1, 16, 32, 48, 64])
            ),
            y=alt.Y("unit:O", title="hidden unit of fc1"),
            color=alt.Color(
                "weight:Q",
                title="weight",
                scale=alt.Scale(scheme="redblue", domain=[-reach, reach], reverse=True),
            ),
            tooltip=["init:N", "unit:O", "pixel:O", alt.Tooltip("weight:Q", format=".4f")],
        )
        .properties(width=300, height=200)
        .facet(column=alt.Column("init:N", title=None, sort=list(dict.fromkeys(weights["init"]))))
    )


def _symmetry_section() -> None:
    st.subheader("Zero init: do the hidden units ever become different?")
    activation = st.radio(
        "Activation of the trained network",
        ("sigmoid", "tanh", "relu"),
        format_func=ACTIVATION_NAMES.get,
        horizontal=True,
        key="demo_3_3_symmetry_activation",
    )
    weights, stats = _symmetry(str(activation))
    st.altair_chart(_weights_chart(weights), width="content")
    columns = st.columns(len(stats) * 2)
    for number, row in enumerate(stats.itertuples()):
        columns[2 * number].metric(
            f"{row.init}: largest distance between two units", f"{row.max_distance:.3g}"
        )
        columns[2 * number + 1].metric(f"{row.init}: val accuracy", _percent(row.val_acc))
    zeros = stats.iloc[0]
    moved = (
        f"The zero-init weights did move (mean row length {zeros.mean_norm:.3g}), but every "
        "row moved the same way: each unit is still a copy of the others."
        if zeros.mean_norm > 0
        else "Not one zero-init weight moved: with every weight at zero, the gradient that "
        "reaches a hidden weight is exactly 0."
    )
    st.caption(
        f"Two {ACTIVATION_NAMES[str(activation)]} MLPs with hidden layers "
        f"{' and '.join(map(str, SYMMETRY_HIDDEN))}, trained for {SYMMETRY_STEPS} steps "
        "(Adam lr 1e-3, batch 32) on the digits. Each row of a heatmap is one hidden unit's "
        "64 incoming weights. The distance is the largest L2 distance between two units' "
        f"weight vectors, over both hidden layers. {moved}"
    )


def init_demo() -> None:
    """3.3: activation std, gradient norm and saturation through depth for each
    initialisation, and the units of a zero-initialised net after training."""
    st.subheader("Signal through depth at initialisation")
    _signal_section()
    _symmetry_section()


# --- 3.4 gradient norms per layer and step ---------------------------------------------------

DEPTH, DEPTH_WIDTH = 20, 32
NETS = {
    "plain": {},
    "residual": {"residual": True},
    "batch norm": {"batch_norm": True},
    "layer norm": {"layer_norm": True},
}
NET_COLOURS = {
    "plain": BROKEN_COLOURS[0],
    "residual": BASELINE_COLOUR,
    "batch norm": BROKEN_COLOURS[3],
    "layer norm": BROKEN_COLOURS[2],
}


@st.cache_data(show_spinner="Training a 20-layer MLP and recording every layer's gradients...")
def _heatmap(activation: str, net: str, steps: int) -> tuple[pd.DataFrame, float | None]:
    config = default_config(
        "digits", hidden=(DEPTH_WIDTH,) * DEPTH, activation=activation, **NETS[net]
    )
    heat = gradient_heatmap(config, steps)
    rows = [
        {"net": net, "layer": layer, "step": step, "grad_norm": float(norm)}
        for layer, norms in zip(heat.layers, heat.grad_norms, strict=True)
        for step, norm in zip(heat.steps, norms, strict=True)
    ]
    return pd.DataFrame(rows), heat.val_acc


def _heat_chart(table: pd.DataFrame, net: str, domain: list[float]) -> alt.Chart:
    layers = list(dict.fromkeys(table["layer"]))
    # A hair over half a step each side, so neighbouring cells overlap without seams.
    cells = table[table["grad_norm"] > 0].assign(
        start=lambda t: t["step"] - 0.51, end=lambda t: t["step"] + 0.51
    )
    return (
        alt.Chart(cells)
        .mark_rect(strokeWidth=0)
        .encode(
            x=alt.X("start:Q", title="training step", scale=alt.Scale(nice=False)),
            x2="end:Q",
            y=alt.Y("layer:O", title="layer (fc1 next to the input)", sort=layers),
            color=alt.Color(
                "grad_norm:Q",
                title="gradient norm (log colour)",
                scale=alt.Scale(type="log", scheme="viridis", domain=domain),
                legend=alt.Legend(format=".0e", tickCount=6),
            ),
            tooltip=["layer:N", "step:Q", alt.Tooltip("grad_norm:Q", format=".3g")],
        )
        .properties(title=f"{net}: each layer's weight-gradient norm", height=HEIGHT)
    )


def _first_layer_chart(first: pd.DataFrame) -> alt.Chart:
    nets = list(dict.fromkeys(first["net"]))
    return (
        alt.Chart(first[first["grad_norm"] > 0])
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="training step"),
            y=alt.Y(
                "grad_norm:Q",
                title="fc1 weight-gradient norm (log scale)",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(format=".0e"),
            ),
            color=alt.Color(
                "net:N",
                title=None,
                scale=alt.Scale(domain=nets, range=[NET_COLOURS[n] for n in nets]),
                legend=alt.Legend(orient="right"),
            ),
        )
        .properties(title="The first layer's gradient, step by step", height=HEIGHT)
    )


def depth_demo() -> None:
    """3.4: a 20-layer MLP's per-layer gradient norms at every step, plain against residual
    and normalised, with each one's first-layer gradient and val accuracy."""
    st.subheader("Gradient norms through 20 layers, step by step")
    columns = st.columns(3)
    activation = columns[0].radio(
        "Activation",
        ("sigmoid", "tanh", "relu"),
        format_func=ACTIVATION_NAMES.get,
        horizontal=True,
        key="demo_3_4_activation",
    )
    norm = columns[1].radio(
        "Normalisation to compare", ("batch norm", "layer norm"), key="demo_3_4_norm"
    )
    steps = columns[2].select_slider(
        "Training steps", (100, 200, 300, 400), value=100, key="demo_3_4_steps"
    )
    nets = ("plain", "residual", str(norm))
    results = {net: _heatmap(str(activation), net, int(steps)) for net in nets}
    table = pd.concat([frame for frame, _ in results.values()], ignore_index=True)
    positive = table.loc[table["grad_norm"] > 0, "grad_norm"]
    domain = [float(positive.min()), float(positive.max())] if len(positive) else [1e-8, 1.0]
    for net in nets:
        _show(_heat_chart(table[table["net"] == net], net, domain))
    first = table[table["layer"] == "fc1"]
    _show(_first_layer_chart(first))
    medians = first.groupby("net", sort=False)["grad_norm"].median()
    columns = st.columns(len(nets))
    for column, net in zip(columns, nets, strict=True):
        column.metric(f"{net}: val accuracy", _percent(results[net][1]))
        column.metric(f"{net}: median fc1 gradient norm", f"{medians[net]:.2e}")
    _depth_caption(medians, str(activation), int(steps), nets)


def _depth_caption(medians: pd.Series, activation: str, steps: int, nets: tuple[str, ...]) -> None:
    plain = medians["plain"]
    against = ", ".join(
        f"{net} {medians[net]:.1e}" + (f" ({medians[net] / plain:.1e} × plain)" if plain else "")
        for net in nets[1:]
    )
    blank = (
        " Blank cells are gradients exactly 0 (no place on a log scale)."
        if (medians == 0).any()
        else ""
    )
    st.caption(
        f"{DEPTH} {ACTIVATION_NAMES[activation]} layers of {DEPTH_WIDTH} units, PyTorch's "
        f"default init, Adam lr 1e-3, batch 32, {steps} steps on the digits; every layer's "
        "gradient norm read after each step. The three heatmaps share one colour scale: "
        "read a column from the bottom (the output layer) up to the top (fc1, next to the "
        "input) to follow one step's gradient as backward carries it. Median fc1 gradient "
        f"norm: plain {plain:.1e}, {against}.{blank}"
    )
