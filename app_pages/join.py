"""Join a class: the code from the teacher's screen, a prediction, then the reveal."""

import streamlit as st

from training_service.class_news import news_served
from training_service.classroom import CODE_LENGTH, ClassroomError, normalise_code
from ui.classroom import ANSWERS, classroom, show_reveal, wait_for_news
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


def predict(code: str, position: int) -> None:
    answer = st.session_state.get(f"class_guess_{code}_{position}")
    if answer:
        try:
            classroom().predict(code, student, answer, ANSWERS)
        except ClassroomError as error:
            st.session_state["class_problem"] = str(error)


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
    st.markdown(f"## {view.demo.title}")
    st.markdown(f"**{view.demo.question}**")
    if not view.revealed:
        st.segmented_control(
            "Your prediction",
            ANSWERS,
            key=f"class_guess_{code}_{view.position}",
            on_change=predict,
            args=(code, view.position),
        )
        mine = f"Your answer: **{view.your_answer}**. " if view.your_answer else ""
        st.caption(f"{mine}{view.answered} of {view.joined} have answered. Wait for the reveal.")
        wait_for_news(code, view.version, training=False)
        return
    # The live curves are on the projector: a student's screen reruns once, when trained.
    right = show_reveal(view, f"class_student_{view.position}", live=not news_served())
    wait_for_news(code, view.version, training=right is None)
    if right is None:
        return
    if view.your_answer == right:
        st.success(f"You said **{view.your_answer}**: right!")
    elif view.your_answer:
        st.info(f"You said **{view.your_answer}**; it **{right}**.")
    else:
        st.info("You did not answer this one.")
    st.caption(f"Your score: {view.your_score}")


if joined_code and student:
    student_screen(joined_code)
else:
    join_form()
