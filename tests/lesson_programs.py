"""The lessons' complete programs, for the tests: are they standalone, and what do they print.

A lesson's program is what a learner copies out and runs on their own machine, so it must
not lean on the app, and the numbers the lesson quotes come from a CPU run of it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest

from lessons.lesson_file import lesson_path
from tests.warm_python import ScriptRun

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = {"engine", "lessons", "ui", "training_service"}


def check_stands_alone(path: Path) -> set[str]:
    """Assert the program is typed, picks cuda then mps then cpu, runs main() under a
    `__main__` guard and imports nothing of the app; returns the packages it imports."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    for function in functions:
        arguments = function.args.posonlyargs + function.args.args + function.args.kwonlyargs
        if arguments and arguments[0].arg in ("self", "cls"):
            arguments = arguments[1:]  # a method's own object needs no annotation
        arguments += [a for a in (function.args.vararg, function.args.kwarg) if a]
        assert function.returns is not None, f"{path.name}: {function.name} has no return type"
        for argument in arguments:
            assert argument.annotation is not None, f"{path.name}: {function.name}({argument.arg})"
    by_name = {function.name: function for function in functions}
    assert "pick_device" in by_name and "main" in by_name, path.name
    pick = ast.get_source_segment(source, by_name["pick_device"]) or ""
    assert pick.index('"cuda"') < pick.index('"mps"') < pick.index('"cpu"'), path.name
    guard = tree.body[-1]
    assert isinstance(guard, ast.If) and ast.unparse(guard.test) == "__name__ == '__main__'"
    assert ast.unparse(guard.body[0]) == "main()", path.name
    imported = {
        ((node.module or "") if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not imported & PROJECT_PACKAGES, f"{path.name} imports {imported & PROJECT_PACKAGES}"
    return imported


class BackgroundPrograms:
    """Programs started together, each in its own process, collected when a test asks.

    Each runs from the repository root on the CPU (the lessons quote CPU numbers) without
    the app on its path (a standalone program must not need it), in a child of the warm
    interpreter (tests/warm_python.py) that has torch imported already.
    """

    def __init__(self, programs: Mapping[str, Path], timeout_s: float = 60) -> None:
        self.timeout_s = timeout_s
        self.started = time.monotonic()
        self.running = {key: ScriptRun(path, ROOT) for key, path in programs.items()}

    def output(self, key: str) -> str:
        """What the program printed; fails if it ran over the time limit or exited non-zero."""
        left = self.timeout_s - (time.monotonic() - self.started)
        try:
            finished = self.running[key].wait(max(left, 1))
        except TimeoutError:
            pytest.fail(f"the program of lesson {key} ran over {self.timeout_s:g} s")
        assert finished.returncode == 0, f"the program of lesson {key}: {finished.stderr[-2000:]}"
        return finished.stdout

    def stop(self) -> None:
        """Kill whatever is still running (a test that failed before collecting it)."""
        for run in self.running.values():
            run.kill()


def load_module(path: Path, name: str | None = None) -> ModuleType:
    """Import a program or solution from its file; its `__main__` guard keeps main() from
    running. Registered in sys.modules first: a dataclass looks its module up while the
    file runs."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def lesson_text(lesson_id: str) -> str:
    """The lesson file as written, programs not expanded."""
    return lesson_path(lesson_id).read_text(encoding="utf-8")


def flat_lesson_text(lesson_id: str) -> str:
    """The lesson file with every run of white space (line breaks too) as one space."""
    return " ".join(lesson_text(lesson_id).split())


def assert_says(text: str, *quotes: str) -> None:
    """Fail, naming the quote, when the lesson text no longer contains one of the quotes."""
    for quote in quotes:
        assert quote in text, f"the lesson no longer says {quote!r}"


def lesson_section(lesson_id: str, heading: str) -> str:
    """One section of the lesson as written, up to the next `## ` heading."""
    pattern = rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)"
    match = re.search(pattern, lesson_text(lesson_id), re.M | re.S)
    assert match, f"lesson {lesson_id} has no section {heading}"
    return match.group(1)
