"""Turn any lesson file into its page; a lesson not written yet gets a 'coming soon' page."""

from __future__ import annotations

import streamlit as st

from lessons.curriculum import MODULES, outline
from lessons.lesson_file import (
    ROOT,
    Lesson,
    Question,
    has_content,
    lesson_path,
    load_lesson,
)
from ui.comparison import comparison_section
from ui.demos import DEMOS


def render_lesson(lesson_id: str) -> None:
    """The page for one lesson id such as "3.6"."""
    if not has_content(lesson_id):
        coming_soon(lesson_id)
        return
    lesson = load_lesson(lesson_path(lesson_id))
    st.caption(MODULES[lesson.module])
    st.title(f"{lesson.id} {lesson.title}")
    for heading in ("Introduction", "ELI5", "Installation", "The math", "In depth"):
        if heading in lesson.sections:
            st.header(heading)
            st.markdown(lesson.sections[heading])
    st.header("Try it")
    st.markdown(lesson.sections["Try it"])
    try_it(lesson)
    st.header("Exercises")
    exercises(lesson)
    st.header("Quick check")
    for number, question in enumerate(lesson.questions, start=1):
        quiz_question(lesson.id, number, question)
    st.header("Summary")
    st.markdown(lesson.summary)
    st.header("Key takeaways")
    st.markdown("\n".join(f"- {point}" for point in lesson.takeaways))


def try_it(lesson: Lesson) -> None:
    """Predict, then the healthy-vs-broken comparison; the lesson's own visual (which shows
    the bugs' effects too) only once the learner has predicted or chosen to skip."""
    key = "lesson_" + lesson.id.replace(".", "_")
    with st.container(border=True):
        chosen = st.multiselect(
            "Broken variants for this lesson",
            list(lesson.variants),
            default=list(lesson.variants[:1]),
            key=f"{key}_variants",
            max_selections=4,
        )
        revealed = comparison_section(lesson.baseline, chosen, key, predict_first=True)
    demo = DEMOS.get(lesson.id)
    if demo is None:
        return
    if revealed:
        demo()
    else:
        st.caption("The lesson's own visual appears here once you have made your predictions.")


def exercises(lesson: Lesson) -> None:
    for number, exercise in enumerate(lesson.exercises, start=1):
        st.subheader(f"Exercise {number}: {exercise.title}")
        st.markdown(exercise.prompt)
        with st.expander("Show the solution"):
            st.code(exercise.solution.read_text(encoding="utf-8"), language="python")
            st.caption(f"Run it: `python {exercise.solution.relative_to(ROOT)}`")


def quiz_question(lesson_id: str, number: int, question: Question) -> None:
    key = f"quiz_{lesson_id}_{number}"
    with st.container(border=True):
        choice = st.radio(
            f"**{number}. {question.text}**",
            range(len(question.options)),
            format_func=lambda i: question.options[i],
            index=None,
            key=key,
        )
        if choice is None:
            return
        if choice == question.correct:
            st.success(f"Correct. {question.feedback}")
        else:
            st.error(f"Not quite. {question.feedback}")


def coming_soon(lesson_id: str) -> None:
    """A clear placeholder with the lesson's outline, never an error."""
    lesson = outline(lesson_id)
    st.caption(MODULES[lesson.module])
    st.title(f"{lesson.id} {lesson.title}")
    st.info("This lesson is being written. Here is what it will cover:")
    st.markdown(f"> {lesson.covers}")
    st.markdown(
        "Meanwhile, the [Failure Lab](/failure-lab) lets you train any broken variant "
        "next to a healthy baseline."
    )
