"""Charts of a user's own training log (any length, any scale)."""

from __future__ import annotations

import math

import altair as alt

from engine.training_log import TrainingLog


def log_charts(log: TrainingLog) -> list[alt.LayerChart]:
    """Loss (and accuracy when present) against epoch or step, train solid, val dashed."""
    frame = log.to_frame()
    x = log.x_name
    charts = []
    for metric, title in (("loss", "Loss"), ("acc", "Accuracy (fraction correct)")):
        columns = [c for c in (f"train_{metric}", f"val_{metric}") if c in frame.columns]
        if not columns:
            continue
        tidy = frame.melt(id_vars=[x], value_vars=columns, var_name="curve", value_name="value")
        tidy = tidy[tidy["value"].map(lambda v: v is not None and math.isfinite(v))]
        positive = bool((tidy["value"] > 0).all()) and metric == "loss"
        line = (
            alt.Chart(tidy)
            .mark_line(point=len(frame) <= 60)
            .encode(
                x=alt.X(f"{x}:Q", title=x.capitalize(), axis=alt.Axis(tickMinStep=1, format="d")),
                y=alt.Y(
                    "value:Q", title=title, scale=alt.Scale(type="log" if positive else "linear")
                ),
                color=alt.Color(
                    "curve:N",
                    title="Curve",
                    legend=alt.Legend(orient="bottom"),
                    scale=alt.Scale(domain=columns, range=["#2563eb", "#d97706"][: len(columns)]),
                ),
                strokeDash=alt.StrokeDash(
                    "curve:N",
                    legend=None,
                    scale=alt.Scale(domain=columns, range=[[1, 0], [5, 3]][: len(columns)]),
                ),
                tooltip=[f"{x}:Q", "curve:N", alt.Tooltip("value:Q", format=".4g")],
            )
        )
        layers: list[alt.Chart] = [line]
        if metric == "loss" and log.n_classes:
            rule = alt.Chart(alt.Data(values=[{"y": math.log(log.n_classes)}]))
            layers.append(rule.mark_rule(strokeDash=[6, 4], color="#475569").encode(y="y:Q"))
        charts.append(alt.layer(*layers).properties(title=title, height=260))
    return charts
