"""The training service stands on its own: importing it never pulls in Streamlit."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import training_service
from engine.config import default_config
from training_service.board import TrainingBoard, TrainingJob
from ui.live import _progress_text

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(training_service.__file__).resolve().parent

# Imports the package and every submodule (found at run time, so new ones are covered too),
# then reports what got imported and whether Streamlit came along.
PROBE = """
import importlib, json, pkgutil, sys
import training_service
names = ["training_service"] + [
    info.name for info in pkgutil.walk_packages(training_service.__path__, "training_service.")
]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "streamlit": "streamlit" in sys.modules}))
"""


def test_importing_training_service_does_not_import_streamlit() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    for name in ("training_service.board", "training_service.workers", "training_service.memo"):
        assert name in report["imported"]
    assert report["streamlit"] is False, "importing training_service imported Streamlit"


def test_no_streamlit_import_anywhere_in_training_service_source() -> None:
    """Also catches function-local imports (e.g. inside a worker), which run only later."""
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            if any(m == "streamlit" or m.startswith("streamlit.") for m in modules):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"Streamlit imported in the training service: {offenders}"


def test_submodules_are_found() -> None:
    names = {info.name for info in pkgutil.walk_packages(training_service.__path__)}
    assert {"board", "workers", "memo"} <= names


def test_a_run_stopped_while_it_waits_is_not_reported_as_a_failure() -> None:
    # issue 13: Stop with queued runs said "Training could not run"
    board = TrainingBoard(workers=1, data_dir=None)  # one worker: the second run must wait
    running = board.submit(default_config("digits", epochs=200), "learner")
    waiting = board.submit(default_config("digits", epochs=200, seed=7), "learner")
    board.stop(waiting, "learner")
    assert waiting.done.is_set() and waiting.never_started
    assert waiting.problem is None and waiting.result is None
    board.stop(running, "learner")
    assert running.done.wait(timeout=120) and not running.never_started


def test_a_dead_worker_shows_in_the_progress_text_while_the_others_run() -> None:
    # issue 13: a worker's death was shown only after every other run had ended
    dead = TrainingJob(default_config("digits"), total_steps=800)
    dead.problem = "The training process stopped unexpectedly."
    dead.done.set()
    finished = TrainingJob(default_config("digits", seed=1), total_steps=800)
    finished.done.set()
    text = _progress_text({"baseline": finished, "no_shuffle": dead})
    assert text == (
        "baseline: done · no_shuffle: failed (The training process stopped unexpectedly.)"
    )
