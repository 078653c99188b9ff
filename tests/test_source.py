"""One text of the loop: what the app shows and exports is the source of what runs."""

from __future__ import annotations

import importlib.util
import inspect
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from streamlit.testing.v1 import AppTest

from engine import step
from engine.config import default_config
from engine.export import export_script
from engine.source import changed_lines, definition_of, source_of, with_body_of
from engine.training import build_parts
from engine.variants import all_variants, apply_variant, get_variant
from lessons.lesson_file import include_sources

ROOT = Path(__file__).resolve().parent.parent
CODE_BUGS = sorted(v.id for v in all_variants().values() if v.broken_step or v.broken_evaluate)


def running_parts(variant_id: str | None) -> step.TrainingParts:
    config = default_config(epochs=1)
    return build_parts(config if variant_id is None else apply_variant(config, variant_id))


def test_the_exported_script_holds_the_lesson_code_as_written() -> None:
    script = export_script(default_config())
    parts = running_parts(None)
    for code in (parts.train_step, parts.evaluate, step.summarise, step.Split, step.Evaluation):
        assert source_of(code) in script
    assert definition_of(step, "LossFn") in script


@pytest.mark.parametrize("variant_id", CODE_BUGS)
def test_a_broken_step_is_exported_with_the_body_that_runs(variant_id: str) -> None:
    parts = running_parts(variant_id)
    if get_variant(variant_id).broken_step:
        healthy, running = step.train_step, parts.train_step
    else:
        healthy, running = step.evaluate, parts.evaluate
    assert running is not healthy
    expected = with_body_of(healthy, running).replace("# BUG:", f"# BUG ({variant_id}):")
    script = export_script(default_config(), variant_id).splitlines()
    # The script also notes each removed line; the function's own lines come out unchanged.
    notes = f"# BUG ({variant_id}): removed"
    assert expected in "\n".join(line for line in script if notes not in line)


@pytest.mark.parametrize("variant_id", CODE_BUGS)
def test_a_broken_function_differs_from_the_healthy_one_in_the_shown_lines_only(
    variant_id: str,
) -> None:
    variant = get_variant(variant_id)
    broken = variant.broken_step or variant.broken_evaluate
    healthy = step.train_step if variant.broken_step else step.evaluate
    assert inspect.signature(broken) == inspect.signature(healthy)
    for line in variant.healthy_code.splitlines():
        assert line.strip() in source_of(healthy)
    for line in variant.broken_code.splitlines():
        assert line.strip() in source_of(broken)
    assert "# BUG" in variant.broken_code


def test_clipping_is_the_line_the_exploding_gradients_diff_shows() -> None:
    lines = [line.split("#")[0].strip() for line in source_of(step.train_step).splitlines()]
    clip = "nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)"
    assert lines.index("loss.backward()") < lines.index(clip) < lines.index("optimizer.step()")
    assert clip in get_variant("exploding_gradients").healthy_code
    assert clip not in get_variant("exploding_gradients").broken_code


def write_module(folder: Path, name: str, text: str) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_changing_a_function_changes_every_text_taken_from_it(tmp_path: Path) -> None:
    before = write_module(
        tmp_path,
        "before",
        '''
        def walk(steps: list[int]) -> int:
            """Add up the steps."""
            total = 0
            for size in steps:
                total += size
            return total
        ''',
    )
    after = write_module(
        tmp_path,
        "after",
        '''
        def walk(steps: list[int]) -> int:
            """Add up the steps."""
            total = 0
            for size in steps:
                total -= size  # BUG: subtracts
            return total
        ''',
    )
    assert changed_lines(before.walk, after.walk) == (
        "total = 0\nfor size in steps:\n    total += size\nreturn total",
        "total = 0\nfor size in steps:\n    total -= size  # BUG: subtracts\nreturn total",
    )
    moved = with_body_of(before.walk, after.walk)
    assert moved.startswith("def walk(steps: list[int]) -> int:")
    assert "total -= size" in moved and "total += size" not in moved


def test_a_deleted_line_is_shown_with_its_neighbours(tmp_path: Path) -> None:
    module = write_module(
        tmp_path,
        "pair",
        """
        def healthy(x: int) -> int:
            x += 1
            x *= 2
            return x


        def broken(x: int) -> int:
            x += 1
            return x
        """,
    )
    assert changed_lines(module.healthy, module.broken) == (
        "x += 1\nx *= 2\nreturn x",
        "x += 1\nreturn x",
    )


def test_the_home_page_shows_the_step_that_runs() -> None:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    assert not at.exception
    assert [block.value.rstrip() for block in at.code] == [source_of(step.train_step).rstrip()]


def test_lessons_show_the_step_that_runs() -> None:
    page = include_sources("{{source: engine.step.train_step}}")
    assert source_of(step.train_step).rstrip() in page
