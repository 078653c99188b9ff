"""The presenter view's charts: readable from the back of a classroom."""

from __future__ import annotations

import copy

from engine.config import default_config
from engine.training import train
from ui.charts import RunCurves, comparison_specs, projector_spec

# Vega-Lite's own sizes, which the app's charts use: axis labels 10 px, titles 11 px.
DEFAULT_LABEL, DEFAULT_TITLE = 10, 11


def test_projector_charts_have_twice_the_text_and_thicker_lines() -> None:
    run = train(default_config(epochs=2))
    curves = [RunCurves("baseline", run.steps, run.epochs, config_key=run.config.key())]
    specs = comparison_specs(curves, 10)
    for spec in specs.values():
        before = copy.deepcopy(spec)
        big = projector_spec(spec)
        assert spec == before  # the shared, cached spec is left alone
        for part in ("axis", "legend"):
            assert big["config"][part]["labelFontSize"] >= 2 * DEFAULT_TITLE
            assert big["config"][part]["titleFontSize"] >= 2 * DEFAULT_TITLE
        widths = [layer["mark"]["strokeWidth"] for layer in _marks(big) if _is_line(layer)]
        assert widths and min(widths) >= 3
        labels = [m["mark"]["fontSize"] for m in _marks(big) if _kind(m) == "text"]
        assert all(size >= 2 * DEFAULT_TITLE for size in labels)


def _marks(node: object) -> list[dict]:
    found = []
    if isinstance(node, dict):
        if "mark" in node:
            found.append(node)
        for value in node.values():
            found += _marks(value)
    elif isinstance(node, list):
        for item in node:
            found += _marks(item)
    return found


def _kind(node: dict) -> str | None:
    mark = node["mark"]
    return mark.get("type") if isinstance(mark, dict) else mark


def _is_line(node: dict) -> bool:
    return _kind(node) == "line"
