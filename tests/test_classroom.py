"""Class sessions: codes, joining, predictions counted, reveal scored, idle classes dropped."""

from __future__ import annotations

import time

import pytest

from training_service.classroom import (
    CODE_ALPHABET,
    CODE_LENGTH,
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
