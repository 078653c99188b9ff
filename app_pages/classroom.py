"""Classroom: the teacher picks a deck, the class joins by code, predicts, then sees it train."""

import streamlit as st

from lessons.decks import DECKS, deck_from_link
from training_service.classroom import ClassroomError
from ui.classroom import (
    answer_counts_chart,
    classroom,
    join_link,
    projector_layout,
    qr_png,
    show_reveal,
    wait_for_news,
)
from ui.plain_text import plain

st.title("Classroom")
code, token = st.session_state.get("class_code"), st.session_state.get("class_token")


def start_screen() -> None:
    st.markdown(
        "Project one demo at a time. Students join from their own devices with a code, each "
        "predicts what the broken run will do, you see the class's answers arrive, then "
        "**Reveal** trains the comparison once for everyone."
    )
    deck, notices = deck_from_link(st.query_params.get("deck"))
    for notice in notices:
        st.warning(plain(notice))
    choices = {d.slug: d for d in DECKS} | {deck.slug: deck}
    slug = st.selectbox(
        "Deck",
        list(choices),
        index=list(choices).index(deck.slug),
        format_func=lambda s: choices[s].name,
        key="class_deck",
    )
    chosen = choices[slug]
    for number, demo in enumerate(chosen.demos(), start=1):
        st.markdown(f"{number}. {demo.title}")
    st.caption(f"This deck as a link: `?deck={chosen.slug}`")
    if st.button("Start the class", type="primary", icon=":material/groups:"):
        session = classroom().start(chosen.demos(), chosen.name)
        st.session_state["class_code"] = session.code
        st.session_state["class_token"] = session.teacher_token
        st.rerun()


def control(action: str) -> None:
    room = classroom()
    try:
        if action == "previous":
            room.move(code, token, -1)
        elif action == "next":
            room.move(code, token, +1)
        elif action == "reveal":
            room.reveal(code, token)
        elif action == "restart":
            room.restart(code, token)
        elif action == "end":
            forget_class()
            room.end(code, token)
    except ClassroomError as error:
        st.session_state["class_problem"] = str(error)


def forget_class() -> None:
    for key in ("class_code", "class_token"):
        st.session_state.pop(key, None)


def join_panel() -> None:
    link = join_link(code)
    left, right = st.columns([4, 1])
    left.markdown(f"## Join code: `{code}`")
    left.markdown(f"Open **{link}** on your phone or laptop, or scan the code.")
    right.image(qr_png(link), caption="Scan to join", width=160)


def live_answers() -> None:
    try:
        view = classroom().view(code)
    except ClassroomError as error:  # ended after two idle hours, or the server restarted
        st.error(plain(str(error)))
        st.button("Start a new class", on_click=forget_class, type="primary")
        return
    right = None
    question, answers = st.columns(2)
    question.markdown(f"# {view.position}/{view.deck_size} · {view.demo.title}")
    question.markdown(f"### {view.demo.question}")
    question.metric("Answered", f"{view.answered} of {view.joined}")
    answers.vega_lite_chart(answer_counts_chart(view), width="stretch", height=320)
    if view.revealed:
        right = show_reveal(view, "class_teacher", big=True)
        if right is not None:
            classroom().settle(code, token, {right})  # scored once, when the runs are done
            view = classroom().view(code)
        if view.scores:
            st.markdown("**Scores:** " + " · ".join(f"{plain(n)} {s}" for n, s in view.scores))
    wait_for_news(code, view.version, training=view.revealed and right is None, live=True)


if not code:
    start_screen()
    st.stop()
projector_layout()
problem = st.session_state.pop("class_problem", None)
if problem:
    st.error(plain(problem))
join_panel()
buttons = st.columns(5)
buttons[0].button(
    "Previous", on_click=control, args=("previous",), shortcut="left", icon=":material/arrow_back:"
)
buttons[1].button(
    "Reveal",
    on_click=control,
    args=("reveal",),
    shortcut="v",
    type="primary",
    icon=":material/visibility:",
)
buttons[2].button(
    "Next", on_click=control, args=("next",), shortcut="right", icon=":material/arrow_forward:"
)
buttons[3].button("Ask again", on_click=control, args=("restart",), icon=":material/restart_alt:")
buttons[4].button("End class", on_click=control, args=("end",), icon=":material/logout:")
st.caption("Keys: ← previous · → next · V reveal")
live_answers()
