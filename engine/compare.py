"""Paired runs: a healthy baseline and broken variants on the same seed, data and weights."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import RunConfig
from engine.diagnosis import Diagnosis, diagnose
from engine.records import Record
from engine.results import RunResult, finite_or_none
from engine.training import train
from engine.variants import apply_variant, get_variant, healthy_reference

TrainFn = Callable[..., RunResult]


def diagnose_run(result: RunResult) -> Diagnosis:
    """The Curve Doctor's reading of an engine run."""
    return diagnose(result.training_log())


def run_summary(result: RunResult) -> dict[str, Any]:
    """Final and best validation numbers, divergence step and time of one run."""
    val_acc = [e.val_acc for e in result.epochs if e.val_acc is not None]
    val_loss = [e.val_loss for e in result.epochs if math.isfinite(e.val_loss)]
    last = result.epochs[-1] if result.epochs else None
    return {
        "status": result.status,
        "final_val_acc": finite_or_none(last.val_acc) if last else None,
        "best_val_acc": max(val_acc) if val_acc else None,
        "final_val_loss": finite_or_none(last.val_loss) if last else None,
        "best_val_loss": min(val_loss) if val_loss else None,
        "final_train_loss": finite_or_none(last.train_loss) if last else None,
        "diverged_at_step": result.diverged_at_step,
        "seconds": round(result.seconds, 3),
    }


@dataclass
class PairedRun:
    """One broken variant's run, with the healthy run it is measured against."""

    variant_id: str
    result: RunResult
    reference: RunResult  # the baseline, or the baseline plus what the bug needs
    diagnosis: Diagnosis

    def difference(self) -> dict[str, float | None]:
        """Variant minus reference for the headline numbers."""
        mine, theirs = run_summary(self.result), run_summary(self.reference)
        out: dict[str, float | None] = {}
        for key in ("final_val_acc", "best_val_acc", "final_val_loss", "best_val_loss"):
            a, b = mine[key], theirs[key]
            out[key] = None if a is None or b is None else a - b
        return out


@dataclass
class Comparison:
    """The baseline, its diagnosis, and every variant paired with its healthy reference."""

    baseline: RunResult
    baseline_diagnosis: Diagnosis
    variants: list[PairedRun] = field(default_factory=list)

    def runs(self) -> list[RunResult]:
        """Every distinct run: baseline, then references that differ, then variants."""
        seen: dict[str, RunResult] = {self.baseline.config.key(): self.baseline}
        for pair in self.variants:
            seen.setdefault(pair.reference.config.key(), pair.reference)
        return [*seen.values(), *(pair.result for pair in self.variants)]


def compare(
    baseline: RunConfig,
    variant_ids: Sequence[str],
    data_dir: str | Path | None = None,
    on_event: Callable[[str, Record], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    train_fn: TrainFn = train,
) -> Comparison:
    """Train the baseline and each variant with the same seed, split and initial weights.

    on_event(run_label, record) streams every step and epoch of every run. train_fn lets
    a caller put a cache in front of training: runs are deterministic, so equal configs
    give equal results. Raises UnknownVariantError before training anything if an id
    is not in the catalogue.
    """
    baseline = baseline.replace(variant=None)
    variants = [get_variant(v) for v in variant_ids]  # fail fast on a bad id

    def run(config: RunConfig) -> RunResult:
        label = config.variant or ("baseline" if config == baseline else "reference")
        listener = (lambda record: on_event(label, record)) if on_event else None
        return train_fn(config, data_dir=data_dir, on_event=listener, should_stop=should_stop)

    base_result = run(baseline)
    results: dict[str, RunResult] = {baseline.key(): base_result}
    comparison = Comparison(base_result, diagnose_run(base_result))
    for variant in variants:
        reference_config = healthy_reference(baseline, variant)
        if reference_config.key() not in results:
            results[reference_config.key()] = run(reference_config)
        result = run(apply_variant(baseline, variant.id))
        comparison.variants.append(
            PairedRun(variant.id, result, results[reference_config.key()], diagnose_run(result))
        )
    return comparison


def runs_to_train(baseline: RunConfig, variant_ids: Sequence[str]) -> dict[str, RunConfig]:
    """Baseline, then each variant, preceded by its fixed twin when the bug needs a setting
    the baseline lacks (dropout for a forgotten model.eval(), a deep net for clipping)."""
    runs: dict[str, RunConfig] = {"baseline": baseline}
    for variant_id in variant_ids:
        variant = get_variant(variant_id)
        reference = healthy_reference(baseline, variant)
        if reference != baseline:  # the bug needs a setting: compare with its fixed twin
            runs[f"{variant_id} fixed"] = reference
        runs[variant_id] = apply_variant(baseline, variant_id)
    return runs


def run_json(result: RunResult, diagnosis: Diagnosis) -> dict[str, Any]:
    """A RUN object of the CLI: the run --json object plus variant, diagnosis and error."""
    out = result.to_dict()
    out["diagnosis"] = diagnosis.to_dict()
    out["summary"] = run_summary(result)
    return out


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """`compare --json`: {"baseline": RUN, "variants": [RUN, ...]}."""
    variants = []
    for pair in comparison.variants:
        item = run_json(pair.result, pair.diagnosis)
        item["expected_label"] = get_variant(pair.variant_id).expected_label
        item["difference"] = pair.difference()
        if pair.reference is not comparison.baseline:
            item["healthy_reference"] = run_json(pair.reference, diagnose_run(pair.reference))
        variants.append(item)
    return {
        "baseline": run_json(comparison.baseline, comparison.baseline_diagnosis),
        "variants": variants,
    }
