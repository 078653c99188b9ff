"""Practice at scale: transfer learning measured on the digits, and a training-cost calculator.

Each `*_demo` function draws one demo and takes no arguments. The numbers come from
`engine.transfer` (real training) and `engine.scale` (arithmetic); this file only chooses
widgets and draws charts.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from engine.scale import (
    H100_BF16_FLOPS,
    OPTIMIZERS,
    PRECISIONS,
    bytes_per_parameter,
    gpus_to_hold,
    training_days,
    training_flops,
    training_memory_gb,
)
from engine.transfer import (
    FINE_TUNE_EPOCHS,
    HEAD_LR,
    MODES,
    PRETRAIN_EPOCHS,
    TRUNK_LR,
    transfer_comparison,
)
from ui.charts import BASELINE_COLOUR, BROKEN_COLOURS, REFERENCE_COLOUR

HEIGHT = 300
GPU_MEMORY_GB = 80.0
MODE_NAMES = {
    "frozen": "frozen trunk + new head",
    "unfrozen": "unfrozen (trunk lr ÷ 10)",
    "scratch": "from scratch",
}
MODE_COLOURS = (BROKEN_COLOURS[1], BROKEN_COLOURS[2], BASELINE_COLOUR)
CHANCE = 0.2  # five new digits


# --- transfer learning -------------------------------------------------------------------


@st.cache_data(show_spinner="Pretraining on digits 0-4, then fine-tuning three ways...")
def _transfer(shots: int) -> pd.DataFrame:
    return transfer_comparison(shots=shots)


def _transfer_chart(table: pd.DataFrame) -> alt.LayerChart:
    named = table.assign(mode=table["mode"].map(MODE_NAMES))
    colour = alt.Color(
        "mode:N",
        scale=alt.Scale(domain=[MODE_NAMES[m] for m in MODES], range=list(MODE_COLOURS)),
        title=None,
        legend=alt.Legend(orient="bottom"),
    )
    lines = (
        alt.Chart(named)
        .mark_line()
        .encode(
            x=alt.X("epoch:Q", title="epoch (one step on all the examples)"),
            y=alt.Y(
                "val_acc:Q",
                title="val accuracy on digits 5-9 (%)",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            color=colour,
            tooltip=[
                alt.Tooltip("mode:N", title="mode"),
                alt.Tooltip("epoch:Q", title="epoch"),
                alt.Tooltip("val_acc:Q", title="val accuracy", format=".1%"),
                alt.Tooltip("val_loss:Q", title="val loss", format=".3f"),
            ],
        )
    )
    chance = (
        alt.Chart(pd.DataFrame({"val_acc": [CHANCE]}))
        .mark_rule(strokeDash=[4, 4], color=REFERENCE_COLOUR)
        .encode(y="val_acc:Q")
    )
    return (lines + chance).properties(height=HEIGHT)


def transfer_demo() -> None:
    """Pretrain on digits 0-4, then learn 5-9 from a few examples: frozen, unfrozen, scratch."""
    st.subheader("Transfer learning: digits 0-4 to digits 5-9")
    shots = st.slider(
        "Training examples per new digit",
        min_value=1,
        max_value=20,
        value=5,
        key="demo_transfer_shots",
        help="How many images of each digit 5-9 the new head learns from (5 digits in all).",
    )
    try:
        table = _transfer(int(shots))
    except ValueError as error:
        st.error(str(error))
        return
    st.altair_chart(_transfer_chart(table), width="stretch")
    final = table.groupby("mode")["val_acc"].last()
    columns = st.columns(len(MODES))
    for column, mode in zip(columns, MODES, strict=True):
        versus = final[mode] - final["scratch"]
        column.metric(
            MODE_NAMES[mode],
            f"{final[mode]:.1%}",
            delta=None if mode == "scratch" else f"{versus * 100:+.1f} points vs scratch",
            help=f"Validation accuracy on digits 5-9 after epoch {FINE_TUNE_EPOCHS}.",
        )
    best = max(("frozen", "unfrozen"), key=lambda mode: final[mode])
    st.caption(
        f"The trunk (MLP 64 → 128 → 64, ReLU) was pretrained for {PRETRAIN_EPOCHS} epochs on "
        "the training images of digits 0-4. A fresh 5-way head then learns digits 5-9 from "
        f"{5 * shots} images ({shots} per digit), Adam, head lr {HEAD_LR:g}, trunk lr "
        f"{TRUNK_LR:g} when unfrozen; every line is measured on all validation images of "
        "5-9. Dashed: chance (20%)."
    )
    if final[best] > final["scratch"]:
        st.caption(
            f"Here the {MODE_NAMES[best]} beats training from scratch by "
            f"{(final[best] - final['scratch']) * 100:.1f} points: the pretrained features "
            "help the few examples go further."
        )
    else:
        st.caption(
            f"Here training from scratch does as well or better (the {MODE_NAMES[best]}: "
            f"{(final[best] - final['scratch']) * 100:+.1f} points). The trunk learned what "
            "tells 0-4 apart and discarded details that tell 5-9 apart, while an 8x8 digit's "
            "64 raw pixels are already good features on their own: transfer pays when the "
            "pretraining task is much larger and closer to the new one."
        )


# --- the cost of training at scale -------------------------------------------------------


def _bytes_table() -> pd.DataFrame:
    rows = []
    for optimizer in OPTIMIZERS:
        for precision in PRECISIONS:
            parts = bytes_per_parameter(optimizer, precision)
            rows.append(
                {"optimizer": optimizer, "precision": precision}
                | parts
                | {"total": sum(parts.values())}
            )
    return pd.DataFrame(rows)


def scale_calculator_demo() -> None:
    """Compute (6ND), memory for weights, gradients and Adam state, GPUs and days."""
    st.subheader("What a training run costs: compute, memory, time")
    columns = st.columns(4)
    billions = columns[0].number_input(
        "Parameters N (billions)",
        min_value=0.0,
        value=7.0,
        step=1.0,
        key="demo_scale_params",
        help="The model's weights, in billions: 7 means a 7B model.",
    )
    tokens_billions = columns[1].number_input(
        "Training tokens D (billions)",
        min_value=0.0,
        value=2000.0,
        step=100.0,
        key="demo_scale_tokens",
        help="Tokens the run reads in all, in billions: 2000 means 2 trillion.",
    )
    gpus = columns[2].number_input(
        "GPUs",
        min_value=1,
        value=1024,
        step=8,
        key="demo_scale_gpus",
        help="H100s training together, each at a peak of 989 TFLOP/s in bf16.",
    )
    utilization = columns[3].number_input(
        "Utilization",
        min_value=0.0,
        max_value=1.0,
        value=0.4,
        step=0.05,
        key="demo_scale_util",
        help="The fraction of peak FLOP/s the run sustains; 0.3-0.5 is typical.",
    )
    parameters, tokens = billions * 1e9, tokens_billions * 1e9
    try:
        flops = training_flops(parameters, tokens)
        memory = {p: training_memory_gb(parameters, "adam", p) for p in PRECISIONS}
        needed = gpus_to_hold(max(memory.values()), GPU_MEMORY_GB)
        days = training_days(parameters, tokens, int(gpus), H100_BF16_FLOPS, utilization)
    except ValueError as error:
        st.error(str(error))
        return
    top = st.columns(2)
    top[0].metric(
        "Training compute (6ND)",
        f"{flops:.2e} FLOPs",
        help="About 6 floating-point operations per parameter per token: 2 forward, 4 backward.",
    )
    top[1].metric(
        "Training time",
        f"{days:,.1f} days",
        help="6ND ÷ (GPUs × 989e12 FLOP/s × utilization), in days of 86,400 s.",
    )
    bottom = st.columns(3)
    bottom[0].metric(
        "Memory, Adam in float32",
        f"{memory['float32']:,.1f} GB",
        help="Weights + gradients + Adam's two moments: 4 + 4 + 8 = 16 bytes per parameter.",
    )
    bottom[1].metric(
        "Memory, Adam in mixed precision",
        f"{memory['mixed']:,.1f} GB",
        help="bf16 weights and gradients (2 + 2), fp32 master weights (4), Adam (8): 16 bytes.",
    )
    bottom[2].metric(
        f"{GPU_MEMORY_GB:.0f} GB GPUs to hold it, at least",
        f"{needed:,}",
        help="The memory split evenly over GPUs (sharded, as ZeRO or FSDP do), no activations.",
    )
    if needed > gpus:
        st.warning(
            f"{int(gpus):,} GPU(s) hold {int(gpus) * GPU_MEMORY_GB:,.0f} GB: too little for "
            f"the {memory['mixed']:,.1f} GB of weights, gradients and Adam state."
        )
    st.caption(
        "Memory counts weights, gradients and optimizer state only (1 GB = 1e9 bytes). "
        "Activations come on top and grow with batch size and sequence length, so a real "
        "run needs more. Mixed precision saves no memory here (16 bytes either way): it "
        "saves time and activation memory."
    )
    st.markdown("**Bytes per parameter, by part**")
    st.dataframe(_bytes_table(), hide_index=True, width="stretch")
