"""Read a lesson file: TOML front matter, then eight Markdown sections in a fixed order.

A teacher edits lessons/content/lesson-M-N.md without touching code. The format:

    +++
    id = "1.1"
    module = 1
    title = "What is a training loop?"
    variants = ["no_zero_grad", "no_step"]
    baseline = { dataset = "digits" }
    +++
    ## Introduction ... ## ELI5 ... (## Installation) ## The math ... ## In depth ...
    ## Try it ...
    ## Exercises    (### Exercise 1: title / prompt / solution: PATH / expect: TEXT)
    ## Quick check  (### question / - [ ] option / - [x] correct / > Feedback: why)
    ## Summary      (a short paragraph)
    ## Key takeaways (3-6 "- " bullets)

`baseline` is the healthy run the lesson's demo trains its broken variants against: the
arguments of `engine.config.default_config` (dataset first, then any settings changed).

Installation is optional: the lesson where the course's code first needs a package says how
to install it. A line `{{source: engine.step.train_step}}` shows that function's current
source code; a line `{{program: lessons/programs/NAME.py}}` shows a complete program, which
the tests run.
"""

from __future__ import annotations

import importlib
import inspect
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import ConfigError, RunConfig, default_config

CONTENT = Path(__file__).parent / "content"
ROOT = Path(__file__).parent.parent
SECTIONS = (
    "Introduction",
    "ELI5",
    "The math",
    "In depth",
    "Try it",
    "Exercises",
    "Quick check",
    "Summary",
    "Key takeaways",
)
OPTIONAL = {"Installation": "The math"}  # an optional section -> the section it comes before
PROGRAM = re.compile(r"^\{\{program: ([\w./-]+\.py)\}\}$", flags=re.MULTILINE)


class LessonFormatError(ValueError):
    """A lesson file does not follow the format; the message names the file and the part."""


@dataclass(frozen=True)
class Exercise:
    title: str
    prompt: str
    solution: Path  # a runnable .py file, shown on the page as its own text
    expect: str  # a substring the solution prints when it runs correctly


@dataclass(frozen=True)
class Question:
    text: str
    options: tuple[str, ...]
    correct: int
    feedback: str


@dataclass(frozen=True)
class Lesson:
    id: str
    module: int
    title: str
    variants: tuple[str, ...]
    sections: dict[str, str]  # section heading -> Markdown body
    exercises: tuple[Exercise, ...]
    questions: tuple[Question, ...]
    summary: str
    takeaways: tuple[str, ...]
    programs: tuple[Path, ...] = ()  # complete programs the lesson shows; the tests run them
    baseline: RunConfig = field(default_factory=default_config)  # what the demo trains


def lesson_path(lesson_id: str) -> Path:
    return CONTENT / f"lesson-{lesson_id.replace('.', '-')}.md"


def has_content(lesson_id: str) -> bool:
    return lesson_path(lesson_id).is_file()


def load_lesson(path: Path) -> Lesson:
    """Parse one lesson file; raises LessonFormatError saying what is missing or malformed."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"\+\+\+\n(.*?)\n\+\+\+\n(.*)", text, flags=re.DOTALL)
    if not match:
        raise LessonFormatError(f"{path.name}: expected TOML front matter between +++ lines")
    try:
        meta = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as error:
        raise LessonFormatError(f"{path.name}: front matter is not valid TOML ({error})") from None
    body = include_programs(path.name, include_sources(match.group(2)))
    sections = _split_sections(path.name, body)
    summary, takeaways = sections["Summary"], _takeaways(path.name, sections["Key takeaways"])
    return Lesson(
        id=str(meta.get("id", "")),
        module=int(meta.get("module", 0)),
        title=str(meta.get("title", "")),
        variants=tuple(meta.get("variants", ())),
        sections=sections,
        exercises=_exercises(path.name, sections["Exercises"]),
        questions=_questions(path.name, sections["Quick check"]),
        summary=summary,
        takeaways=takeaways,
        programs=tuple(ROOT / found for found in PROGRAM.findall(match.group(2))),
        baseline=_baseline(path.name, meta.get("baseline")),
    )


def _baseline(name: str, settings: Any) -> RunConfig:
    """The front matter's `baseline` table as a validated run config."""
    if not isinstance(settings, dict) or "dataset" not in settings:
        raise LessonFormatError(
            f'{name}: front matter needs a baseline table, e.g. baseline = {{ dataset = "digits" }}'
        )
    values = dict(settings)
    if isinstance(values.get("hidden"), list):
        values["hidden"] = tuple(values["hidden"])
    try:
        return default_config(**values)
    except (ConfigError, TypeError) as error:
        raise LessonFormatError(f"{name}: baseline is not a valid run: {error}") from None


def include_sources(text: str) -> str:
    """Replace each `{{source: module.function}}` line with that function's current code.

    The lessons show the engine's own loop this way, so the code on the page is always
    the code that trains (no teaching copy that can drift).
    """

    def code_of(match: re.Match[str]) -> str:
        module_name, _, name = match.group(1).rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), name)
            source = inspect.getsource(target)
        except (ImportError, AttributeError, OSError, TypeError, ValueError) as error:
            raise LessonFormatError(
                f"cannot show the source of {match.group(1)}: {error}"
            ) from None
        return f"```python\n{source.rstrip()}\n```"

    return re.sub(r"^\{\{source: ([\w.]+)\}\}$", code_of, text, flags=re.MULTILINE)


def include_programs(name: str, text: str) -> str:
    """Replace each `{{program: PATH}}` line with that file's text as a Python code block."""

    def program(match: re.Match[str]) -> str:
        path = ROOT / match.group(1)
        if not path.is_file():
            raise LessonFormatError(f"{name}: program {match.group(1)} does not exist")
        return f"```python\n{path.read_text(encoding='utf-8').rstrip()}\n```"

    return PROGRAM.sub(program, text)


def _split_sections(name: str, body: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", body, flags=re.MULTILINE)
    found = {
        heading.strip(): text.strip()
        for heading, text in zip(parts[1::2], parts[2::2], strict=True)
    }
    expected = list(SECTIONS)
    for optional, before in OPTIONAL.items():
        if optional in found:
            expected.insert(expected.index(before), optional)
    order = [h for h in found if h in expected]
    missing = [h for h in SECTIONS if h not in found]
    if missing:
        raise LessonFormatError(f"{name}: missing section(s) {', '.join(missing)}")
    if order != expected:
        raise LessonFormatError(f"{name}: sections must come in the order {', '.join(expected)}")
    return {heading: found[heading] for heading in expected}


def _blocks(text: str) -> list[tuple[str, str]]:
    parts = re.split(r"^### (.+)$", text, flags=re.MULTILINE)
    return [
        (title.strip(), body.strip()) for title, body in zip(parts[1::2], parts[2::2], strict=True)
    ]


def _exercises(name: str, text: str) -> tuple[Exercise, ...]:
    exercises = []
    for title, body in _blocks(text):
        solution = re.search(r"^solution:\s*(\S+)\s*$", body, flags=re.MULTILINE)
        expect = re.search(r"^expect:\s*(.+?)\s*$", body, flags=re.MULTILINE)
        if not solution or not expect:
            raise LessonFormatError(
                f"{name}: exercise {title!r} needs 'solution:' and 'expect:' lines"
            )
        prompt = re.sub(r"^(solution|expect):.*$", "", body, flags=re.MULTILINE).strip()
        title = re.sub(r"^Exercise \d+:\s*", "", title)
        exercises.append(
            Exercise(title, prompt, ROOT / solution.group(1), expect.group(1).strip("`"))
        )
    return tuple(exercises)


def _questions(name: str, text: str) -> tuple[Question, ...]:
    questions = []
    for title, body in _blocks(text):
        options = re.findall(r"^- \[( |x)\] (.+)$", body, flags=re.MULTILINE)
        feedback = re.search(r"^> Feedback:\s*(.+)$", body, flags=re.MULTILINE | re.DOTALL)
        correct = [i for i, (mark, _) in enumerate(options) if mark == "x"]
        if len(correct) != 1 or not feedback:
            raise LessonFormatError(
                f"{name}: question {title!r} needs exactly one [x] option and a '> Feedback:' line"
            )
        questions.append(
            Question(title, tuple(o for _, o in options), correct[0], feedback.group(1).strip())
        )
    return tuple(questions)


def _takeaways(name: str, text: str) -> tuple[str, ...]:
    bullets = tuple(m.strip() for m in re.findall(r"^- (.+)$", text, flags=re.MULTILINE))
    rest = "\n".join(line for line in text.splitlines() if not line.startswith("- ")).strip()
    if rest:  # the paragraph belongs under its own heading
        raise LessonFormatError(f"{name}: Key takeaways holds only '- ' bullets; move the "
                                "paragraph to the Summary section")  # fmt: skip
    return bullets
