"""The classroom pages through AppTest: start a class, join it, bad codes and deck links."""

from __future__ import annotations

from lessons.decks import DECKS
from tests.test_app import open_page, shown, texts
from training_service.classroom import shared_classroom


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
