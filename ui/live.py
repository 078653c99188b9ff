"""Train several runs side by side and redraw their curves while they train."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from engine.config import RunConfig
from engine.data import load_data
from engine.results import RunResult
from training_service.board import TrainingBoard, TrainingJob
from ui.board import session_id, training_board
from ui.charts import CHART_TITLES, RunCurves, comparison_specs, projector_spec
from ui.settings import presenting

REDRAW_SECONDS = 0.5  # at most two redraws a second: every redraw costs server CPU
_live_viewers = 0  # sessions drawing live curves right now, across the whole server
_viewers_lock = threading.Lock()
MAX_WAIT_SECONDS = 600
# How often a waiting session gives Streamlit the chance to end its run (tab closed, Stop,
# another page), and how long its runs are then kept for a rerun of the same page to take
# them back before they are released.
STOP_CHECK_SECONDS = 0.25
RELEASE_GRACE_SECONDS = 2.0


def n_classes_of(config: RunConfig) -> int | None:
    try:
        return load_data(config).n_classes or None
    except Exception:  # data unavailable: the job reports it
        return None


def draw_charts(curves: list[RunCurves], n_classes: int | None, key: str) -> None:
    """The four comparison charts in a 2 x 2 grid (projector-sized in the presenter view)."""
    specs = comparison_specs(curves, n_classes)
    if presenting():
        specs = {name: projector_spec(spec) for name, spec in specs.items()}
    names = list(specs)
    for row in (names[:2], names[2:]):
        for column, name in zip(st.columns(2), row, strict=True):
            column.markdown(
                f"**{CHART_TITLES[name]}**"
                + (" · solid: train, dashed: validation" if "epoch" in name else "")
            )
            column.vega_lite_chart(specs[name], width="stretch")


def curves_of(label: str, job: TrainingJob) -> RunCurves:
    if job.result is not None:
        r = job.result
        return RunCurves(label, r.steps, r.epochs, r.diverged_at_step, r.config.key())
    return RunCurves(label, list(job.steps), list(job.epochs), config_key=job.config.key())


def _progress_text(jobs: Mapping[str, TrainingJob]) -> str:
    parts = []
    for label, job in jobs.items():
        if job.done.is_set():
            # A failed run says so at once, not after every other run has finished.
            parts.append(f"{label}: failed ({job.problem})" if job.problem else f"{label}: done")
            continue
        position = training_board().queue_position(job)
        if position:
            parts.append(f"{label}: waiting, position {position} in the queue")
            continue
        rate = job.steps_per_second()
        remaining = job.total_steps - len(job.steps)
        eta = f", about {remaining / rate:.0f} s left" if rate else ""
        speed = f"{rate:.0f} steps/s" if rate else "starting"
        parts.append(f"{label}: step {len(job.steps)}/{job.total_steps} ({speed}{eta})")
    return " · ".join(parts)


def redraw_interval(last_draw_cost: float) -> float:
    """Seconds between live redraws: longer when redraws are slow or many sessions watch.

    Thirty sessions redrawing twice a second would saturate a 2-core server (every redraw
    is work for the server in every session), so the pause grows with the audience.
    """
    with _viewers_lock:
        viewers = _live_viewers
    return max(REDRAW_SECONDS * max(1.0, viewers / 2), 2 * last_draw_cost)


def _wait_for_jobs(jobs: Mapping[str, TrainingJob], seconds: float) -> None:
    """Sleep up to `seconds`, waking early when every job is done.

    Streamlit ends a script run (its tab closed, its Stop pressed, a rerun or another page
    asked for) only at the script's next Streamlit call, by raising there. Looking at
    session state is such a call and sends nothing, so a long pause between redraws still
    ends within STOP_CHECK_SECONDS.
    """
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        pending = [job for job in jobs.values() if not job.done.is_set()]
        if not pending:
            return
        pending[0].done.wait(timeout=min(left, STOP_CHECK_SECONDS))
        _ = "session_id" in st.session_state  # where Streamlit may end this run


@contextlib.contextmanager
def _counted_viewer() -> Iterator[None]:
    """Count this session among the live viewers while it draws (a rerun may cut it)."""
    global _live_viewers
    with _viewers_lock:
        _live_viewers += 1
    try:
        yield
    finally:
        with _viewers_lock:
            _live_viewers -= 1


def _watch(
    jobs: Mapping[str, TrainingJob],
    bar: Any,
    chart_area: Any,
    n_classes: int | None,
    state_key: str,
) -> None:
    """Redraw progress and partial curves until every job is done (or the wait runs out)."""
    started = time.perf_counter()
    last_draw_cost = 0.0
    while (
        not all(job.done.is_set() for job in jobs.values())
        and time.perf_counter() - started < MAX_WAIT_SECONDS
    ):
        # Sleep first: short runs finish before any partial curve is worth drawing, and a
        # slow redraw (long runs, busy server) earns a proportionally longer pause.
        _wait_for_jobs(jobs, redraw_interval(last_draw_cost))
        if all(job.done.is_set() for job in jobs.values()):
            return
        tick = time.perf_counter()
        done = sum(job.progress for job in jobs.values()) / len(jobs)
        bar.progress(done, text=_progress_text(jobs))
        with chart_area.container():
            draw_charts(
                [curves_of(label, job) for label, job in jobs.items()], n_classes, state_key
            )
        last_draw_cost = time.perf_counter() - tick


@dataclass
class Watching:
    """Which runs this session's latest comparison watches (one per session, in its state).

    A script run that ends before its runs finish hands them back after a short grace,
    unless a later script run of the same session has taken them up meanwhile: a widget
    change reruns the page, which submits the same runs again and must not find them
    stopped.
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    script_run: int = 0  # counts this session's calls of train_side_by_side
    job_ids: frozenset[int] = frozenset()


def _watching() -> Watching:
    return st.session_state.setdefault("_live_watching", Watching())


def _release_later(
    board: TrainingBoard, me: str, watching: Watching, script_run: int, jobs: list[TrainingJob]
) -> None:
    """After the grace, stop watching the jobs no later script run of this session watches.

    The board stops a run only when no other session watches it either.
    """
    if all(job.done.is_set() for job in jobs):
        return

    def release() -> None:
        with watching.lock:
            superseded = watching.script_run != script_run
            kept = watching.job_ids if superseded else frozenset()
            if not superseded:
                watching.job_ids = frozenset()
            for job in jobs:
                if job.id not in kept:
                    board.stop(job, me)

    timer = threading.Timer(RELEASE_GRACE_SECONDS, release)
    timer.daemon = True
    timer.start()


def _clear_after_stop(elements: list[Any]) -> None:
    """Blank the progress bar, the live charts and the Stop button of a run Streamlit ended.

    Once Streamlit has ended a run, each further Streamlit call in it raises again, so the
    bar would stay on the page, frozen part-way. Streamlit does not interrupt a helper
    thread that carries the run's context, so the clearing is sent from one. (When a rerun
    ended the run, Streamlit drops what the old run sends: the new page is never blanked.)
    """
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or not elements:
        return

    def clear() -> None:
        for element in elements:
            with contextlib.suppress(Exception):  # the session may be gone already
                element.empty()

    helper = threading.Thread(target=clear, daemon=True, name="clear-stopped-run")
    add_script_run_ctx(helper, ctx)
    helper.start()
    helper.join(timeout=2.0)


def train_side_by_side(
    runs: Mapping[str, RunConfig], state_key: str
) -> dict[str, RunResult] | None:
    """Train (or fetch from the shared cache) every run, drawing live until all finish.

    Returns the results, or None if a run could not start (the message is shown).
    The Stop button ends this session's runs between steps, keeping what was trained.
    When the script run ends before the runs do (tab closed, Streamlit's Stop, another
    page), this session stops watching them within seconds: a run nobody else watches
    stops, freeing its trainer for the learners in the queue.
    """
    board, me, watching = training_board(), session_id(), _watching()
    jobs: dict[str, TrainingJob] = {}
    with watching.lock:
        try:
            for label, config in runs.items():
                jobs[label] = board.submit(config, me)
        except Exception as error:
            for job in jobs.values():  # the runs that did start are not wanted alone
                board.stop(job, me)
            st.error(f"Could not start training: {error}")
            return None
        watching.script_run += 1
        watching.job_ids = frozenset(job.id for job in jobs.values())
        script_run = watching.script_run
    stop_slot: Any = None  # what this run draws while training
    bar: Any = None
    chart_area: Any = None
    try:
        stop_slot = st.empty()  # the Stop button exists only while something trains
        if stop_slot.button(
            "Stop",
            key=f"{state_key}_stop",
            icon=":material/stop_circle:",
            help="End the runs now, between two steps, and keep what was trained",
        ):
            for job in jobs.values():
                board.stop(job, me)
        n_classes = n_classes_of(next(iter(runs.values())))
        bar = st.progress(0.0, text=_progress_text(jobs))
        chart_area = st.empty()
        with _counted_viewer():
            _watch(jobs, bar, chart_area, n_classes, state_key)
    except BaseException:  # Streamlit ended the run (StopException, RerunException) or a bug
        _release_later(board, me, watching, script_run, list(jobs.values()))
        _clear_after_stop([shown for shown in (bar, chart_area, stop_slot) if shown is not None])
        raise
    bar.empty()
    chart_area.empty()
    stop_slot.empty()
    return _outcome(jobs)


def _outcome(jobs: Mapping[str, TrainingJob]) -> dict[str, RunResult] | None:
    """The results, or None with a message on the page saying why there are none."""
    waited = [label for label, job in jobs.items() if job.never_started]
    if waited:
        st.info(
            f"Stopped. {', '.join(waited)} had not started yet (waiting for a free trainer), "
            "so there is nothing to show for them. Press Train to run the comparison again."
        )
        return None
    problems = [f"{label}: {job.problem}" for label, job in jobs.items() if job.problem]
    if problems:
        st.error("Training could not run. " + " ".join(problems))
        return None
    if any(job.result is None for job in jobs.values()):
        st.warning("Training is taking longer than expected; press Train again to keep watching.")
        return None
    return {label: job.result for label, job in jobs.items() if job.result is not None}
