"""Charts of a user's own training log (any length, any scale), with the evidence drawn on."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from engine.curve_marks import ChartMarks
from engine.log_table import TrainingLog

COLOURS = {"train": "#2563eb", "val": "#d97706"}
MARK_COLOUR = "#475569"


def log_charts(
    log: TrainingLog, marks: ChartMarks | None = None, label: str = ""
) -> list[alt.LayerChart]:
    """Loss (and accuracy when present) against epoch or step, train solid, val dashed; on
    the loss chart, the evidence: the best val point, a blow-up when the label is
    `diverged`, the smoothed trend of a long noisy log and the ln K chance line."""
    frame = log.to_frame()
    charts = []
    accuracy = f"{'mAP' if log.acc_name.startswith('mAP') else 'Accuracy'} (fraction)"
    for metric, title in (("loss", "Loss"), ("acc", accuracy)):
        present = [c for c in (f"train_{metric}", f"val_{metric}") if c in frame.columns]
        if not present:
            continue
        tidy = frame.melt(id_vars=[log.x_name], value_vars=present, var_name="curve")
        tidy = tidy[tidy["value"].map(lambda v: v is not None and math.isfinite(v))]
        columns = [c for c in present if (tidy["curve"] == c).any()]  # an all-NaN curve: none
        if not columns:
            continue
        log_scale = bool((tidy["value"] > 0).all()) and metric == "loss"
        y = alt.Y("value:Q", title=title, scale=alt.Scale(type="log" if log_scale else "linear"))
        faint = marks is not None and bool(marks.trend) and metric == "loss"
        layers = [_curves(tidy, log.x_name, y, columns, faint)]
        if metric == "loss" and marks is not None:
            layers += _evidence(marks, log.x_name, label)
        # Streamlit fits the whole chart (title, axes, legend) into this height
        charts.append(alt.layer(*layers).properties(title=title, height=380))
    return charts


def _curves(tidy: pd.DataFrame, x: str, y: alt.Y, columns: list[str], faint: bool) -> alt.Chart:
    colours = [COLOURS[name.split("_")[0]] for name in columns]
    return (
        alt.Chart(tidy)
        .mark_line(point=len(tidy) <= 120, opacity=0.35 if faint else 1.0)
        .encode(
            x=alt.X(f"{x}:Q", title=x.capitalize(), axis=alt.Axis(tickMinStep=1, format="~s")),
            y=y,
            color=alt.Color(
                "curve:N",
                title="Curve",
                legend=alt.Legend(orient="bottom"),
                scale=alt.Scale(domain=columns, range=colours),
            ),
            strokeDash=alt.StrokeDash(
                "curve:N",
                legend=None,
                scale=alt.Scale(domain=columns, range=[[1, 0], [5, 3]][: len(columns)]),
            ),
            tooltip=[f"{x}:Q", "curve:N", alt.Tooltip("value:Q", format=".4g")],
        )
    )


def _evidence(marks: ChartMarks, x: str, label: str) -> list[alt.Chart]:
    """The marks as layers: each a small chart of its own points, labelled in words."""
    layers: list[alt.Chart] = []
    if marks.trend:
        trend = pd.DataFrame(marks.trend, columns=[x, "value"])
        layers.append(
            alt.Chart(trend)
            .mark_line(color=COLOURS["train"], strokeWidth=3)
            .encode(x=f"{x}:Q", y="value:Q", tooltip=[alt.Tooltip("value:Q", format=".4g")])
        )
    if marks.best_val is not None:
        best = pd.DataFrame(
            [{x: marks.best_val[0], "value": marks.best_val[1], "text": "best val"}]
        )
        point = alt.Chart(best).encode(x=f"{x}:Q", y="value:Q")
        layers.append(
            point.mark_point(size=140, shape="diamond", filled=True, color=COLOURS["val"])
        )
        layers.append(
            point.mark_text(dy=-14, color=COLOURS["val"], fontWeight="bold").encode(text="text:N")
        )
        layers.append(
            alt.Chart(best).mark_rule(strokeDash=[2, 3], color=COLOURS["val"]).encode(x=f"{x}:Q")
        )
    if marks.blow_up is not None and label == "diverged":
        blow = pd.DataFrame([{x: marks.blow_up[0], "text": marks.blow_up[1]}])
        rule = alt.Chart(blow).encode(x=f"{x}:Q")
        layers.append(rule.mark_rule(color="#dc2626", strokeWidth=2))
        layers.append(
            rule.mark_text(align="left", dx=4, dy=8, y=0, color="#dc2626").encode(text="text:N")
        )
    if marks.chance is not None:
        chance = pd.DataFrame([{"value": marks.chance, "text": "chance (ln K)"}])
        line = alt.Chart(chance).encode(y="value:Q")
        layers.append(line.mark_rule(strokeDash=[6, 4], color=MARK_COLOUR))
        layers.append(
            line.mark_text(align="left", x=4, dy=-6, color=MARK_COLOUR).encode(text="text:N")
        )
    return layers
