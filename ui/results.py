"""After training: the charts, each run's diagnosis, what the bug changed, and downloads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from engine.compare import diagnose_run, run_summary
from engine.config import RunConfig
from engine.diagnosis import Diagnosis
from engine.export import ExportError, code_diff, export_script
from engine.results import RunResult
from engine.variants import get_variant
from training_service.memo import SharedMemo
from ui.charts import CHART_TITLES, RunCurves, comparison_charts
from ui.live import draw_charts, n_classes_of
from ui.plain_text import plain

# What a learner may predict, and the diagnosis labels that make the prediction right.
PREDICTIONS: dict[str, set[str]] = {
    "explodes": {"diverged", "impossible_loss"},
    "stays flat": {"not_learning", "collapsed"},
    "overfits": {"overfitting"},
    "zig-zags": {"unstable"},
    "crashes": {"crashed"},
    "plateaus high": {"loss_floor", "underfitting"},
    "looks healthy": {"healthy", "frozen_layer"},  # a frozen layer hides behind good curves
}


_DIAGNOSES: SharedMemo[Diagnosis] = SharedMemo(size=1024)


def diagnosis_of(result: RunResult) -> Diagnosis:
    """The run's diagnosis, computed once per server for each distinct run."""
    key = (result.config.key(), result.status, len(result.steps), len(result.epochs))
    return _DIAGNOSES.get(key, lambda: diagnose_run(result))


def curves(results: Mapping[str, RunResult]) -> list[RunCurves]:
    return [
        RunCurves(label, r.steps, r.epochs, r.diverged_at_step, r.config.key())
        for label, r in results.items()
    ]


def show_diagnosis(label: str, result: RunResult, diagnosis: Diagnosis) -> None:
    """One run's verdict: label, evidence, next experiment (and the error if it crashed)."""
    st.markdown(f"**{label}** → `{diagnosis.label}`")
    if result.error is not None:
        st.error(f"**{result.error.type}**: {result.error.message}\n\n{result.error.explanation}")
    for sentence in diagnosis.evidence:
        st.markdown(f"- {sentence}")
    st.markdown(f"**Next experiment:** {diagnosis.next_experiment}")
    summary = run_summary(result)
    if summary["best_val_acc"] is not None:
        st.caption(
            f"best val acc {summary['best_val_acc']:.3f} · "
            f"{len(result.steps)} steps in {result.seconds:.2f} s"
        )
    if diagnosis.alternatives:
        others = ", ".join(f"{name} ({score:.1f})" for name, score in diagnosis.alternatives[:3])
        st.caption(f"Also considered: {others}")


def show_diagnoses(results: Mapping[str, RunResult]) -> dict[str, Diagnosis]:
    """Every run's diagnosis side by side."""
    st.subheader("Curve Doctor's reading")
    diagnoses = {label: diagnosis_of(result) for label, result in results.items()}
    items = list(results.items())
    for start in range(0, len(items), 3):  # at most three readable columns per row
        row = items[start : start + 3]
        for column, (label, result) in zip(st.columns(3), row, strict=False):
            with column:
                show_diagnosis(label, result, diagnoses[label])
    return diagnoses


def show_prediction_verdict(variant_id: str, guess: str | None, diagnosis: Diagnosis) -> None:
    """The learner's guess beside what happened, with the first number that shows it."""
    if not guess:
        return
    title = get_variant(variant_id).title
    actual = next(
        (name for name, labels in PREDICTIONS.items() if diagnosis.label in labels),
        diagnosis.label,
    )
    what = f" {plain(diagnosis.evidence[0])}" if diagnosis.evidence else ""
    if diagnosis.label in PREDICTIONS.get(guess, set()):
        st.success(f"**{title}**: you said **{guess}**, and it did (`{diagnosis.label}`).{what}")
    else:
        st.info(
            f"**{title}**: you said **{guess}**; it **{actual}** (`{diagnosis.label}`).{what} "
            "Look at the curves again with that in mind."
        )


def show_bug(variant_id: str, baseline: RunConfig) -> None:
    """The code difference (healthy vs broken lines), why it happens, and the fix."""
    variant = get_variant(variant_id)
    healthy, broken = st.columns(2)
    healthy_code, broken_code = variant.code_lines(baseline)
    healthy.markdown("**Healthy code**")
    healthy.code(healthy_code, language="python", wrap_lines=True)
    broken.markdown("**Broken code**")
    broken.code(broken_code, language="python", wrap_lines=True)
    st.markdown(f"**Why it happens.** {variant.why}")
    st.markdown(f"**The fix.** {variant.fix}")
    try:
        diff = code_diff(baseline, variant_id)
    except ExportError as error:
        st.caption(f"Full-script diff unavailable: {error}")
        return
    with st.expander("The whole difference between the two training scripts"):
        st.code(diff, language="diff")


def curves_csv(results: Mapping[str, RunResult]) -> bytes:
    """Every number of every run, tidy: run, granularity, step/epoch, metric, value."""
    frames = []
    for result in results.values():
        epochs = result.epoch_frame().assign(granularity="epoch")
        steps = result.step_frame().assign(granularity="step", split="train")
        frames += [epochs, steps]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return table.to_csv(index=False).encode()


def charts_svg(results: Mapping[str, RunResult], n_classes: int | None) -> bytes:
    """All four charts as one SVG (rendered on the server with vl-convert)."""
    import altair as alt
    import vl_convert

    runs = curves(results)
    titled = [
        chart.properties(width=420, title=CHART_TITLES[name])
        for name, chart in comparison_charts(runs, n_classes).items()
    ]
    grid = alt.vconcat(alt.hconcat(*titled[:2]), alt.hconcat(*titled[2:]))
    return vl_convert.vegalite_to_svg(grid.to_json()).encode()


def show_downloads(
    results: Mapping[str, RunResult], baseline: RunConfig, variant_ids: Sequence[str], key: str
) -> None:
    """CSV of all curves, an SVG of the charts, and each run as a standalone script."""
    n_classes = n_classes_of(baseline)
    columns = st.columns(2 + len(variant_ids) + 1)
    columns[0].download_button(
        "Curves (CSV)",
        lambda: curves_csv(results),
        "curves.csv",
        "text/csv",
        key=f"{key}_csv",
        icon=":material/table:",
    )
    columns[1].download_button(
        "Charts (SVG)",
        lambda: charts_svg(results, n_classes),
        "charts.svg",
        "image/svg+xml",
        key=f"{key}_svg",
        icon=":material/image:",
    )
    scripts = [("baseline", None), *[(v, v) for v in variant_ids]]
    for column, (label, variant_id) in zip(columns[2:], scripts, strict=False):
        try:
            text = export_script(baseline, variant_id)
        except ExportError as error:
            column.caption(f"{label}: {error}")
            continue
        column.download_button(
            f"{label}.py",
            text,
            f"{label}.py",
            "text/x-python",
            key=f"{key}_script_{label}",
            icon=":material/code:",
        )


def show_results(
    results: Mapping[str, RunResult],
    baseline: RunConfig,
    variant_ids: Sequence[str],
    predictions: Mapping[str, str | None],
    key: str,
) -> dict[str, Diagnosis]:
    """The finished comparison: charts, diagnoses, each bug explained, downloads."""
    draw_charts(curves(results), n_classes_of(baseline), key)
    diagnoses = show_diagnoses(results)
    for variant_id in variant_ids:
        if variant_id not in results:
            continue
        variant = get_variant(variant_id)
        st.subheader(f"What went wrong: {variant.title}")
        show_prediction_verdict(variant_id, predictions.get(variant_id), diagnoses[variant_id])
        show_bug(variant_id, baseline)
    show_downloads(results, baseline, variant_ids, key)
    return diagnoses
