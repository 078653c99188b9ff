"""Classroom: the teacher picks a deck, the class joins by code, predicts, then sees it train."""

import contextlib

import streamlit as st

from lessons.decks import DECKS, deck_from_link
from training_service.classroom import HUNT, PREDICT, ClassroomError, ClassView
from ui.classroom import (
    answer_counts_chart,
    classroom,
    join_link,
    name_the_bug,
    projector_layout,
    qr_png,
    show_reveal,
    show_runs,
    wait_for_news,
)
from ui.plain_text import plain

st.title("Classroom")
code, token = st.session_state.get("class_code"), st.session_state.get("class_token")


def start_screen() -> None:
    st.markdown(
        "Project one demo at a time. Students join from their own devices with a code, each "
        "predicts what the broken run will do, you see the class's answers arrive, then "
        "**Reveal** trains the comparison once for everyone. In **Bug Hunt** everyone sees a "
        "mystery bug's curves at once and names the bug; Reveal tells who was right."
    )
    games = {PREDICT: "Predict the curve", HUNT: "Bug Hunt: name the bug"}
    linked = st.query_params.get("game")
    game = st.radio(
        "Game",
        list(games),
        index=list(games).index(linked) if linked in games else 0,
        format_func=games.__getitem__,
        horizontal=True,
        key="class_game",
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
    demos = chosen.demos(game)
    listing = "\n".join(f"{number}. {demo.title}" for number, demo in enumerate(demos, start=1))
    if game == HUNT:  # the projector shows this screen too: keep the answers folded
        st.markdown(f"{len(demos)} mysteries.")
        with st.expander("The answers (not for the projector)"):
            st.markdown(listing)
    else:
        st.markdown(listing)
    link = f"?deck={chosen.slug}" + (f"&game={HUNT}" if game == HUNT else "")
    st.caption(f"This deck as a link: `{link}`")
    if st.button("Start the class", type="primary", icon=":material/groups:"):
        session = classroom().start(demos, chosen.name, game)
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
    question, answers = st.columns(2)
    question.markdown(f"# {view.position}/{view.deck_size} · {view.shown_title}")
    question.markdown(f"### {view.demo.question}")
    question.metric("Answered", f"{view.answered} of {view.joined}")
    answers.vega_lite_chart(answer_counts_chart(view), width="stretch", height=320)
    trained = reveal(view) if view.shows_runs else False
    if view.revealed:
        with contextlib.suppress(ClassroomError):  # ended meanwhile: its news reruns the page
            view = classroom().view(code)  # the scores, settled just now
    if view.scores:
        st.markdown("**Scores:** " + " · ".join(f"{plain(n)} {s}" for n, s in view.scores))
    wait_for_news(code, view.version, training=view.shows_runs and not trained, live=True)


def reveal(view: ClassView) -> bool:
    """The demo's curves (and, once revealed, the answer, scored once); whether trained."""
    if view.game == HUNT:
        results = show_runs(view, "class_teacher", big=True)
        right = name_the_bug(view, results, big=True) if results and view.revealed else None
        trained = results is not None
    else:
        right = show_reveal(view, "class_teacher", big=True)
        trained = right is not None
    if right is not None:
        classroom().settle(code, token, {right})  # scored once, when the runs are done
    return trained


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
