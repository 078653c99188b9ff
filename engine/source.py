"""The code the app shows, read from the functions that run.

Lessons, the home page, a variant's healthy and broken lines and every exported script take
their loop code from here, so a change to `engine.step` changes all of them at once. Nothing
in this module is pasted text: it reads source with `inspect` and splits it with `ast`.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap
from types import ModuleType


def source_of(code: object) -> str:
    """A function's or class's source exactly as written, decorators included, dedented."""
    return textwrap.dedent(inspect.getsource(code))  # type: ignore[arg-type]


def definition_of(module: ModuleType, name: str) -> str:
    """The source of one top-level statement of a module: a def, a class or an assignment."""
    text = inspect.getsource(module)
    for node in ast.parse(text).body:
        if _defines(node, name):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            return "\n".join(text.splitlines()[first - 1 : node.end_lineno])
    raise LookupError(f"{module.__name__} defines no top-level {name!r}")


def _defines(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    return False


def split_function(function: object) -> tuple[list[str], list[str]]:
    """A function's source as (head, body): decorators, signature and docstring; the rest.

    Body lines are dedented to the function's own level, comments included, so a body can
    be moved into another function of the same signature.
    """
    lines = source_of(function).splitlines()
    definition = ast.parse("\n".join(lines)).body[0]
    assert isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef)
    statements = definition.body
    if _is_docstring(statements[0]) and len(statements) > 1:
        statements = statements[1:]
    head_end = statements[0].lineno - 1
    while head_end > 0 and lines[head_end - 1].strip().startswith("#"):
        head_end -= 1  # a comment right above the first statement belongs to the body
    body = textwrap.dedent("\n".join(lines[head_end:])).splitlines()
    return lines[:head_end], body


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def with_body_of(healthy: object, broken: object) -> str:
    """The healthy function's head (name, signature, docstring) around the broken one's body."""
    head, _ = split_function(healthy)
    _, body = split_function(broken)
    indent = " " * 4
    return "\n".join([*head, *(indent + line if line.strip() else line for line in body)])


def changed_lines(healthy: object, broken: object) -> tuple[str, str]:
    """The lines where two functions' bodies differ: (healthy lines, broken lines).

    Bodies are compared as blocks (a statement with its indented lines, or a comment line),
    so a changed `if` shows whole, with the block before and after the change as context.
    """
    old, new = _blocks(split_function(healthy)[1]), _blocks(split_function(broken)[1])
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if not changes:
        raise ValueError(f"{_name(healthy)} and {_name(broken)} have the same body")
    # One block of context on each side shows where the change sits in the function.
    old_start, new_start = max(0, changes[0][1] - 1), max(0, changes[0][3] - 1)
    old_end, new_end = min(len(old), changes[-1][2] + 1), min(len(new), changes[-1][4] + 1)
    return "\n".join(old[old_start:old_end]), "\n".join(new[new_start:new_end])


def _blocks(body: list[str]) -> list[str]:
    """Split a body into statements (with their wrapped and indented lines) and comment lines."""
    spans = {node.lineno - 1: node.end_lineno for node in ast.parse("\n".join(body)).body}
    blocks: list[str] = []
    number = 0
    while number < len(body):
        end = spans.get(number, number + 1)  # a comment or blank line is a block of its own
        if body[number].strip():
            blocks.append("\n".join(body[number:end]).rstrip())
        number = end
    return blocks


def _name(function: object) -> str:
    return getattr(function, "__qualname__", repr(function))
