"""What one broken variant is: the text a learner reads and the change that really runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from engine.config import RunConfig
from engine.source import changed_lines
from engine.step import (
    EvaluateFn,
    ScheduleFn,
    StepFn,
    TrainingParts,
    advance_schedule,
    evaluate,
    train_step,
)


@dataclass(frozen=True)
class Variant:
    """One deliberate bug, described for a learner and implemented for real.

    A bug in the step, the evaluation or the schedule's tick is given as the broken
    function itself (`broken_step`, `broken_evaluate`, `broken_schedule`): its healthy and
    broken lines are then read from the two functions' source, never written by hand.
    Other bugs give their lines as text (`healthy_code`, `broken_code`) and change the
    config or swap another part.
    """

    id: str
    title: str
    category: str
    lessons: tuple[str, ...]
    symptom: str  # one line: what the curves show
    why: str
    fix: str
    expected_label: str  # the diagnosis label this bug should produce on digits
    healthy_code: str = ""  # the correct lines, as a learner would write them
    broken_code: str = ""  # the same lines with the bug
    # Settings the bug changes, as a function of the baseline (e.g. lr -> 1.0).
    configure: Callable[[RunConfig], Mapping[str, Any]] = lambda base: {}
    # Settings the bug needs in order to exist at all (dropout for a forgotten
    # model.eval()): applied to the healthy reference too, so the only difference
    # between the two runs is the bug itself.
    # Or a function of the baseline, for a setting that must fit it (resume halfway).
    requires: Mapping[str, Any] | Callable[[RunConfig], Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    broken_step: StepFn | None = None  # replaces engine.step.train_step
    broken_evaluate: EvaluateFn | None = None  # replaces engine.step.evaluate
    broken_schedule: ScheduleFn | None = None  # replaces engine.step.advance_schedule
    break_loop: Callable[[TrainingParts], TrainingParts] | None = None  # any other swap
    # Lines that depend on the baseline (an lr bug shows the baseline's own optimizer).
    code_for: Callable[[RunConfig], tuple[str, str]] | None = None

    def __post_init__(self) -> None:
        # The shown lines of a step or evaluation bug come from the code that runs.
        for healthy, broken in (
            (train_step, self.broken_step),
            (evaluate, self.broken_evaluate),
            (advance_schedule, self.broken_schedule),
        ):
            if broken is not None:
                healthy_code, broken_code = changed_lines(healthy, broken)
                object.__setattr__(self, "healthy_code", healthy_code)
                object.__setattr__(self, "broken_code", broken_code)

    def put_in_place(self, parts: TrainingParts) -> TrainingParts:
        """The parts with this bug's broken step, evaluation or other part swapped in."""
        if self.broken_step is not None:
            parts = replace(parts, train_step=self.broken_step)
        if self.broken_evaluate is not None:
            parts = replace(parts, evaluate=self.broken_evaluate)
        if self.broken_schedule is not None:
            parts = replace(parts, advance_schedule=self.broken_schedule)
        if self.break_loop is not None:
            parts = self.break_loop(parts)
        return parts

    def code_lines(self, baseline: RunConfig) -> tuple[str, str]:
        """The healthy and broken lines as they read for this baseline."""
        if self.code_for is not None:
            return self.code_for(baseline)
        return self.healthy_code, self.broken_code

    def summary(self) -> dict[str, str]:
        """The `variants --json` object: id, title, category, symptom, expected_label."""
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "symptom": self.symptom,
            "expected_label": self.expected_label,
        }


def healthy_reference(baseline: RunConfig, variant: Variant) -> RunConfig:
    """The healthy run a variant is compared with: the baseline plus what the bug needs."""
    needs = variant.requires(baseline) if callable(variant.requires) else variant.requires
    return baseline.replace(**needs) if needs else baseline
