"""A session that ends hands its runs back (issue 13, item 3), and leaves no memory behind.

Each tab is a Streamlit session spoken to through the websocket protocol, as
benchmarks/bench_class.py does; what the trainers are doing comes from the operator's
GET /healthz. A closed tab, Streamlit's own Stop and a move to another page must each free
the trainers within seconds, unless another session still watches the same run.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.bench_class import open_session, rerun_request

# A baseline and two variants of ~9,500 steps each (digits, batch 8, the large MLP, 60
# epochs): about 17 s per run on one core, so the two trainers stay busy for 25 s or more
# unless the runs are released.
LONG_LINK = (
    "variant=no_shuffle&variant=lr_too_low&dataset=digits&size=large&batch=8&epochs=60"
    "&seed={seed}&run=1"
)
SHORT_LINK = "variant=no_step&epochs=2&seed=5&run=1"  # trained once, then from the cache
RELEASED_WITHIN = 10.0  # seconds from leaving to idle trainers and an empty queue
RUN_TIMEOUT = 120.0  # the first run also waits for the trainers to start


T = TypeVar("T")


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: in a run with the browser tests, Playwright keeps
    an event loop running in this one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario).result()


def healthz(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as reply:
        return json.loads(reply.read())


def busy_jobs(report: dict[str, Any]) -> set[int]:
    return {w["busy_with"] for w in report["workers"] if w["busy_with"] is not None}


class Tab:
    """One browser tab: a session, the pages the server offered, what it shows."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.shown: dict[tuple[int, ...], str] = {}  # delta path -> the element there now
        self.progress_at: set[tuple[int, ...]] = set()
        self.progress = ""  # the progress bar's latest text
        self.finished = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base: str, link: str) -> Tab:
        tab = cls(await open_session(base, keepalive=False))
        await tab.socket.send(rerun_request(link))
        return tab

    async def _read(self) -> None:
        async for data in self.socket:
            message = ForwardMsg()
            message.ParseFromString(data)
            kind = message.WhichOneof("type")
            if kind == "navigation":
                for page in message.navigation.app_pages:
                    self.pages[page.url_pathname] = page.page_script_hash
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                path = tuple(message.metadata.delta_path)
                self.shown[path] = element.WhichOneof("type") or ""
                if self.shown[path] == "progress":
                    self.progress_at.add(path)
                    self.progress = element.progress.text
            elif kind == "script_finished":
                self.finished.set()

    def steps_shown(self) -> list[int]:
        """Each training run's step count in the progress text."""
        return [int(steps) for steps in re.findall(r"step (\d+)/", self.progress)]

    async def stop_script(self) -> None:
        """Streamlit's own Stop (the 'Stop' beside 'Running...')."""
        request = BackMsg()
        request.stop_script = True
        await self.socket.send(request.SerializeToString())

    async def go_to(self, url_path: str, query: str = "") -> None:
        self.finished.clear()
        await self.socket.send(rerun_request(query, url_path, self.pages[url_path]))

    async def close(self) -> None:
        await self.socket.close()
        self.reader.cancel()


async def trainers_idle(base: str, seconds: float) -> float:
    """Seconds until no trainer is busy and nothing waits; fails after `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        report = await asyncio.to_thread(healthz, base)
        if not busy_jobs(report) and report["waiting"] == 0:
            return time.monotonic() - start
        await asyncio.sleep(0.2)
    raise AssertionError(f"trainers still busy after {seconds} s: {report}")


async def under_way(base: str, *tabs: Tab) -> set[int]:
    """Wait until both trainers train this comparison and every tab shows their steps."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        busy = busy_jobs(await asyncio.to_thread(healthz, base))
        if len(busy) == 2 and all(sum(s > 0 for s in tab.steps_shown()) >= 2 for tab in tabs):
            return busy
        await asyncio.sleep(0.2)
    shown = [(tab.progress, sorted(set(tab.shown.values()))) for tab in tabs]
    raise AssertionError(f"training never got under way: {shown}, busy trainers: {busy}")


async def visit(base: str, link: str) -> Tab:
    """Open the lab with a share link and wait until its script run is over; then close."""
    tab = await Tab.open(base, link)
    await asyncio.wait_for(tab.finished.wait(), RUN_TIMEOUT)
    await tab.close()
    return tab


@pytest.fixture(scope="module", autouse=True)
def warm(server: str) -> None:
    """The trainers have started and the lab has trained once, so what is timed below is
    the release, not a cold start. (This first visit once met an import deadlock between the
    page and the board's warm-up; serve.py now imports what both share before serving.)"""
    tab = run(visit(server, SHORT_LINK))
    assert "exception" not in tab.shown.values(), "the Failure Lab shows an exception"


async def leave_and_time(base: str, seed: int, leave: str) -> float:
    await trainers_idle(base, RUN_TIMEOUT)  # the trainers have started and nothing trains
    kept = (await asyncio.to_thread(healthz, base))["finished_runs_kept"]
    tab = await Tab.open(base, LONG_LINK.format(seed=seed))
    await under_way(base, tab)
    if leave == "close the tab":
        await tab.close()
        released = await trainers_idle(base, RELEASED_WITHIN)
    elif leave == "Streamlit's Stop":
        await tab.stop_script()
        released = await trainers_idle(base, RELEASED_WITHIN)
        await asyncio.wait_for(tab.finished.wait(), 10)
        frozen = {path: tab.shown[path] for path in tab.progress_at}
        assert set(frozen.values()) == {"empty"}, f"a progress bar is left on the page: {frozen}"
        await tab.close()
    else:
        await tab.go_to("")  # the home page
        await asyncio.wait_for(tab.finished.wait(), 30)
        released = await trainers_idle(base, RELEASED_WITHIN)
        # Back on the lab, the comparison it left is not started again from scratch.
        await tab.go_to("failure-lab")
        await asyncio.wait_for(tab.finished.wait(), 30)
        await asyncio.sleep(1.0)
        assert not busy_jobs(await asyncio.to_thread(healthz, base)), "it trains again"
        await tab.close()
    report = await asyncio.to_thread(healthz, base)
    assert report["finished_runs_kept"] == kept, "the runs completed: they were not stopped"
    return released


@pytest.mark.parametrize(
    ("leave", "seed"), [("close the tab", 101), ("Streamlit's Stop", 102), ("another page", 103)]
)
def test_leaving_hands_the_sessions_runs_back_within_seconds(
    server: str, leave: str, seed: int
) -> None:
    released = run(leave_and_time(server, seed, leave))
    print(f"{leave}: trainers idle {released:.1f} s after leaving")
    assert released <= RELEASED_WITHIN


def test_a_run_two_sessions_watch_stops_only_when_both_have_left(server: str) -> None:
    async def scenario() -> float:
        await trainers_idle(server, RUN_TIMEOUT)
        link = LONG_LINK.format(seed=104)
        first = await Tab.open(server, link)
        second = await Tab.open(server, link)
        busy = await under_way(server, first, second)
        await first.close()
        await asyncio.sleep(4.0)  # longer than the release grace and a stop between steps
        still = busy_jobs(await asyncio.to_thread(healthz, server))
        assert still == busy, "a run the other session still watches was stopped"
        await second.close()
        return await trainers_idle(server, RELEASED_WITHIN)

    released = run(scenario())
    print(f"both sessions gone: trainers idle {released:.1f} s later")


def test_a_rerun_of_the_same_page_keeps_watching_the_same_runs(server: str) -> None:
    # A widget change reruns the page while it trains: the new run must take the runs back,
    # not stop them and start them again.
    async def scenario() -> None:
        await trainers_idle(server, RUN_TIMEOUT)
        link = LONG_LINK.format(seed=105)
        tab = await Tab.open(server, link)
        busy = await under_way(server, tab)
        await tab.go_to("failure-lab", link)  # what a widget change sends
        await asyncio.sleep(4.0)  # longer than the release grace and a stop between steps
        assert busy_jobs(await asyncio.to_thread(healthz, server)) == busy
        steps = sum(tab.steps_shown())
        deadline = time.monotonic() + 10
        while sum(tab.steps_shown()) <= steps and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert sum(tab.steps_shown()) > steps, "the rerun does not show the runs moving"
        await tab.close()
        await trainers_idle(server, RELEASED_WITHIN)

    run(scenario())


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def test_thirty_sessions_opened_and_closed_leave_memory_where_it_was(
    server: str, server_pid: int
) -> None:
    async def sessions(count: int) -> None:  # each shows the lab's comparison, from the cache
        tabs = await asyncio.gather(*(visit(server, SHORT_LINK) for _ in range(count)))
        assert all(tab.pages for tab in tabs), "a page never ran"

    run(sessions(1))
    time.sleep(1.0)
    after_first = resident_mb(server_pid)
    for first in range(1, 30, 10):  # 29 more, ten at a time
        run(sessions(min(10, 30 - first)))
    time.sleep(2.0)
    after_thirty = resident_mb(server_pid)
    print(f"server RSS after the 1st session {after_first:.0f} MB, after 30 {after_thirty:.0f} MB")
    assert after_thirty <= 1.10 * after_first
