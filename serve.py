"""The server: the app's pages plus what an operator monitors. `make run` starts it.

`streamlit run serve.py` serves streamlit_app.py just as `streamlit run streamlit_app.py`
would (same pages, same websocket), and adds:

- GET /healthz: the training service's health as JSON, with HTTP 503 when training cannot
  move (a worker dead or stalled, the dispatcher stopped). Streamlit's own
  /_stcore/health says only that the web server answers; learners can still be stuck
  behind a broken training service while it says "ok".
- GET /class-news?code=CODE: what a class screen polls (training_service.class_news), so
  forty students waiting for their teacher run no page scripts until something changes.
- The training workers start with the server, not on the first learner's visit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from training_service.board import shared_board
from training_service.class_news import NEWS_PATH, class_news, serve_news
from training_service.classroom import shared_classroom


async def healthz(request: Request) -> JSONResponse:
    """The training service's health: 200 when training moves, 503 (with why) when not."""
    health = shared_board().health()
    return JSONResponse(health.as_dict(), status_code=200 if health.ok else 503)


async def news(request: Request) -> JSONResponse:
    """A class's version and, after a reveal, how far its demo has trained."""
    code = request.query_params.get("code", "")[:32]
    status, body = class_news(shared_classroom(), shared_board(), code)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def import_what_pages_share() -> None:
    """Import, in one thread, the libraries both the pages and the board's warm-up use.

    Two threads importing the same libraries at once (a first page importing altair while
    the board's warm-up imports scikit-learn, both reaching narwhals) can meet halfway and
    Python then raises an import deadlock on the page. Done here, before the server takes
    requests, every later import is a dictionary lookup.
    """
    import altair  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.datasets  # noqa: F401


@asynccontextmanager
async def lifespan(app: st.App) -> AsyncIterator[None]:
    await asyncio.to_thread(import_what_pages_share)
    # In a thread: the workers import torch for a few seconds, the server answers meanwhile.
    threading.Thread(target=shared_board, daemon=True, name="start-training-board").start()
    yield


serve_news()
app = st.App(
    "streamlit_app.py",
    routes=[Route("/healthz", healthz), Route(NEWS_PATH, news)],
    lifespan=lifespan,
)
