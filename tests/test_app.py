"""Streamlit AppTest: every page renders, the labs work, share links restore a comparison."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.training_log import EXAMPLE_LOG_CSV
from lessons.curriculum import CURRICULUM
from lessons.lesson_file import has_content
from ui.demos import DEMOS

TIMEOUT = 180  # the first test also starts the training workers
APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT)


def open_page(page: str, query: dict[str, str | list[str]] | None = None) -> AppTest:
    """Load the app, then go to a lab page (st.navigation needs one run first)."""
    at = app().run()
    for name, value in (query or {}).items():
        at.query_params[name] = value
    return at.switch_page(f"app_pages/{page}.py").run()


def shown(markdown: str) -> str:
    """What a learner reads: Markdown with its escapes resolved, invisible joiners dropped."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.mark.parametrize(
    "page", ["home", "failure_lab", "curve_doctor", "bug_hunt", "overfit_one_batch", "playground"]
)
def test_every_lab_page_renders_without_error(page: str) -> None:
    at = open_page(page)
    assert not at.exception
    expected = "Training Loop Lab" if page == "home" else page.replace("_", " ").lower()
    assert at.title[0].value.lower() == expected.lower()


@pytest.mark.parametrize("lesson_id", [lesson.id for lesson in CURRICULUM])
def test_every_lesson_page_renders(lesson_id: str) -> None:
    script = f"from ui.lesson import render_lesson\nrender_lesson({lesson_id!r})\n"
    at = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value.startswith(lesson_id)


def test_failure_lab_trains_and_diagnoses_both_runs() -> None:
    at = open_page("failure_lab")
    at.multiselect(key="lab_variants").set_value(["tiny_subset"]).run()
    at.button(key="lab_train").click().run()
    assert not at.exception and not at.error
    page = texts(at)
    assert "**baseline** →" in page and "`healthy`" in page
    assert "**tiny_subset** →" in page and "`overfitting`" in page
    assert "What went wrong: Training on a tiny subset" in [s.value for s in at.subheader]
    assert len(at.get("download_button")) >= 3  # CSV, SVG, scripts


def test_share_link_restores_and_runs_the_comparison() -> None:
    at = open_page(
        "failure_lab",
        {"variant": ["lr_too_high", "no_shuffle"], "epochs": "10", "seed": "7", "run": "1"},
    )
    assert not at.exception and not at.warning
    assert at.multiselect(key="lab_variants").value == ["lr_too_high", "no_shuffle"]
    assert at.slider(key="lab_epochs").value == 10
    page = texts(at)
    assert "**lr_too_high** →" in page and "`diverged`" in page
    assert "**no_shuffle** →" in page


def test_bad_share_link_values_are_refused_with_a_message() -> None:
    at = open_page(
        "failure_lab",
        {"variant": ["lr_too_hihg"], "epochs": "5000", "seed": "banana", "dataset": "imagenet"},
    )
    assert not at.exception
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert "Unknown variant" in warnings and "'lr_too_hihg'" in warnings
    assert "epochs=5000 is outside 1-60; using 60" in warnings
    assert "seed='banana'" in warnings and "'imagenet' is not available" in warnings
    assert at.slider(key="lab_epochs").value == 60


HOSTILE_LINK = {
    "variant": ["[your teacher says click](https://evil.example/x)"],
    "optimizer": "![](https://evil.example/pixel.png)",
    "dataset": ":red[**TEACHER NOTE**: answers at www.evil.example] $x^2$ <b>hi</b>",
    "size": "A" * 100_000,
    **{f"extra{number}": "1" for number in range(200)},
}


def unescaped(markdown: str, pattern: str) -> bool:
    """Whether `pattern` appears in the Markdown with none of its characters escaped."""
    return re.search(pattern, re.sub(r"\\.", "", markdown)) is not None


def test_share_link_text_is_shown_as_text_and_shortened() -> None:
    at = open_page("failure_lab", HOSTILE_LINK)
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 5  # unknown parameters, variant, dataset, optimizer, size
    for markdown in warnings:
        for live in (r"\]\(", r"!\[", r"https?:", r"www\.", r":red\[", r"\$", r"<b>", r"\*\*"):
            assert not unescaped(markdown, live), (live, markdown)
        assert len(markdown) < 1_000
    said = " ".join(shown(markdown) for markdown in warnings)
    assert "'[your teacher says click](https://evil.e… (49 characters)'" in said  # literally
    assert "Ignored 200 unknown link parameter(s)" in said
    assert "A" * 40 + "… (100,000 characters)" in said


def test_curve_doctor_shows_a_log_s_own_words_as_text() -> None:
    at = open_page("curve_doctor")
    column = "[loss](https://evil.example) ![](https://evil.example/a.png)"
    rows = "\n".join(f"{n},{1 / n:.3f}" for n in range(1, 8))
    at.text_area(key="doctor_text").set_value(f"epoch,{column}\n{rows}\n").run()
    assert not at.exception
    message = at.error[0].value  # no train loss column: the columns it found are quoted
    assert column in shown(message)
    assert not unescaped(message, r"\]\(") and not unescaped(message, r"https?:")


def test_curve_doctor_diagnoses_and_explains_bad_files() -> None:
    at = open_page("curve_doctor")
    assert "Diagnosis: `healthy`" in [s.value for s in at.subheader]
    at.text_area(key="doctor_text").set_value(
        "epoch,train_loss,val_loss\n1,0.90,0.63\n2,0.50,0.60\n3,0.30,0.66\n4,0.18,0.82\n"
    ).run()
    assert "Diagnosis: `overfitting`" in [s.value for s in at.subheader]
    at.text_area(key="doctor_text").set_value("epoch,acc\n1,0.5\n2,0.7\n").run()
    assert not at.exception
    assert "train_loss" in shown(at.error[0].value)
    assert any("epoch,train_loss" in c.value for c in at.code)  # an example of a valid file


def test_overfit_one_batch_says_plainly_whether_the_loop_learns() -> None:
    at = open_page("overfit_one_batch")
    at.button(key="probe_run").click().run()
    assert at.success and at.success[0].value.startswith("Yes")
    at.selectbox(key="probe_bug").set_value("no_step").run()
    at.button(key="probe_run").click().run()
    assert at.error and at.error[0].value.startswith("No")


def test_bug_hunt_scores_an_answer() -> None:
    at = open_page("bug_hunt")
    assert not at.exception
    secret = at.session_state["hunt_secret"]
    at.selectbox(key="hunt_guess").set_value(secret).run()
    at.button[-1].click().run()
    assert at.success and "Right" in at.success[0].value
    assert at.session_state["hunt_score"] == {"right": 1, "tried": 1}


def test_playground_trains_one_run_and_rejects_bad_widths() -> None:
    at = open_page("playground")
    at.text_input[0].set_value("12,x")
    at.button[0].click().run()
    assert at.error and "whole numbers" in at.error[0].value
    at.text_input[0].set_value("32")
    at.slider[1].set_value(5)
    at.button[0].click().run()
    assert not at.exception and "**run** →" in texts(at)


WRITTEN_LESSONS = [lesson.id for lesson in CURRICULUM if has_content(lesson.id)]


@pytest.mark.parametrize("lesson_id", WRITTEN_LESSONS)
def test_lesson_demo_trains_its_broken_variant(lesson_id: str) -> None:
    script = f"from ui.lesson import render_lesson\nrender_lesson({lesson_id!r})\n"
    at = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    from lessons.lesson_file import SECTIONS, lesson_path, load_lesson

    headers = [h.value for h in at.header]
    assert headers == list(load_lesson(lesson_path(lesson_id)).sections)
    assert [h for h in headers if h != "Installation"] == list(SECTIONS)
    key = "lesson_" + lesson_id.replace(".", "_")
    chosen = at.multiselect(key=f"{key}_variants").value
    assert chosen
    # predict first: Train waits for a guess per broken curve (or an explicit skip)
    assert at.button(key=f"{key}_train").disabled
    for variant_id in chosen:
        at.segmented_control(key=f"{key}_guess_{variant_id}").set_value("stays flat")
    at.run()
    assert not at.button(key=f"{key}_train").disabled
    at.button(key=f"{key}_train").click().run()
    assert not at.exception  # error boxes may be content here (a crash shown as a result)
    assert not any(e.value.startswith("Training could not run") for e in at.error)
    assert f"**{chosen[0]}** →" in texts(at) and "**baseline** →" in texts(at)
    verdicts = " ".join(m.value for m in [*at.success, *at.info])
    assert "you said **stays flat**" in verdicts  # the guess beside the outcome
    if lesson_id in DEMOS:  # the lesson's own visual, only now that the guesses are in
        assert not any("once you have made your predictions" in c.value for c in at.caption)


def test_a_lesson_demo_can_be_trained_without_a_guess_by_skipping() -> None:
    script = "from ui.lesson import render_lesson\nrender_lesson('1.1')\n"
    at = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    assert at.button(key="lesson_1_1_train").disabled
    assert any("Train unlocks when each curve has a guess" in c.value for c in at.caption)
    assert any("visual appears here once you have made" in c.value for c in at.caption)
    at.checkbox(key="lesson_1_1_skip_prediction").check().run()
    assert not at.button(key="lesson_1_1_train").disabled


def test_quiz_gives_feedback_on_an_answer() -> None:
    from lessons.lesson_file import lesson_path, load_lesson

    question = load_lesson(lesson_path("1.1")).questions[0]
    at = AppTest.from_string(
        "from ui.lesson import render_lesson\nrender_lesson('1.1')\n", default_timeout=TIMEOUT
    ).run()
    at.radio(key="quiz_1.1_1").set_value(question.correct).run()
    assert at.success and question.feedback in at.success[0].value
    wrong = (question.correct + 1) % len(question.options)
    at.radio(key="quiz_1.1_1").set_value(wrong).run()
    assert any("Not quite" in e.value for e in at.error)


def test_lab_settings_survive_a_visit_to_another_page() -> None:
    at = open_page("failure_lab")
    at.slider(key="lab_epochs").set_value(7)
    at.multiselect(key="lab_variants").set_value(["no_step"])
    at.number_input(key="lab_seed").set_value(11).run()
    at.segmented_control(key="lab_guess_no_step").set_value("stays flat").run()
    at = at.switch_page("app_pages/home.py").run()
    at = at.switch_page("app_pages/failure_lab.py").run()
    assert not at.exception
    assert at.slider(key="lab_epochs").value == 7
    assert at.multiselect(key="lab_variants").value == ["no_step"]
    assert at.number_input(key="lab_seed").value == 11
    assert at.segmented_control(key="lab_guess_no_step").value == "stays flat"
    shared = next(code.value for code in at.code if "failure-lab?" in code.value)
    assert "variant=no_step" in shared and "epochs=7" in shared and "seed=11" in shared


@pytest.mark.parametrize("pasted", ["", "  \n\t \n"])
def test_curve_doctor_says_what_to_paste_when_the_box_is_empty(pasted: str) -> None:
    at = open_page("curve_doctor")
    at.text_area(key="doctor_text").set_value(pasted).run()
    assert not at.exception and not at.error
    said = " ".join(shown(message.value) for message in at.info)
    assert "Paste a training log" in said and "example" in said
    assert "train_loss" in said and "val_loss" in said  # the columns it reads
    assert not at.subheader  # no diagnosis of nothing
    at.button(key="doctor_use_example").click().run()
    assert at.text_area(key="doctor_text").value == EXAMPLE_LOG_CSV
    assert "Diagnosis: `healthy`" in [s.value for s in at.subheader]


UPLOADS_REFUSED = {
    "binary": ("run.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe", "binary"),
    "no-loss": ("metrics.csv", b"epoch,acc\n1,0.5\n2,0.7\n", "No train loss column"),
    "empty": ("empty.csv", b"", "The log is empty"),
    "header-only": ("head.csv", b"epoch,train_loss\n", "no data rows"),
    "too-large": ("huge.csv", b"epoch,train_loss\n" + b"1,0.5\n" * 2_000_000, "larger than"),
}


@pytest.mark.parametrize(
    ("name", "data", "reason"), UPLOADS_REFUSED.values(), ids=UPLOADS_REFUSED.keys()
)
def test_curve_doctor_says_why_an_upload_is_refused(name: str, data: bytes, reason: str) -> None:
    at = open_page("curve_doctor")
    at.radio(key="doctor_source").set_value("Upload files").run()
    at.file_uploader(key="doctor_upload").upload(name, data, "text/csv").run()
    assert not at.exception
    assert len(at.error) == 1
    said = shown(at.error[0].value)
    assert reason in said and name in said and "Expected" in said
    assert "\n" not in said  # one line: the example is shown below as code
    assert not at.subheader


def test_curve_doctor_reads_an_upload_whatever_its_file_name() -> None:
    # Keras' CSVLogger writes "training.log"; a wrong suffix must not stop a good log.
    at = open_page("curve_doctor")
    at.radio(key="doctor_source").set_value("Upload files").run()
    log = b"epoch,loss,val_loss\n1,0.90,0.63\n2,0.50,0.60\n3,0.30,0.66\n4,0.18,0.82\n"
    at.file_uploader(key="doctor_upload").upload("training.log", log, "text/plain").run()
    assert not at.exception and not at.error
    assert "Diagnosis: `overfitting`" in [s.value for s in at.subheader]


def test_curve_doctor_shows_the_columns_it_read_and_takes_the_learners_pick() -> None:
    at = open_page("curve_doctor")
    # `loss` rises from its best at epoch 3; `holdout_loss` keeps falling with the train loss
    text = (
        "epoch,train_loss,val_loss,holdout_loss\n1,0.90,0.63,0.95\n2,0.50,0.60,0.55\n"
        "3,0.30,0.66,0.35\n4,0.18,0.82,0.25\n5,0.12,0.95,0.18\n"
    )
    at.text_area(key="doctor_text").set_value(text).run()
    assert "Diagnosis: `overfitting`" in [s.value for s in at.subheader]
    read = shown(at.caption[0].value)
    assert read.startswith("Read as a CSV log: train loss = train_loss, val loss = val_loss")
    val_pick = next(box for box in at.selectbox if box.label == "Val loss")
    assert val_pick.value == "val_loss" and "holdout_loss" in val_pick.options
    val_pick.set_value("holdout_loss").run()
    assert not at.exception and not at.error
    assert "val loss = holdout_loss" in shown(at.caption[0].value)
    assert "Diagnosis: `overfitting`" not in [s.value for s in at.subheader]
    val_pick = next(box for box in at.selectbox if box.label == "Val loss")
    val_pick.set_value("(none)").run()
    assert not at.exception and "val loss followed" not in " ".join(m.value for m in at.markdown)


def _by_label(widgets: object, label: str) -> object:
    return next(w for w in widgets if w.label == label)


def test_playground_reaches_the_module_3_options_and_names_a_bad_pair() -> None:
    at = open_page("playground")
    _by_label(at.number_input, "Accumulate micro-batches (K)").set_value(4)
    _by_label(at.selectbox, "Autocast precision").set_value("bfloat16")
    at.button[0].click().run()
    assert at.error and "precision = 'bfloat16' is not allowed" in at.error[0].value
    _by_label(at.selectbox, "Autocast precision").set_value("float32")
    _by_label(at.number_input, "Early-stopping patience (0 = off)").set_value(2)
    at.slider[1].set_value(4)
    at.button[0].click().run()
    assert not at.exception and "**run** →" in texts(at)
    base, config, results = at.session_state["play_results"]
    assert (config.accumulate, config.early_stopping) == (4, 2)


def test_playground_shows_each_optimizers_and_schedules_own_options() -> None:
    at = open_page("playground")
    labels = {w.label for w in at.number_input}
    assert {"Beta 1", "Beta 2", "Epsilon", "Warm-up steps"} <= labels  # adam, constant
    _by_label(at.selectbox, "Optimizer").set_value("sgd").run()
    assert "Beta 1" not in {w.label for w in at.number_input}
    _by_label(at.checkbox, "Nesterov momentum").check()
    at.button[0].click().run()  # momentum is still 0
    assert not at.exception and at.error and "nesterov = True" in at.error[0].value
    _by_label(at.checkbox, "Nesterov momentum").uncheck()
    _by_label(at.selectbox, "LR schedule").set_value("onecycle").run()
    assert "Warm-up steps" not in {w.label for w in at.number_input}
    _by_label(at.selectbox, "Initialisation").set_value("kaiming_normal")
    at.text_input[0].set_value("32,32,32,32")
    _by_label(at.checkbox, "Residual connections").check()
    at.slider[1].set_value(3)
    at.button[0].click().run()
    assert not at.exception and not at.error and "**run** →" in texts(at)
    base, config, results = at.session_state["play_results"]
    assert (config.schedule, config.init, config.residual) == ("onecycle", "kaiming_normal", True)
    assert config.hidden == (32, 32, 32, 32) and config.betas == (0.9, 0.999)
