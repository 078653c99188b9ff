"""Classroom screens: the teacher's control view and a student's view of the same demo.

Both read the class from training_service.classroom. A screen waits for news in the
browser: a tiny component asks serve.py's /class-news route for the class's version every
few seconds and reruns the page only when it moved (an answer, a reveal, the next demo) or
the revealed demo finished training. An idle class costs the server one lookup per
student per poll, and no script runs. Where that route is not served (a bare
`streamlit run streamlit_app.py`, AppTest), a fragment asks the store instead.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import segno
import streamlit as st

from engine.config import RunConfig
from engine.results import RunResult
from engine.variants import get_variant
from training_service.board import TrainingJob
from training_service.class_news import NEWS_PATH, class_baseline, demo_runs, news_served
from training_service.classroom import ClassroomError, ClassView, shared_classroom
from ui.board import training_board
from ui.charts import CHART_TITLES, comparison_specs, projector_spec
from ui.live import _progress_text, curves_of, n_classes_of
from ui.plain_text import plain
from ui.results import PREDICTIONS, diagnosis_of

ANSWERS = tuple(PREDICTIONS)
POLL_SECONDS = 2.0  # how often a student's screen asks for news


def classroom() -> Any:
    return shared_classroom()


# Runs in the browser: polls the news route, reruns the page (a trigger) only on news,
# and meanwhile writes how far the class's training is. Returns its clean-up, so a
# rerun's fresh copy never polls beside the old one.
NEWS_JS = """
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const note = parentElement.querySelector("p");
  // The element outlives a rerun: clear what the last copy wrote.
  note.textContent = data.training ? "Training for the whole class..." : "";
  let asked = false;
  const poll = async () => {
    if (asked) return;
    try {
      const reply = await fetch(data.url, { cache: "no-store" });
      const news = await reply.json();
      const moved = news.version !== data.version;
      const trained = data.training && (news.training === null || news.training.done);
      if (moved || trained) {
        asked = true;
        setTriggerValue("news", news.version);
      } else if (data.training && news.training) {
        const percent = Math.round(100 * news.training.progress);
        note.textContent = `Training for the whole class: ${percent}%`;
      }
    } catch (error) {
      // The server is restarting or the network dropped: ask again at the next tick.
    }
  };
  const timer = setInterval(poll, data.every_ms);
  return () => clearInterval(timer);
}
"""
NEWS_CSS = "p {margin: 0; color: var(--st-text-color); opacity: 0.7;}"
_news_watcher = st.components.v2.component(
    "class_news_watcher", html="<p></p>", css=NEWS_CSS, js=NEWS_JS
)


def wait_for_news(code: str, version: int, training: bool, live: bool = False) -> None:
    """Rerun this page when the class changes or (training) its demo finishes training.

    live: rerun every poll while training instead, for live curves (the teacher's one
    screen). Without serve.py's news route, a fragment polls the store instead.
    """
    if live and training or not news_served():
        follow_class(code, version, busy=training)
        return
    _news_watcher(
        data={
            "url": f"{server_root()}{NEWS_PATH}?code={code}",
            "version": version,
            "training": training,
            "every_ms": int(POLL_SECONDS * 1000),
        },
        key="class_news",
        on_news_change=_no_callback,
    )


def _no_callback() -> None:
    """The rerun the trigger causes is all a piece of news needs."""


@st.fragment(run_every=POLL_SECONDS)
def follow_class(code: str, version: int, busy: bool) -> None:
    """Rerun the page when the class changed, or while a reveal trains; else draw nothing."""
    try:
        changed = classroom().view(code).version != version
    except ClassroomError:  # the class ended: the page will say so
        changed = True
    if changed or busy:
        st.rerun()


def demo_jobs(variant: str, code: str) -> dict[str, TrainingJob]:
    """The demo's runs on the shared board: trained once for the whole class, then cached."""
    board = training_board()
    return {
        label: board.submit(config, f"class-{code}") for label, config in demo_runs(variant).items()
    }


def server_root() -> str:
    """This server's address as the browser sees it (empty outside a browser session)."""
    try:
        url = st.context.url or ""
    except Exception:  # outside a browser session (tests)
        url = ""
    return url.split("?", 1)[0].rsplit("/", 1)[0] if url else ""


def join_link(code: str) -> str:
    """The address students open: this server's /join page with the class code."""
    return f"{server_root()}/join?code={code}"


def qr_png(text: str) -> bytes:
    """A QR code of `text` as PNG bytes, large enough to scan from the back of a room."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=10, border=2)
    return buffer.getvalue()


def projector_layout() -> None:
    """Projector distance: no sidebar, the whole width, and text half as large again."""
    st.html(
        "<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl']"
        "{display: none;} .block-container {padding-top: 1rem; max-width: 100%;}"
        "[data-testid='stMain'] .stMarkdown p, [data-testid='stMain'] .stMarkdown li"
        "{font-size: 1.5rem;}</style>"
    )


def draw_demo_charts(
    jobs: Mapping[str, TrainingJob], config: RunConfig, key: str, big: bool = False
) -> None:
    """The demo's loss and accuracy charts (large on a projector)."""
    curves = [curves_of(label, job) for label, job in jobs.items()]
    specs = comparison_specs(curves, n_classes_of(config))
    names = ("step_loss", "epoch_acc")
    for column, name in zip(st.columns(2), names, strict=True):
        column.markdown(f"### {CHART_TITLES[name]}" if big else f"**{CHART_TITLES[name]}**")
        spec = projector_spec(specs[name]) if big else specs[name]
        column.vega_lite_chart(spec, width="stretch")


def finished(jobs: Mapping[str, TrainingJob]) -> dict[str, RunResult] | None:
    """The results once every run is done and trained, else None."""
    if not all(job.done.is_set() for job in jobs.values()):
        return None
    results = {label: job.result for label, job in jobs.items() if job.result is not None}
    return results if len(results) == len(jobs) else None


def answer_of(result: RunResult) -> str:
    """The class answer that matches what the broken run did."""
    label = diagnosis_of(result).label
    return next((name for name, labels in PREDICTIONS.items() if label in labels), label)


def show_runs(
    view: ClassView, key: str, big: bool = False, live: bool = True
) -> dict[str, RunResult] | None:
    """Train the demo (once, for everyone) and draw its curves; the results when done.

    live: draw progress and the partial curves while it trains (else a line saying it
    trains: a student's screen shows the percentage from its news poll).
    """
    jobs = demo_jobs(view.demo.variant, view.code)
    results = finished(jobs)
    shown = jobs
    if view.hides_bug:
        secret = view.demo.variant  # also in a fixed twin's label ("<bug> fixed")
        shown = {label.replace(secret, "mystery"): job for label, job in jobs.items()}
    if results is None:
        problems = [f"{label}: {job.problem}" for label, job in shown.items() if job.problem]
        if problems:
            st.error("Training could not run. " + plain(" ".join(problems)))
            return None
        if not live:
            st.caption("Training once for the whole class; the curves appear here when done.")
            return None
        done = sum(job.progress for job in jobs.values()) / len(jobs)
        st.progress(done, text="Training for the whole class: " + _progress_text(shown))
    draw_demo_charts(shown, class_baseline(), key, big)
    return results


def show_reveal(view: ClassView, key: str, big: bool = False, live: bool = True) -> str | None:
    """Train (once, for everyone) and show the demo; returns the right answer when done."""
    variant = view.demo.variant
    results = show_runs(view, key, big, live)
    if results is None:
        return None
    right = answer_of(results[variant])
    diagnosis = diagnosis_of(results[variant])
    heading = "##" if big else "####"
    st.markdown(f"{heading} The broken run **{right}** (Curve Doctor: `{diagnosis.label}`)")
    if diagnosis.evidence:
        st.markdown(plain(diagnosis.evidence[0]))
    st.caption(get_variant(variant).why)
    return right


def name_the_bug(view: ClassView, results: Mapping[str, RunResult], big: bool = False) -> str:
    """A hunt's reveal: the mystery's name and Curve Doctor's reading; returns the name."""
    variant = get_variant(view.demo.variant)
    diagnosis = diagnosis_of(results[view.demo.variant])
    heading = "##" if big else "####"
    st.markdown(f"{heading} It was **{variant.title}** (Curve Doctor: `{diagnosis.label}`)")
    if diagnosis.evidence:
        st.markdown(plain(diagnosis.evidence[0]))
    st.caption(variant.why)
    return variant.title


def choices_of(view: ClassView) -> tuple[str, ...]:
    """The answers a student picks from: bug names in a hunt, else what the curve does."""
    return view.demo.choices or ANSWERS


def answer_counts_chart(view: ClassView) -> dict[str, Any]:
    """How many students chose each answer, as a horizontal bar chart."""
    answers = choices_of(view)
    rows = [{"answer": answer, "students": view.counts.get(answer, 0)} for answer in answers]
    return {
        "data": {"values": rows},
        "mark": {"type": "bar", "color": "#2563eb"},
        "encoding": {
            "y": {
                "field": "answer",
                "type": "nominal",
                "sort": list(answers),
                "title": None,
                "axis": {"labelLimit": 400, "labelOverlap": False},
            },
            "x": {
                "field": "students",
                "type": "quantitative",
                "title": "Students",
                "axis": {"tickMinStep": 1},
                "scale": {"domainMin": 0},
            },
        },
        "config": {"axis": {"labelFontSize": 20, "titleFontSize": 20}},
    }
