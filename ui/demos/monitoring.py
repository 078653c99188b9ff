"""Lesson 3.6's visual: a monitoring dashboard of one digits run, healthy or broken.

Three panels a practitioner reads after the loss curves: what the model predicts (class
counts and confidence), how big each layer's gradients are, and whether any number has
turned into NaN or infinity. Picking a broken variant shows which panel gives it away.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st
import torch

from engine.config import default_config
from engine.data import load_data
from engine.results import RunResult
from engine.training import train
from engine.variants import apply_variant, get_variant
from ui.charts import BASELINE_COLOUR, BROKEN_COLOURS, REFERENCE_COLOUR

HEIGHT = 280
VARIANTS = ("swapped_loss_args_one_hot", "labels_misaligned", "softmax_before_ce", "no_shuffle")
HEALTHY = "none (healthy baseline)"


@st.cache_resource(show_spinner="Training the digits MLP (about a second)…", max_entries=6)
def digits_run(variant_id: str | None) -> RunResult:
    """The course's digits baseline, or that baseline with one bug, trained once per process."""
    config = default_config("digits")
    return train(apply_variant(config, variant_id) if variant_id else config)


@st.cache_data(show_spinner=False)
def true_class_counts() -> list[int]:
    """How many validation images each class really has: what healthy predictions approach."""
    labels = load_data(default_config("digits")).val.labels
    return torch.bincount(labels, minlength=10).tolist()


def counts_frame(result: RunResult, epoch: int) -> pd.DataFrame:
    """Predicted and true validation counts per class at one epoch: class, source, count."""
    predicted = result.epochs[epoch - 1].class_counts or ()
    rows = [{"class": str(k), "source": "predicted", "count": c} for k, c in enumerate(predicted)]
    rows += [
        {"class": str(k), "source": "true labels", "count": c}
        for k, c in enumerate(true_class_counts())
    ]
    return pd.DataFrame(rows)


def confidence_frame(result: RunResult) -> pd.DataFrame:
    """Per epoch: mean top softmax probability and accuracy on validation, tidy."""
    rows = []
    for e in result.epochs:
        rows.append({"epoch": e.epoch, "measure": "mean confidence", "value": e.mean_confidence})
        rows.append({"epoch": e.epoch, "measure": "val accuracy", "value": e.val_acc})
    return pd.DataFrame(rows)


def grad_norm_frame(result: RunResult) -> pd.DataFrame:
    """Mean weight-gradient norm of each layer per epoch (layer names without wrappers)."""
    rows = [
        {"epoch": e.epoch, "layer": name.rsplit(".", 1)[-1], "grad_norm": norm}
        for e in result.epochs
        for name, norm in e.layer_grad_norms.items()
    ]
    return pd.DataFrame(rows, columns=["epoch", "layer", "grad_norm"])


def non_finite_counts(result: RunResult) -> dict[str, int]:
    """How many step losses and gradient norms are NaN or infinite."""
    return {
        "losses": sum(not math.isfinite(s.loss) for s in result.steps),
        "grad_norms": sum(not math.isfinite(s.grad_norm) for s in result.steps),
    }


def _counts_chart(frame: pd.DataFrame, epoch: int) -> alt.LayerChart:
    predicted = frame[frame.source == "predicted"]
    truth = frame[frame.source == "true labels"]
    x = alt.X("class:N", title="Digit class", axis=alt.Axis(labelAngle=0))
    bars = (
        alt.Chart(predicted)
        .mark_bar(color=BASELINE_COLOUR)
        .encode(
            x=x,
            y=alt.Y("count:Q", title="Validation images (count)"),
            tooltip=["class:N", alt.Tooltip("count:Q", title="predicted")],
        )
    )
    ticks = (
        alt.Chart(truth)
        .mark_tick(color="#0f172a", thickness=3, size=28)
        .encode(x=x, y="count:Q", tooltip=["class:N", alt.Tooltip("count:Q", title="true labels")])
    )
    return alt.layer(bars, ticks).properties(
        title=f"Predictions per class, epoch {epoch} (black ticks: true counts)", height=HEIGHT
    )


def _confidence_chart(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title="Fraction (0 to 1)", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "measure:N",
                title=None,
                legend=alt.Legend(orient="bottom"),
                scale=alt.Scale(
                    domain=["mean confidence", "val accuracy"],
                    range=[BROKEN_COLOURS[1], BASELINE_COLOUR],
                ),
            ),
            tooltip=["epoch:Q", "measure:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(title="Confidence vs accuracy on validation", height=HEIGHT)
    )


def _grad_norm_chart(frame: pd.DataFrame) -> alt.Chart:
    positive = frame[frame.grad_norm > 0]  # a log axis cannot show an exact 0
    return (
        alt.Chart(positive)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(
                "grad_norm:Q",
                title="Mean weight-gradient norm ‖∇W‖ (log)",
                scale=alt.Scale(type="log"),
            ),
            color=alt.Color(
                "layer:N",
                title="Layer",
                legend=alt.Legend(orient="bottom"),
                scale=alt.Scale(range=[BASELINE_COLOUR, BROKEN_COLOURS[1], REFERENCE_COLOUR]),
            ),
            tooltip=["epoch:Q", "layer:N", alt.Tooltip("grad_norm:Q", format=".3g")],
        )
        .properties(title="Gradient norm per layer", height=HEIGHT)
    )


def _finite_readout(result: RunResult) -> None:
    bad = non_finite_counts(result)
    st.markdown("**NaN / Inf check**")
    columns = st.columns(3)
    columns[0].metric("Steps checked", f"{len(result.steps):,}")
    columns[1].metric("Non-finite losses", bad["losses"])
    columns[2].metric("Non-finite gradient norms", bad["grad_norms"])
    if bad["losses"] or bad["grad_norms"]:
        st.error(
            f"Some numbers are NaN or infinite (run status: {result.status}); find the "
            "first bad step and look at the inputs, the loss and the learning rate."
        )
    else:
        st.success(
            "Every step's loss and gradient norm is finite. That rules out overflow; "
            "it does not prove the loss means anything (look at its sign and size)."
        )
    last = result.epochs[-1]
    st.caption(
        f"Last epoch: val loss {last.val_loss:.3f} (chance level ln 10 = "
        f"{math.log(10):.3f}), val accuracy {last.val_acc or 0:.1%}."
    )


def monitoring_dashboard() -> None:
    """3.6: class counts, confidence, per-layer gradient norms and a NaN/Inf check."""
    st.subheader("A monitoring dashboard for one run")
    chosen = st.selectbox(
        "Run",
        [HEALTHY, *VARIANTS],
        key="demo_3_6_variant",
        format_func=lambda v: v if v == HEALTHY else get_variant(v).title,
    )
    variant_id = None if chosen == HEALTHY else chosen
    result = digits_run(variant_id)
    if variant_id is not None:
        st.caption(f"Bug: {get_variant(variant_id).symptom}")
    if result.error is not None or not result.epochs:
        message = result.error.message if result.error else "no epoch finished"
        st.error(f"The run {result.status}: {message}")
        return
    epoch = st.slider(
        "Epoch for the class counts",
        1,
        len(result.epochs),
        len(result.epochs),
        key="demo_3_6_epoch",
    )
    top = st.columns(2)
    with top[0]:
        st.altair_chart(_counts_chart(counts_frame(result, epoch), epoch), width="stretch")
    with top[1]:
        st.altair_chart(_confidence_chart(confidence_frame(result)), width="stretch")
    bottom = st.columns(2)
    with bottom[0]:
        st.altair_chart(_grad_norm_chart(grad_norm_frame(result)), width="stretch")
    with bottom[1]:
        _finite_readout(result)
