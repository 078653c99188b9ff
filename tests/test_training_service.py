"""The training service stands on its own: importing it never pulls in Streamlit."""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import training_service
from engine.config import default_config
from training_service.board import ServiceHealth, TrainingBoard, TrainingJob, WorkerState
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


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _pipe_full(board: TrainingBoard) -> bool:
    before = board.health().unread_bytes
    time.sleep(1.0)
    return before >= 16_384 and board.health().unread_bytes == before


def test_a_worker_killed_while_writing_does_not_stop_training_for_anyone() -> None:
    # issue 13, item 1: the server paused, a worker SIGKILLed while blocked writing to the
    # server, then every later comparison waited forever (shared result queue, its lock held
    # by the dead worker, half a message left in the pipe).
    board = TrainingBoard(workers=2, data_dir=None)
    warm = board.submit(default_config("digits", epochs=1), "learner")
    assert warm.done.wait(timeout=120) and warm.result is not None
    long_run = board.submit(default_config("digits", epochs=60), "learner")
    with board._lock:  # a paused server: the dispatcher reads no more messages
        # Records pile up in the pipe until it is full and the worker blocks half-way
        # through writing a message: the unread bytes stop growing.
        assert _wait_for(lambda: _pipe_full(board), 60)
        pid = board.health().pid_of(long_run.id)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert _wait_for(lambda: not board.health().alive(pid), 10)
    assert long_run.done.wait(timeout=30)
    assert long_run.problem == "The training process stopped unexpectedly."
    # Both workers train again: two new runs at once, each to the end.
    after = [board.submit(default_config("digits", epochs=2, seed=seed), "next") for seed in (1, 2)]
    for job in after:
        assert job.done.wait(timeout=120) and job.result is not None
        assert job.result.status == "completed" and len(job.result.epochs) == 2
    assert board.health().workers_alive == 2


def test_a_frozen_worker_is_reported_then_replaced_and_training_goes_on() -> None:
    # issue 13: "a stuck service is restarted or reported, not hidden"
    board = TrainingBoard(workers=1, data_dir=None, stall_seconds=3)
    warm = board.submit(default_config("digits", epochs=1), "learner")
    assert warm.done.wait(timeout=120) and board.health().ok
    frozen = board.submit(default_config("digits", epochs=200), "learner")
    assert _wait_for(lambda: board.health().pid_of(frozen.id) is not None, 10)
    pid = board.health().pid_of(frozen.id)
    assert pid is not None
    assert _wait_for(lambda: len(frozen.steps) > 0, 60)
    os.kill(pid, signal.SIGSTOP)  # alive, but silent: as a stuck process would be
    assert frozen.done.wait(timeout=30)
    assert frozen.problem == "The training process stopped responding and was restarted."
    assert not board.health().alive(pid) and board.health().restarts == 1
    after = board.submit(default_config("digits", epochs=1, seed=3), "learner")
    assert after.done.wait(timeout=120) and after.result is not None
    assert board.health().ok


def test_health_names_what_stops_training() -> None:
    well = ServiceHealth(
        workers=(WorkerState(11, True, 4, 0.2, False), WorkerState(12, True, None, 30.0, False)),
        waiting=3,
        unread_bytes=0,
    )
    assert well.ok and well.as_dict()["problems"] == [] and well.as_dict()["workers_alive"] == 2
    sick = ServiceHealth(
        workers=(WorkerState(11, False, None, 0.0, False), WorkerState(12, True, 5, 130.0, True)),
        waiting=3,
        unread_bytes=0,
        dispatcher_silent_seconds=12.5,
    )
    assert not sick.ok
    assert sick.problems == [
        "worker 11 is not running",
        "worker 12 has been silent for 130 s while training",
        "the dispatcher has not run for 12.5 s: no results reach the learners",
    ]
    assert json.loads(json.dumps(sick.as_dict()))["ok"] is False


def test_the_result_cache_is_bounded_by_bytes_not_entries() -> None:
    # issue 13: up to 512 results of any size (about 3 GB when full of large runs)
    board = TrainingBoard(workers=1, data_dir=None, keep_bytes=120_000)  # two ~50 KB runs
    jobs = [board.submit(default_config("digits", seed=seed), "learner") for seed in range(4)]
    for job in jobs:
        assert job.done.wait(timeout=120) and job.result is not None
    health = board.health()
    assert health.finished_runs_kept == 2 and 80_000 < health.finished_runs_bytes <= 120_000
    assert board.cached(jobs[0].config) is None and board.cached(jobs[1].config) is None
    assert board.cached(jobs[3].config) is jobs[3].result
    assert jobs[3].steps == [] and len(jobs[3].result.steps) == 800  # one copy, not two


def test_a_stop_pressed_while_the_worker_starts_up_is_not_lost() -> None:
    # The worker used to clear its stop flag when it took a task: a Stop pressed between the
    # assignment and that moment (seconds, while the worker imports torch) was lost.
    board = TrainingBoard(workers=1, data_dir=None)
    job = board.submit(default_config("digits", epochs=200), "learner")
    assert board.health().pid_of(job.id) is not None  # assigned at once, not yet started
    board.stop(job, "learner")
    assert job.done.wait(timeout=120) and job.result is not None
    assert job.result.status == "stopped" and len(job.result.steps) < 100
