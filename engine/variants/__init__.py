"""The failure catalogue: each broken variant is one small, named change to the healthy loop.

A variant is data (what a learner reads: title, symptom, the healthy and broken code
lines, why, the fix, the diagnosis it should produce) plus behaviour: a change to the
run's config and/or a swap of one loop part (the step function, the loss, the model,
the data, the evaluation) for its buggy twin. Nothing about the curves is faked: the
broken part really runs.

To add a variant: write one `Variant(...)` in the module of its category (or a new one
listed in CATEGORY_MODULES), then add its id to the expectations in tests/test_variants.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engine.config import RunConfig

if TYPE_CHECKING:
    from engine.loop import TrainingParts


def _unchanged(parts: TrainingParts) -> TrainingParts:
    return parts


@dataclass(frozen=True)
class Variant:
    """One deliberate bug, described for a learner and implemented for real."""

    id: str
    title: str
    category: str
    lessons: tuple[str, ...]
    symptom: str  # one line: what the curves show
    healthy_code: str  # the correct lines, as a learner would write them
    broken_code: str  # the same lines with the bug
    why: str
    fix: str
    expected_label: str  # the diagnosis label this bug should produce on digits
    # Settings the bug changes, as a function of the baseline (e.g. lr -> 1.0).
    configure: Callable[[RunConfig], Mapping[str, Any]] = lambda base: {}
    # Settings the bug needs in order to exist at all (dropout for a forgotten
    # model.eval()): applied to the healthy reference too, so the only difference
    # between the two runs is the bug itself.
    requires: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    break_loop: Callable[[TrainingParts], TrainingParts] = _unchanged

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
    return baseline.replace(**variant.requires) if variant.requires else baseline


def apply_variant(baseline: RunConfig, variant_id: str) -> RunConfig:
    """The config of the broken run: the healthy reference with the bug's changes."""
    variant = get_variant(variant_id)
    reference = healthy_reference(baseline.replace(variant=None), variant)
    return reference.replace(variant=variant_id, **variant.configure(reference))


class UnknownVariantError(KeyError):
    """No variant has this id; the message lists the ones that exist."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_variant(variant_id: str) -> Variant:
    """The catalogue entry for an id; raises UnknownVariantError naming the valid ids."""
    catalogue = all_variants()
    if variant_id not in catalogue:
        raise UnknownVariantError(
            f"unknown variant {variant_id!r}: expected one of {', '.join(catalogue)}"
        )
    return catalogue[variant_id]


_CATALOGUE: dict[str, Variant] = {}


def all_variants() -> dict[str, Variant]:
    """Every variant by id, headline ones first, then by category."""
    if not _CATALOGUE:
        from engine.variants import bookkeeping, data_bugs, loss_bugs, model_bugs, optimisation

        for module in (optimisation, data_bugs, loss_bugs, model_bugs, bookkeeping):
            for variant in module.VARIANTS:
                _CATALOGUE[variant.id] = variant
        headline = ("lr_too_high", "lr_too_low", "no_shuffle", "swapped_loss_args", "tiny_subset")
        ordered = {key: _CATALOGUE[key] for key in headline}
        ordered.update(_CATALOGUE)
        _CATALOGUE.clear()
        _CATALOGUE.update(ordered)
    return _CATALOGUE
