"""The classroom pages through AppTest: start a class, join it, bad codes and deck links."""

from __future__ import annotations

from engine.variants import get_variant
from lessons.decks import DECKS
from tests.test_app import open_page, shown, texts
from training_service.board import shared_board
from training_service.class_news import demo_runs
from training_service.classroom import HUNT, shared_classroom


def test_the_teacher_starts_a_class_from_a_deck_link() -> None:
    at = open_page("classroom", {"deck": "lr_too_high,not_a_bug,no_zero_grad"})
    assert not at.exception
    assert "Skipped 1 unknown demo name(s): 'not_a_bug'" in shown(at.warning[0].value)
    listed = shown(texts(at))
    assert "1. Learning rate far too high" in listed and "2. optimizer.zero" in listed
    at.button[0].click().run()
    assert not at.exception
    code = at.session_state["class_code"]
    assert f"Join code: `{code}`" in texts(at) and f"/join?code={code}" in texts(at)
    assert len(at.get("image")) == 1  # the QR code of the join link
    view = shared_classroom().view(code)
    assert view.deck_size == 2 and view.demo.variant == "lr_too_high"


def test_every_shipped_deck_is_offered() -> None:
    at = open_page("classroom")
    assert [o for o in at.selectbox[0].options] == [d.name for d in DECKS]


def test_a_student_joins_by_code_and_a_wrong_code_is_named() -> None:
    session = shared_classroom().start(DECKS[0].demos(), DECKS[0].name)
    wrong = open_page("join", {"code": "ZZZZZZ"})
    wrong.button[0].click().run()
    assert "No class has the code ZZZZZZ" in wrong.error[0].value
    at = open_page("join", {"code": session.code.lower()})
    at.text_input[1].input("Ada")
    at.button[0].click().run()
    assert not at.exception
    assert "Learning rate far too high" in texts(at)
    assert shared_classroom().view(session.code).joined == 1


def test_a_bug_hunt_class_names_the_mystery_only_at_the_reveal() -> None:
    teacher = open_page("classroom", {"deck": "bug-hunt", "game": "hunt"})
    assert not teacher.exception and teacher.radio[0].value == HUNT
    secret = get_variant("no_shuffle").title  # the deck's first mystery
    assert "5 mysteries." in texts(teacher)
    assert secret not in texts(teacher).replace(teacher.expander[0].markdown[0].value, "")
    next(b for b in teacher.button if b.label == "Start the class").click().run()
    code = teacher.session_state["class_code"]
    for config in demo_runs("no_shuffle").values():  # the class's one training, on the board
        assert shared_board().submit(config, "test").done.wait(timeout=300)
    student = open_page("join", {"code": code})
    student.text_input[1].input("Ada")
    student.button[0].click().run()
    assert not student.exception
    shown_text = texts(student) + " ".join(c.value for c in student.caption)
    assert "Mystery 1" in shown_text and "no_shuffle" not in shown_text and secret not in shown_text
    offered = student.radio[0].options
    assert len(offered) == 4 and secret in offered
    student.radio[0].set_value(secret).run()
    assert shared_classroom().view(code).counts == {secret: 1}
    teacher.run()
    assert "1 of 1" in [m.value for m in teacher.metric]
    next(b for b in teacher.button if b.label == "Reveal").click().run()
    assert not teacher.exception
    assert f"It was **{secret}**" in texts(teacher) and "**Scores:** Ada 1" in texts(teacher)
    student.run()
    assert f"It was **{secret}**" in texts(student)
    assert f"You said **{secret}**: right!" in [s.value for s in student.success]
