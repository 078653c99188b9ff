"""The failure catalogue: each broken variant is one small, named change to the healthy loop.

A variant is data (what a learner reads: title, symptom, the healthy and broken code
lines, why, the fix, the diagnosis it should produce) plus behaviour: a change to the
run's config and/or a swap of one loop part (the step function, the evaluation, the loss,
the model, the data) for its buggy twin. Nothing about the curves is faked: the broken
part really runs.

To add a variant: write one `Variant(...)` in the module of its category (or a new module
added to CATEGORY_MODULES), then add its id to the expectations in tests/test_variants.py.
"""

from __future__ import annotations

from engine.config import RunConfig
from engine.variants import bookkeeping, data_bugs, loss_bugs, model_bugs, optimisation, practice
from engine.variants.variant import Variant, healthy_reference

CATEGORY_MODULES = (optimisation, data_bugs, loss_bugs, model_bugs, bookkeeping, practice)
HEADLINE = ("lr_too_high", "lr_too_low", "no_shuffle", "swapped_loss_args", "tiny_subset")

__all__ = [
    "UnknownVariantError",
    "Variant",
    "all_variants",
    "apply_variant",
    "get_variant",
    "healthy_reference",
]


def _catalogue() -> dict[str, Variant]:
    every = {variant.id: variant for module in CATEGORY_MODULES for variant in module.VARIANTS}
    return {**{key: every[key] for key in HEADLINE}, **every}


_CATALOGUE = _catalogue()


class UnknownVariantError(KeyError):
    """No variant has this id; the message lists the ones that exist."""

    def __str__(self) -> str:
        return str(self.args[0])


def all_variants() -> dict[str, Variant]:
    """Every variant by id, headline ones first, then by category."""
    return _CATALOGUE


def get_variant(variant_id: str) -> Variant:
    """The catalogue entry for an id; raises UnknownVariantError naming the valid ids."""
    if variant_id not in _CATALOGUE:
        raise UnknownVariantError(
            f"unknown variant {variant_id!r}: expected one of {', '.join(_CATALOGUE)}"
        )
    return _CATALOGUE[variant_id]


def apply_variant(baseline: RunConfig, variant_id: str) -> RunConfig:
    """The config of the broken run: the healthy reference with the bug's changes."""
    variant = get_variant(variant_id)
    reference = healthy_reference(baseline.replace(variant=None), variant)
    return reference.replace(variant=variant_id, **variant.configure(reference))
