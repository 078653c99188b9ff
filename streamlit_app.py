"""Training Loop Lab: navigation over the home page, the lessons and the labs."""

import streamlit as st

from lessons.curriculum import CURRICULUM, MODULES
from ui.board import training_board
from ui.lesson import render_lesson
from ui.settings import keep_lab_settings

st.set_page_config(page_title="Training Loop Lab", page_icon="🔁", layout="wide")


def lesson_page(lesson_id: str, title: str, url_path: str) -> st.Page:
    def page() -> None:
        render_lesson(lesson_id)

    page.__name__ = url_path.replace("-", "_")
    return st.Page(page, title=f"{lesson_id} {title}", url_path=url_path)


sections: dict[str, list[st.Page]] = {
    "Home": [st.Page("app_pages/home.py", title="Home", icon="🏠", default=True)],
}
for module, heading in MODULES.items():
    sections[heading.split(" · ")[0]] = [
        lesson_page(lesson.id, lesson.title, lesson.url_path)
        for lesson in CURRICULUM
        if lesson.module == module
    ]
sections["Labs"] = [
    st.Page("app_pages/failure_lab.py", title="Failure Lab", icon="🧪", url_path="failure-lab"),
    st.Page("app_pages/curve_doctor.py", title="Curve Doctor", icon="🩺", url_path="curve-doctor"),
    st.Page("app_pages/bug_hunt.py", title="Bug Hunt", icon="🔎", url_path="bug-hunt"),
    st.Page(
        "app_pages/overfit_one_batch.py",
        title="Overfit one batch",
        icon="🎯",
        url_path="overfit-one-batch",
    ),
    st.Page("app_pages/playground.py", title="Playground", icon="🛝", url_path="playground"),
]
sections["Class"] = [
    st.Page(
        "app_pages/classroom.py", title="Classroom (teacher)", icon="🧑‍🏫", url_path="classroom"
    ),
    st.Page("app_pages/join.py", title="Join a class", icon="🙋", url_path="join"),
]
navigation = st.navigation(sections)
training_board()  # start the engine (and pay its one-off costs) before the first click
keep_lab_settings(navigation.url_path)  # a lab's settings outlive a visit to another page
navigation.run()
