"""The engine's shape: a leaf for the lesson code, imports in one direction, no hidden imports.

Imports are read from the source with `ast`, every import statement counted: at the top,
inside functions and under `if TYPE_CHECKING:` alike, so a cycle cannot hide in any of them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ENGINE.rglob("*.py"))}


def imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Every module an import statement names (`from a import b` may name module a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def engine_imports(module: str) -> set[str]:
    """The engine modules one module imports, by any import statement anywhere in it."""
    tree = ast.parse(MODULES[module].read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(name for name in imported_names(node) if name in MODULES)
    found.discard(module)
    # `from engine.x import y` names the package `engine` too; the package is not a dependency.
    found.discard("engine")
    return found


GRAPH = {module: engine_imports(module) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_package_init_and_type_only_imports() -> None:
    assert "engine.variants.optimisation" in GRAPH["engine.variants"]
    assert "engine.step" in GRAPH["engine.state"]


def test_no_import_cycle_among_engine_modules() -> None:
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


def test_the_lesson_code_is_a_leaf() -> None:
    assert GRAPH["engine.step"] == {"engine.config"}
    tree = ast.parse(MODULES["engine.step"].read_text())
    third_party = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in imported_names(node)
        if name
    } - set(sys.stdlib_module_names)
    assert third_party == {"torch", "engine"}


def test_importing_the_lesson_code_loads_no_other_engine_module() -> None:
    probe = "import sys, engine.step; print(sorted(m for m in sys.modules if 'engine' in m))"
    finished = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["['engine',", "'engine.config',", "'engine.step']"]


def test_the_loop_never_looks_up_a_bug() -> None:
    for module in ("engine.loop", "engine.step", "engine.state", "engine.checkpoint"):
        assert not {m for m in GRAPH[module] if m.startswith("engine.variants")}, module
        assert "engine.training" not in GRAPH[module]


def test_variants_import_the_lesson_code_not_the_loop() -> None:
    for module in MODULES:
        if module.startswith("engine.variants"):
            assert "engine.loop" not in GRAPH[module], module


@pytest.mark.parametrize("module", sorted(MODULES))
def test_function_local_imports_say_why_they_are_lazy(module: str) -> None:
    lines = MODULES[module].read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom):
                said = lines[node.lineno - 1] + lines[node.lineno - 2]
                assert "lazy:" in said, f"{module}:{node.lineno} imports inside a function"


def test_the_engine_never_imports_streamlit() -> None:
    for module, path in MODULES.items():
        assert "streamlit" not in path.read_text(), module
