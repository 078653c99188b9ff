"""Altair charts of one or more runs on shared axes: healthy and broken in fixed colours."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd

from engine.records import EpochRecord, StepRecord
from training_service.memo import SharedMemo

BASELINE_COLOUR = "#2563eb"
REFERENCE_COLOUR = "#64748b"
BROKEN_COLOURS = ("#dc2626", "#d97706", "#7c3aed", "#059669", "#db2777", "#0891b2", "#65a30d")
MAX_POINTS_PER_RUN = 800  # every k-th step on long runs keeps the browser quick; all real
PROJECTOR_FONT = 24  # chart text on a projector; Vega-Lite's default axis labels are 10-11 px
PROJECTOR_HEIGHT = 560


@dataclass(frozen=True)
class RunCurves:
    """What a chart needs from a run, finished or still training."""

    label: str
    steps: Sequence[StepRecord]
    epochs: Sequence[EpochRecord]
    diverged_at_step: int | None = None
    config_key: str = ""  # which run this is, for sharing drawn charts between sessions

    def identity(self) -> tuple[object, ...]:
        last = self.steps[-1].loss if self.steps else None
        return (
            self.label,
            self.config_key,
            len(self.steps),
            len(self.epochs),
            last,
            self.diverged_at_step,
        )


def colour_scale(labels: Sequence[str]) -> alt.Scale:
    """Baseline blue, fixed twins grey, broken runs warm colours, in a fixed order."""
    colours, broken = [], 0
    for label in labels:
        if label == "baseline":
            colours.append(BASELINE_COLOUR)
        elif label.endswith(" fixed"):
            colours.append(REFERENCE_COLOUR)
        else:
            colours.append(BROKEN_COLOURS[broken % len(BROKEN_COLOURS)])
            broken += 1
    return alt.Scale(domain=list(labels), range=colours)


def step_frame(runs: Sequence[RunCurves]) -> pd.DataFrame:
    """Per-step loss and gradient norm, one row per run and step (thinned on long runs)."""
    columns: dict[str, list[object]] = {
        "run": [],
        "step": [],
        "epoch": [],
        "loss": [],
        "grad_norm": [],
    }
    for run in runs:
        stride = max(1, math.ceil(len(run.steps) / MAX_POINTS_PER_RUN))
        kept = run.steps[::stride]
        columns["run"] += [run.label] * len(kept)
        columns["step"] += [r.step for r in kept]
        columns["epoch"] += [r.epoch for r in kept]
        columns["loss"] += [_finite(r.loss) for r in kept]
        columns["grad_norm"] += [_finite(r.grad_norm) for r in kept]
    return pd.DataFrame(columns)


def epoch_frame(runs: Sequence[RunCurves]) -> pd.DataFrame:
    """Per-epoch train and val loss and accuracy, tidy: run, epoch, split, loss, acc."""
    rows = []
    for run in runs:
        for e in run.epochs:
            for split in ("train", "val"):
                rows.append(
                    {
                        "run": run.label,
                        "epoch": e.epoch,
                        "split": split,
                        "loss": _finite(getattr(e, f"{split}_loss")),
                        "acc": _finite(getattr(e, f"{split}_acc")),
                    }
                )
    return pd.DataFrame(rows, columns=["run", "epoch", "split", "loss", "acc"])


def _finite(value: float | None) -> float | None:
    """Finite values to 5 significant digits (a smaller chart to send); NaN/inf to None."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.5g}")


def _loss_scale(values: pd.Series) -> alt.Scale:
    finite = values.dropna()
    if len(finite) and (finite < 0).any():
        return alt.Scale(type="symlog")  # a negative "loss" must stay visible, not vanish
    return alt.Scale(type="log")  # an exact 0 (a memorised batch) is simply not drawn


def _legend_focus(name: str) -> alt.Parameter:
    return alt.selection_point(fields=["run"], bind="legend", name=name)


def _reference_lines(ln_k: float | None, diverged: dict[str, int], x: str) -> list[alt.Chart]:
    layers: list[alt.Chart] = []
    if ln_k is not None:
        rule = pd.DataFrame({"y": [ln_k], "text": [f"ln K = {ln_k:.2f} (chance)"]})
        base = alt.Chart(rule)
        layers.append(base.mark_rule(strokeDash=[6, 4], color="#475569").encode(y="y:Q"))
        layers.append(
            base.mark_text(align="left", dx=4, dy=-6, color="#475569", fontSize=11).encode(
                y="y:Q", text="text:N", x=alt.value(0)
            )
        )
    if diverged and x == "step":
        marks = pd.DataFrame(
            [
                {"step": s, "run": r, "text": f"{r}: diverged here (NaN/inf)"}
                for r, s in diverged.items()
            ]
        )
        base = alt.Chart(marks)
        layers.append(base.mark_rule(color="#b91c1c", strokeWidth=2).encode(x="step:Q"))
        layers.append(
            base.mark_text(align="left", dx=4, dy=8, color="#b91c1c", fontSize=11).encode(
                x="step:Q", y=alt.value(0), text="text:N"
            )
        )
    return layers


def _epoch_readout(frame: pd.DataFrame, labels: Sequence[str], name: str) -> alt.Chart:
    """A rule under the pointer whose tooltip reads every run's val loss and accuracy at
    that epoch. Per epoch only (a few dozen x values): nearest-point search over every step
    of every run made the browser noticeably slower."""
    val = frame[frame["split"] == "val"]
    wide = val.pivot_table(index="epoch", columns="run", values=["loss", "acc"], aggfunc="first")
    wide.columns = [f"{run} val {metric}" for metric, run in wide.columns]
    wide = wide.reset_index()
    hover = alt.selection_point(
        fields=["epoch"], nearest=True, on="pointerover", empty=False, name=name
    )
    tooltip = [alt.Tooltip("epoch:Q", title="Epoch")]
    for label in labels:
        for metric in ("loss", "acc"):
            column = f"{label} val {metric}"
            if column in wide.columns:
                tooltip.append(alt.Tooltip(f"{column}:Q", format=".4g"))
    return (
        alt.Chart(wide)
        .mark_rule(color="#94a3b8", strokeWidth=6)
        .encode(
            x="epoch:Q",
            opacity=alt.condition(hover, alt.value(0.35), alt.value(0)),
            tooltip=tooltip,
        )
        .add_params(hover)
    )


CHART_TITLES = {
    "step_loss": "Loss per step",
    "epoch_loss": "Loss per epoch",
    "epoch_acc": "Accuracy per epoch",
    "grad_norm": "Gradient norm per step (a run with zero gradient has no line)",
}


def step_loss_chart(
    runs: Sequence[RunCurves], n_classes: int | None, frame: pd.DataFrame | None = None
) -> alt.LayerChart:
    """Training loss of every mini-batch, all runs on one log-scale axis."""
    frame = step_frame(runs) if frame is None else frame
    labels = [r.label for r in runs]
    focus = _legend_focus("focus_step")
    scale = _loss_scale(frame["loss"])
    if scale.type == "log":  # log(0) has no place on the axis: drop exact zeros
        frame = frame[frame["loss"].fillna(0) > 0]
    line = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1.4)
        .encode(
            x=alt.X("step:Q", title="Step (one mini-batch update)"),
            y=alt.Y("loss:Q", title="Loss on the batch", scale=scale),
            color=alt.Color(
                "run:N",
                title="Run",
                scale=colour_scale(labels),
                legend=alt.Legend(orient="bottom", columns=3, labelLimit=220),
            ),
            opacity=alt.condition(focus, alt.value(0.95), alt.value(0.12)),
        )
        .add_params(focus)
    )
    diverged = {r.label: r.diverged_at_step for r in runs if r.diverged_at_step}
    ln_k = math.log(n_classes) if n_classes else None
    layers = [line, *_reference_lines(ln_k, diverged, "step")]
    return alt.layer(*layers).properties(height=300)


def epoch_chart(
    runs: Sequence[RunCurves], metric: str, n_classes: int | None, frame: pd.DataFrame | None = None
) -> alt.LayerChart:
    """Train (solid) and validation (dashed) loss or accuracy per epoch, all runs."""
    frame = epoch_frame(runs) if frame is None else frame
    labels = [r.label for r in runs]
    focus = _legend_focus(f"focus_{metric}")
    is_loss = metric == "loss"
    y_title = "Loss (whole split)" if is_loss else "Accuracy (fraction)"
    scale = _loss_scale(frame["loss"]) if is_loss else alt.Scale(domain=[0, 1])
    if is_loss and scale.type == "log":
        frame = frame[frame["loss"].fillna(0) > 0]
    line = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=28))
        .encode(
            x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(f"{metric}:Q", title=y_title, scale=scale),
            color=alt.Color(
                "run:N",
                title="Run",
                scale=colour_scale(labels),
                legend=alt.Legend(orient="bottom", columns=3, labelLimit=220),
            ),
            strokeDash=alt.StrokeDash(
                "split:N",
                title="Split",
                scale=alt.Scale(domain=["train", "val"], range=[[1, 0], [5, 3]]),
                legend=alt.Legend(orient="bottom", columns=3, labelLimit=220),
            ),
            opacity=alt.condition(focus, alt.value(0.95), alt.value(0.12)),
            tooltip=["run:N", "epoch:Q", "split:N", alt.Tooltip(f"{metric}:Q", format=".4g")],
        )
        .add_params(focus)
    )
    layers: list[alt.Chart] = [line]
    if not frame.empty:
        layers.append(_epoch_readout(frame, labels, f"hover_{metric}"))
    if is_loss and n_classes:
        layers += _reference_lines(math.log(n_classes), {}, "epoch")
    if not is_loss and n_classes:
        chance = pd.DataFrame({"y": [1 / n_classes]})
        layers.append(
            alt.Chart(chance).mark_rule(strokeDash=[6, 4], color="#475569").encode(y="y:Q")
        )
    return alt.layer(*layers).properties(height=300)


def grad_norm_chart(runs: Sequence[RunCurves], frame: pd.DataFrame | None = None) -> alt.LayerChart:
    """Total gradient norm at every step, log scale: exploding and vanishing both show."""
    frame = step_frame(runs) if frame is None else frame
    labels = [r.label for r in runs]
    focus = _legend_focus("focus_grad")
    positive = frame[frame["grad_norm"].fillna(0) > 0]
    line = (
        alt.Chart(positive)
        .mark_line(strokeWidth=1.2)
        .encode(
            x=alt.X("step:Q", title="Step (one mini-batch update)"),
            y=alt.Y("grad_norm:Q", title="Gradient norm ‖∇L‖", scale=alt.Scale(type="log")),
            color=alt.Color(
                "run:N",
                title="Run",
                scale=colour_scale(labels),
                legend=alt.Legend(orient="bottom", columns=3, labelLimit=220),
            ),
            opacity=alt.condition(focus, alt.value(0.95), alt.value(0.12)),
            tooltip=["run:N", "step:Q", alt.Tooltip("grad_norm:Q", format=".3g")],
        )
        .add_params(focus)
    )
    return alt.layer(line).properties(height=300)


def comparison_charts(
    runs: Sequence[RunCurves], n_classes: int | None
) -> dict[str, alt.LayerChart]:
    """The four comparison charts, keyed like CHART_TITLES."""
    steps, epochs = step_frame(runs), epoch_frame(runs)  # each built once, drawn twice
    return {
        "step_loss": step_loss_chart(runs, n_classes, steps),
        "epoch_loss": epoch_chart(runs, "loss", n_classes, epochs),
        "epoch_acc": epoch_chart(runs, "acc", n_classes, epochs),
        "grad_norm": grad_norm_chart(runs, steps),
    }


_SPECS: SharedMemo[dict[str, dict]] = SharedMemo(size=64)


def comparison_specs(runs: Sequence[RunCurves], n_classes: int | None) -> dict[str, dict]:
    """The four charts as Vega-Lite dicts, built once per distinct set of curves.

    When a class opens the same link, every session shows the same curves: building the
    charts once and sharing the specs keeps the server's CPU for the sessions themselves.
    """
    key = (n_classes, *(run.identity() for run in runs))
    return _SPECS.get(
        key,
        lambda: {
            name: chart.to_dict() for name, chart in comparison_charts(runs, n_classes).items()
        },
    )


def projector_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A chart spec readable across a classroom: twice the text size, thicker lines."""
    big = copy.deepcopy(spec)  # the shared spec is cached for every session: never mutate it
    config = big.setdefault("config", {})
    for part in ("axis", "legend", "header"):
        config.setdefault(part, {}).update(
            labelFontSize=PROJECTOR_FONT, titleFontSize=PROJECTOR_FONT + 2
        )
    config.setdefault("legend", {}).update(symbolSize=400, symbolStrokeWidth=4)
    config.setdefault("text", {}).update(fontSize=PROJECTOR_FONT - 4)
    config["axis"]["titleLimit"] = 600
    # The height covers axes and legend too: larger text needs more room to leave a plot.
    big["height"] = max(int(big.get("height", 300)), PROJECTOR_HEIGHT)
    _enlarge_marks(big)
    return big


def _enlarge_marks(node: object) -> None:
    """Lines at least 3 px wide, labels twice their size: a mark's own setting beats the
    config's, so the marks that set one are changed too."""
    if isinstance(node, list):
        for item in node:
            _enlarge_marks(item)
        return
    if not isinstance(node, dict):
        return
    mark = node.get("mark")
    if isinstance(mark, dict) and mark.get("type") == "line":
        mark["strokeWidth"] = max(3.0, 2.5 * float(mark.get("strokeWidth", 1.0)))
    elif isinstance(mark, dict) and mark.get("type") == "text" and "fontSize" in mark:
        mark["fontSize"] = 2 * float(mark["fontSize"])
    elif mark == "line":
        node["mark"] = {"type": "line", "strokeWidth": 3.0}
    for value in node.values():
        if isinstance(value, dict | list):
            _enlarge_marks(value)
