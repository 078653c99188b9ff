"""Lesson content: every lesson complete and well-formed; every solution file runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.variants import all_variants
from lessons.curriculum import CURRICULUM
from lessons.lesson_file import (
    CONTENT,
    SECTIONS,
    LessonFormatError,
    has_content,
    lesson_path,
    load_lesson,
)
from tests.lesson_programs import check_stands_alone
from tests.warm_python import run_script

ROOT = Path(__file__).resolve().parent.parent
WRITTEN = [lesson.id for lesson in CURRICULUM if has_content(lesson.id)]
REQUIRED = {
    "1.1",
    "1.2",
    "1.3",
    "1.4",
    "1.5",
    "1.6",
    "2.1",
    "2.2",
    "2.3",
    "2.4",
    "2.5",
    "2.6",
    "2.7",
    "3.6",
}
SOLUTIONS = sorted(
    {
        exercise.solution
        for lesson_id in WRITTEN
        for exercise in load_lesson(lesson_path(lesson_id)).exercises
    }
)


def test_module_one_and_the_model_lesson_are_written() -> None:
    assert set(WRITTEN) >= REQUIRED
    assert sorted(p.name for p in CONTENT.glob("*.md")) == sorted(
        lesson_path(i).name for i in WRITTEN
    )  # no stray files the app would not show


@pytest.mark.parametrize("lesson_id", WRITTEN)
def test_lesson_is_complete(lesson_id: str) -> None:
    lesson = load_lesson(lesson_path(lesson_id))
    assert lesson.id == lesson_id and lesson.title and lesson.module == int(lesson_id[0])
    for heading in SECTIONS:
        assert lesson.sections[heading].strip(), f"{heading} is empty"
    assert "$" in lesson.sections["The math"]
    assert 1 <= len(lesson.exercises) <= 4
    assert 2 <= len(lesson.questions) <= 4
    assert 3 <= len(lesson.takeaways) <= 6 and lesson.summary
    for question in lesson.questions:
        assert 3 <= len(question.options) <= 4 and question.feedback
        assert 0 <= question.correct < len(question.options)
    for exercise in lesson.exercises:
        assert exercise.solution.is_file() and exercise.solution.suffix == ".py"
        assert exercise.prompt and exercise.expect
    assert 1 <= len(lesson.variants) <= 6
    assert set(lesson.variants) <= set(all_variants())


def test_line_lessons_train_their_broken_variants_on_the_line() -> None:
    # 1.2 and 1.4 teach gradient descent on a line: their demo is that line, not digits.
    for lesson_id in ("1.2", "1.4"):
        baseline = load_lesson(lesson_path(lesson_id)).baseline
        assert (baseline.dataset, baseline.model, baseline.optimizer) == ("line", "linear", "sgd")
    assert load_lesson(lesson_path("2.1")).baseline.dataset == "spirals"
    assert load_lesson(lesson_path("2.7")).baseline.dataset == "wave"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("", "needs a baseline table"),
        ('baseline = "digits"', "needs a baseline table"),
        ('baseline = { dataset = "imagenet" }', "dataset = 'imagenet' is not allowed"),
        ('baseline = { dataset = "digits", lr = 50000.0 }', "lr = 50000.0 is not allowed"),
        ('baseline = { dataset = "digits", colour = "red" }', "baseline is not a valid run"),
    ],
)
def test_a_bad_baseline_names_the_problem(tmp_path: Path, table: str, expected: str) -> None:
    text = lesson_path("1.1").read_text(encoding="utf-8")
    broken = re.sub(r"^baseline = .*$", table, text, count=1, flags=re.MULTILINE)
    path = tmp_path / "lesson-1-1.md"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(LessonFormatError, match=re.escape(expected)):
        load_lesson(path)


@pytest.mark.parametrize("lesson_id", WRITTEN)
def test_every_display_formula_is_followed_by_its_symbols(lesson_id: str) -> None:
    math = load_lesson(lesson_path(lesson_id)).sections["The math"]
    after_blocks = re.findall(r"\$\$\n.*?\n\$\$\n+(.*)", math)
    assert after_blocks, "no display formula"
    for first_line in after_blocks:
        assert first_line.startswith("- "), f"formula not followed by symbol bullets: {first_line}"


@pytest.mark.parametrize("lesson_id", WRITTEN)
def test_eli5_has_no_formulas_or_jargon(lesson_id: str) -> None:
    eli5 = load_lesson(lesson_path(lesson_id)).sections["ELI5"]
    assert "$" not in eli5 and "```" not in eli5


def test_a_malformed_lesson_names_what_is_wrong(tmp_path: Path) -> None:
    broken = tmp_path / "lesson-9-9.md"
    broken.write_text('+++\nid = "9.9"\nmodule = 9\ntitle = "x"\n+++\n## Introduction\nhi\n')
    with pytest.raises(LessonFormatError, match="missing section"):
        load_lesson(broken)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_solution_runs_and_prints_what_the_lesson_expects(solution: Path) -> None:
    expected = [
        exercise.expect
        for lesson_id in WRITTEN
        for exercise in load_lesson(lesson_path(lesson_id)).exercises
        if exercise.solution == solution
    ]
    finished = run_script(solution, ROOT, timeout_s=240, extra_path=(str(ROOT),))
    assert finished.returncode == 0, finished.stderr[-2000:]
    for text in expected:
        assert text in finished.stdout


@pytest.mark.parametrize("lesson_id", WRITTEN)
def test_variants_list_the_lessons_that_use_them(lesson_id: str) -> None:
    # a learner reading a variant in the Failure Lab is pointed at every lesson that shows it
    for variant_id in load_lesson(lesson_path(lesson_id)).variants:
        assert lesson_id in all_variants()[variant_id].lessons, variant_id


@pytest.mark.parametrize("lesson_id", WRITTEN)
def test_lesson_shows_a_complete_program(lesson_id: str) -> None:
    lesson = load_lesson(lesson_path(lesson_id))
    assert lesson.programs, "In depth needs a {{program: lessons/programs/NAME.py}} line"
    for program in lesson.programs:
        check_stands_alone(program)  # typed, cuda -> mps -> cpu, main() guarded, no app
        assert program.read_text(encoding="utf-8").rstrip() in lesson.sections["In depth"]
