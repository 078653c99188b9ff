"""Join a class: the code from the teacher's screen, a prediction, then the reveal."""

import streamlit as st

from training_service.class_news import news_served
from training_service.classroom import CODE_LENGTH, HUNT, ClassroomError, ClassView, normalise_code
from ui.classroom import choices_of, classroom, name_the_bug, show_reveal, show_runs, wait_for_news
from ui.plain_text import plain, shorten

st.title("Join a class")
typed = st.query_params.get("code", "")
joined_code = st.session_state.get("class_joined_code")
student = st.session_state.get("class_student")


def join_form() -> None:
    with st.form("join"):
        code = st.text_input(
            "Class code",
            value=normalise_code(typed)[: CODE_LENGTH + 4],
            max_chars=12,
            help=f"The {CODE_LENGTH} letters on your teacher's screen",
        )
        nickname = st.text_input("Nickname (optional)", max_chars=24)
        if st.form_submit_button("Join", type="primary", icon=":material/login:"):
            try:
                student_id = classroom().join(code, nickname)
            except ClassroomError as error:
                st.error(plain(str(error)))
                return
            st.session_state["class_joined_code"] = normalise_code(code)
            st.session_state["class_student"] = student_id
            st.query_params["code"] = normalise_code(code)
            st.rerun()


def predict(code: str, position: int, choices: tuple[str, ...]) -> None:
    answer = st.session_state.get(f"class_guess_{code}_{position}")
    if answer:
        try:
            classroom().predict(code, student, answer, choices)
        except ClassroomError as error:
            st.session_state["class_problem"] = str(error)


def ask(code: str, view: ClassView) -> None:
    """The answers to pick from, until the reveal."""
    choices = choices_of(view)
    key = f"class_guess_{code}_{view.position}"
    callback = {"on_change": predict, "args": (code, view.position, choices)}
    if view.game == HUNT:  # bug names are long: one per line
        st.radio("Your answer", choices, index=None, key=key, **callback)
    else:
        st.segmented_control("Your prediction", choices, key=key, **callback)
    mine = f"Your answer: **{view.your_answer}**. " if view.your_answer else ""
    st.caption(f"{mine}{view.answered} of {view.joined} have answered. Wait for the reveal.")


def student_screen(code: str) -> None:
    try:
        view = classroom().view(code, student)
    except ClassroomError as error:
        st.error(plain(str(error)))
        return
    problem = st.session_state.pop("class_problem", None)
    if problem:
        st.warning(plain(problem))
    st.caption(f"{plain(shorten(view.deck_name, 60))} · demo {view.position} of {view.deck_size}")
    hunt = view.game == HUNT
    st.markdown(f"## {view.shown_title}")
    st.markdown(f"**{view.demo.question}**")
    key = f"class_student_{view.position}"
    # The live curves are on the projector: a student's screen reruns once, when trained.
    live = not news_served()
    results = show_runs(view, key, live=live) if hunt else None
    if not view.revealed:
        ask(code, view)
        wait_for_news(code, view.version, training=hunt and results is None)
        return
    if hunt:
        right = name_the_bug(view, results) if results else None
    else:
        right = show_reveal(view, key, live=live)
    wait_for_news(code, view.version, training=right is None)
    if right is None:
        return
    if view.your_answer == right:
        st.success(f"You said **{view.your_answer}**: right!")
    elif view.your_answer:
        verb = "it was" if hunt else "it"
        st.info(f"You said **{view.your_answer}**; {verb} **{right}**.")
    else:
        st.info("You did not answer this one.")
    st.caption(f"Your score: {view.your_score}")


if joined_code and student:
    student_screen(joined_code)
else:
    join_form()
