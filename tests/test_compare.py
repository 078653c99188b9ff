from __future__ import annotations

import json

import pytest

from engine.compare import compare, comparison_json, run_summary
from engine.config import default_config
from engine.variants import UnknownVariantError


def test_compare_pairs_runs_and_streams_labelled_events() -> None:
    labels: set[str] = set()
    result = compare(
        default_config(epochs=2),
        ["lr_too_high", "dropout_in_eval"],
        on_event=lambda label, record: labels.add(label),
    )
    assert labels == {"baseline", "lr_too_high", "reference", "dropout_in_eval"}
    high, dropout = result.variants
    assert high.reference is result.baseline
    assert dropout.reference.config.dropout == 0.5 and dropout.reference.config.variant is None
    assert len(result.runs()) == 4
    assert high.difference()["final_val_acc"] < -0.3


def test_compare_is_deterministic_and_json_ready() -> None:
    a = comparison_json(compare(default_config(epochs=2), ["no_zero_grad"]))
    b = comparison_json(compare(default_config(epochs=2), ["no_zero_grad"]))
    for payload in (a, b):
        for run in (payload["baseline"], *payload["variants"]):
            run.pop("seconds")
            run.pop("train_seconds")
            run["summary"].pop("seconds")
            for epoch in run["epochs"]:
                epoch.pop("seconds")
                epoch.pop("memory_mb")
    assert a == b
    json.dumps(a, allow_nan=False)
    assert a["variants"][0]["variant"] == "no_zero_grad" and a["baseline"]["variant"] is None


def test_unknown_variant_fails_before_any_training() -> None:
    trained: list[object] = []
    with pytest.raises(UnknownVariantError):
        compare(default_config(), ["nope"], train_fn=lambda *a, **k: trained.append(a))
    assert trained == []


def test_summary_of_a_crashed_run() -> None:
    crashed = compare(default_config(epochs=1), ["swapped_loss_args"]).variants[0]
    summary = run_summary(crashed.result)
    assert summary["status"] == "crashed" and summary["final_val_acc"] is None
    assert crashed.diagnosis.label == "crashed"
