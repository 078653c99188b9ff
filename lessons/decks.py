"""Demo decks for the classroom: broken variants in the order a lesson would show them.

A deck is also a link: `/classroom?deck=five-ways` opens a shipped deck, and
`/classroom?deck=lr_too_high,no_zero_grad` a teacher's own list of catalogue variants.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from engine.variants import all_variants, get_variant
from training_service.classroom import HUNT, Demo

MAX_DECK = 20
HUNT_CHOICES = 4  # bug names offered per mystery: the right one and three others
# Bugs whose curves give them away; the invisible ones (memory, leaky val) need other tools.
HUNTABLE = (
    "lr_too_high",
    "lr_too_low",
    "no_shuffle",
    "swapped_loss_args_one_hot",
    "tiny_subset",
    "no_zero_grad",
    "softmax_before_ce",
    "labels_misaligned",
    "no_step",
    "zero_init",
    "vanishing_gradients",
    "unregistered_layers",
    "exploding_gradients",
)


@dataclass(frozen=True)
class Deck:
    slug: str  # the `deck=` value of its link
    name: str
    variants: tuple[str, ...]

    def demos(self, game: str = "predict") -> tuple[Demo, ...]:
        """The class's demos: named bugs to predict, or (HUNT) mysteries to name."""
        if game != HUNT:
            return tuple(Demo(v, get_variant(v).title) for v in self.variants)
        return tuple(
            Demo(v, get_variant(v).title, "Which bug is it?", hunt_choices(v, f"{self.slug}:{i}"))
            for i, v in enumerate(self.variants)
        )


def hunt_choices(variant: str, salt: str) -> tuple[str, ...]:
    """The right bug's title among three other huntable bugs, in an order that gives
    nothing away; the same for every class that plays this deck (seeded by `salt`)."""
    pick = random.Random(salt)
    others = pick.sample([v for v in HUNTABLE if v != variant], HUNT_CHOICES - 1)
    names = [get_variant(v).title for v in (variant, *others)]
    pick.shuffle(names)
    return tuple(names)


DECKS: tuple[Deck, ...] = (
    Deck(
        "five-ways",
        "Five ways to break a training loop",
        ("lr_too_high", "lr_too_low", "no_zero_grad", "no_shuffle", "tiny_subset"),
    ),
    Deck(
        "bug-hunt",
        "Bug Hunt · five mysteries",
        ("no_shuffle", "softmax_before_ce", "zero_init", "labels_misaligned", "tiny_subset"),
    ),
    Deck(
        "module-1",
        "Module 1 · The loop's four steps",
        ("no_step", "zero_grad_after_backward", "no_zero_grad", "lr_too_high", "lr_too_low"),
    ),
    Deck(
        "module-2",
        "Module 2 · Inside the network",
        ("identity_activation", "dead_relu", "stray_detach", "softmax_before_ce", "tiny_subset"),
    ),
    Deck(
        "module-3",
        "Module 3 · Optimizers, schedules and depth",
        (
            "momentum_with_sgd_lr",
            "schedule_per_batch",
            "zero_init",
            "vanishing_gradients",
            "exploding_gradients",
        ),
    ),
)


def deck_from_link(value: str | None) -> tuple[Deck, list[str]]:
    """The deck a `deck=` link value names, and notices about what was ignored.

    A shipped deck's slug, or catalogue variant ids separated by commas; unknown ids are
    skipped and named, and an empty or unknown value falls back to the first deck.
    """
    if not value:
        return DECKS[0], []
    for deck in DECKS:
        if value == deck.slug:
            return deck, []
    known, unknown = [], []
    for part in value.split(",")[: MAX_DECK * 2]:
        name = part.strip()
        if name in all_variants() and name not in known:
            known.append(name)
        elif name:
            unknown.append(name)
    notices = []
    if unknown:
        notices.append(
            f"Skipped {len(unknown)} unknown demo name(s): "
            + ", ".join(repr(name[:40]) for name in unknown[:5])
            + ". Use a deck name or variant ids from the Failure Lab."
        )
    if not known:
        notices.append(f"No demo left in the link's deck; showing {DECKS[0].name!r}.")
        return DECKS[0], notices
    if len(known) > MAX_DECK:
        notices.append(f"A deck holds at most {MAX_DECK} demos; kept the first {MAX_DECK}.")
    return Deck(",".join(known[:MAX_DECK]), "Your deck", tuple(known[:MAX_DECK])), notices
