"""A class screen's poll, answered without running a page script.

Forty students waiting for the teacher must cost the server next to nothing. Each screen
asks `GET /class-news?code=CODE` every few seconds (serve.py's route) and reruns its page
only when the answer says something changed: the class's version moved (an answer, a
reveal, the next demo, the class ended) or the revealed demo's runs finished training.
A Streamlit fragment poll would run a script per student per poll; this is one lock and a
few dictionary lookups.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.compare import runs_to_train
from engine.config import RunConfig, default_config
from training_service.classroom import Classroom, ClassroomError

NEWS_PATH = "/class-news"
_served = False  # set by the server that routes NEWS_PATH (serve.py)


def serve_news() -> None:
    """Called by the server that routes NEWS_PATH: screens may poll it instead of a fragment."""
    global _served
    _served = True


def news_served() -> bool:
    """Whether this server answers NEWS_PATH (not under AppTest or a bare `streamlit run`)."""
    return _served


def class_baseline() -> RunConfig:
    """The healthy run every class demo is compared with: the Failure Lab's default."""
    return default_config("digits")


def demo_runs(variant: str) -> dict[str, RunConfig]:
    """The runs a demo trains for the class: the baseline, a fixed twin if needed, the bug."""
    return runs_to_train(class_baseline(), [variant])


class RunProgress(Protocol):
    """What the news needs of the training board (TrainingBoard.progress_of)."""

    def progress_of(self, config: RunConfig) -> float | None: ...


def class_news(room: Classroom, board: RunProgress, code: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for a screen's poll.

    {"version": n, "training": null} before a reveal; after one (and all along in a Bug
    Hunt, whose screens show the mystery's curves), "training" holds
    {"progress": 0..1, "done": bool} for the demo's runs. A code with no class is a 404
    whose body says why (a screen reruns and shows it).
    """
    try:
        view = room.view(code)
    except ClassroomError as error:
        return 404, {"version": None, "training": None, "problem": str(error)}
    training = None
    if view.shows_runs:
        progress = [board.progress_of(c) for c in demo_runs(view.demo.variant).values()]
        # A run the board no longer holds ended (kept or failed): the page will say which.
        done = all(p is None or p >= 1.0 for p in progress)
        fraction = sum(1.0 if p is None else p for p in progress) / len(progress)
        training = {"progress": round(fraction, 3), "done": done}
    return 200, {"version": view.version, "training": training}
