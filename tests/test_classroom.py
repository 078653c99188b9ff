"""Class sessions: codes, joining, predictions counted, reveal scored, idle classes dropped."""

from __future__ import annotations

import time

import pytest

from engine.config import RunConfig
from engine.variants import get_variant
from lessons.decks import DECKS, HUNT_CHOICES, HUNTABLE
from training_service.class_news import class_news, demo_runs
from training_service.classroom import (
    CODE_ALPHABET,
    CODE_LENGTH,
    HUNT,
    PREDICT,
    Classroom,
    ClassroomError,
    Demo,
    normalise_code,
)

DECK = (Demo("lr_too_high", "Learning rate far too high"), Demo("no_zero_grad", "zero_grad"))
ANSWERS = ("explodes", "stays flat", "zig-zags")


def test_codes_are_short_unambiguous_and_distinct() -> None:
    room = Classroom()
    codes = {room.start(DECK, "deck").code for _ in range(300)}
    assert len(codes) == 300
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert not set("0O1IL2Z5S") & set(CODE_ALPHABET)
    assert normalise_code(" ab-cd 34 ") == "ABCD34"


def test_a_wrong_code_says_what_to_check() -> None:
    room = Classroom()
    room.start(DECK, "deck")
    with pytest.raises(ClassroomError, match="No class has the code NOPE42. Check the 6-letter"):
        room.join("nope-42")
    with pytest.raises(ClassroomError, match=r"code \(empty\)"):
        room.view("")


def test_predictions_are_counted_live_and_scored_once_at_the_reveal() -> None:
    room = Classroom()
    session = room.start(DECK, "Two demos")
    code, token = session.code, session.teacher_token
    ada, bo, cy = (room.join(code.lower(), name) for name in ("Ada", "  Bo  ", ""))
    assert room.view(code).joined == 3 and room.view(code).answered == 0
    room.predict(code, ada, "explodes", ANSWERS)
    room.predict(code, bo, "stays flat", ANSWERS)
    room.predict(code, bo, "explodes", ANSWERS)  # a change of mind replaces the guess
    view = room.view(code, bo)
    assert view.answered == 2 and view.counts == {"explodes": 2} and view.your_answer == "explodes"
    before = view.version
    room.settle(code, token, {"explodes"})  # not revealed yet: nothing is scored
    assert room.view(code, ada).your_score == 0
    room.reveal(code, token)
    room.settle(code, token, {"explodes"})
    room.settle(code, token, {"explodes"})  # each screen may settle: it counts once
    view = room.view(code, ada)
    assert view.revealed and view.version > before and view.your_score == 1
    assert view.scores == (("Ada", 1), ("Bo", 1))
    with pytest.raises(ClassroomError, match="already revealed"):
        room.predict(code, cy, "zig-zags", ANSWERS)
    room.move(code, token, +1)
    view = room.view(code, cy)
    assert view.position == 2 and not view.revealed and view.answered == 0
    room.move(code, token, +1)  # past the end: stays on the last demo
    assert room.view(code).position == 2
    room.move(code, token, -1)
    assert room.view(code).revealed  # back to a revealed demo: still revealed
    room.restart(code, token)
    assert not room.view(code).revealed and room.view(code).answered == 0


def test_only_the_teacher_changes_the_class_and_bad_answers_are_refused() -> None:
    room = Classroom()
    session = room.start(DECK, "deck")
    student = room.join(session.code, "Eve")
    with pytest.raises(ClassroomError, match="Only the teacher"):
        room.reveal(session.code, "guessed-token")
    with pytest.raises(ClassroomError, match="Unknown answer"):
        room.predict(session.code, student, "<b>x</b>", ANSWERS)
    with pytest.raises(ClassroomError, match="Join the class first"):
        room.predict(session.code, "not-a-student", "explodes", ANSWERS)
    assert (
        room.join(session.code, "x" * 500)
        and len(max(room.view(session.code).scores or [("", 0)])[0]) <= 24
    )


def test_an_idle_class_is_dropped_with_its_data() -> None:
    room = Classroom(idle_seconds=0.2)
    session = room.start(DECK, "deck")
    room.join(session.code, "Ada")
    assert room.active_classes() == 1
    time.sleep(0.3)
    assert room.active_classes() == 0
    with pytest.raises(ClassroomError, match="No class has the code"):
        room.view(session.code)


def test_ending_a_class_drops_it() -> None:
    room = Classroom()
    session = room.start(DECK, "deck")
    room.end(session.code, session.teacher_token)
    with pytest.raises(ClassroomError):
        room.join(session.code)


class StubBoard:
    """progress_of as the training board answers it, for configs named by variant."""

    def __init__(self, progress: dict[str | None, float | None]) -> None:
        self.progress = progress

    def progress_of(self, config: RunConfig) -> float | None:
        return self.progress.get(config.variant)


def test_a_screens_poll_says_what_changed_without_running_a_page() -> None:
    room = Classroom()
    session = room.start(DECK, "deck")
    idle = StubBoard({})
    status, news = class_news(room, idle, session.code)
    assert status == 200 and news == {"version": session.version, "training": None}
    before = news["version"]
    student = room.join(session.code, "Ada")
    assert class_news(room, idle, session.code)[1]["version"] != before
    room.predict(session.code, student, "explodes", ANSWERS)
    room.reveal(session.code, session.teacher_token)
    # The baseline finished (kept by the board), the broken run is half-way.
    half = StubBoard({None: 1.0, "lr_too_high": 0.5})
    training = class_news(room, half, session.code)[1]["training"]
    assert training == {"progress": 0.75, "done": False}
    done = StubBoard({None: 1.0, "lr_too_high": 1.0})
    assert class_news(room, done, session.code)[1]["training"]["done"] is True
    status, news = class_news(room, done, "QQQQQQ")
    assert status == 404 and news["version"] is None and "No class has the code" in news["problem"]


def test_demo_runs_pair_the_bug_with_the_failure_labs_default_baseline() -> None:
    runs = demo_runs("lr_too_high")
    assert list(runs) == ["baseline", "lr_too_high"]
    assert runs["baseline"].variant is None and runs["lr_too_high"].lr > runs["baseline"].lr


def test_a_bug_hunt_offers_the_right_bug_among_three_others_the_same_for_every_class() -> None:
    deck = next(d for d in DECKS if d.slug == "bug-hunt")
    demos = deck.demos(HUNT)
    assert demos == deck.demos(HUNT)  # every class playing this deck sees the same options
    for demo in demos:
        assert demo.variant in HUNTABLE and demo.question == "Which bug is it?"
        assert len(set(demo.choices)) == HUNT_CHOICES and demo.title in demo.choices
        assert set(demo.choices) <= {get_variant(v).title for v in HUNTABLE}
    # The right answer is not always in the same place.
    assert len({demo.choices.index(demo.title) for demo in demos}) > 1
    assert all(demo.choices == () for demo in deck.demos())  # the predict game: curve answers


def test_a_class_plays_one_of_two_games() -> None:
    room = Classroom()
    hunt = room.start(DECK, "deck", HUNT)
    assert room.view(hunt.code).shows_runs and not room.view(hunt.code).revealed
    predict = room.start(DECK, "deck")
    assert room.view(predict.code).game == PREDICT and not room.view(predict.code).shows_runs
    with pytest.raises(ClassroomError, match="Unknown game 'chess'"):
        room.start(DECK, "deck", "chess")
