"""A class of students on one server: join, wait, then one reveal to every screen.

Run from the repository root: `python -m benchmarks.bench_classroom [--students 40]`.
The teacher is one headless Chromium (Debian's, as the browser tests use); each student is
a Streamlit session spoken to through its own websocket, as bench_class does: it opens
`/join?code=CODE`, fills the form's two fields and presses Join through the widget
protocol, then waits for news as the page's component does in a browser: it asks
`/class-news?code=CODE` every 2 s and reruns the page when the class's version moved or
the revealed demo finished training. (Under a server without that route, it re-runs the
page's polling fragment whenever the server's `auto_rerun` says, as a browser would.)
Prints, from one run on this machine:

- join: seconds until every student's screen shows the first demo;
- idle: the server process's CPU while the whole class waits (no worker time: nothing
  trains), per student per minute;
- reveal: from the teacher's click on Reveal to each student's screen showing Curve
  Doctor's reading of the trained demo (median, 95th percentile, max; all or not).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import websockets
from playwright.async_api import async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.bench_class import cpu_seconds, start_server, stop_server

REVEALED = b"The broken run"
JOINED = b"Learning rate far too high"
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Student:
    """One simulated student's session and what it has seen."""

    base: str
    code: str
    name: str
    widgets: dict[str, str] = field(default_factory=dict)  # label -> widget id
    fragment: tuple[str, float] | None = None  # the polling fragment's id and interval
    page_hash: str = ""  # the join page's script hash, as the browser sends it back
    joined_at: float | None = None
    revealed_at: float | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    version: int | None = None  # the class's version this screen last drew
    training: bool = False  # it drew a reveal still training: rerun when that finishes

    def read(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.joined_at is None and JOINED in data:
            self.joined_at = now
        if self.revealed_at is None and REVEALED in data:
            self.revealed_at = now
        message = ForwardMsg()
        message.ParseFromString(data)
        kind = message.WhichOneof("type")
        if kind == "navigation" and message.navigation.page_script_hash:
            self.page_hash = message.navigation.page_script_hash  # st.navigation's page
        elif kind == "auto_rerun":
            self.fragment = (message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            widget = getattr(element, element.WhichOneof("type") or "", None)
            if hasattr(widget, "id") and hasattr(widget, "label"):
                self.widgets[widget.label] = widget.id
        elif kind == "script_finished":
            self.finished.set()

    def rerun(self, states: list[object] | None = None, fragment: str = "") -> bytes:
        request = BackMsg()
        request.rerun_script.query_string = f"code={self.code}"
        request.rerun_script.page_name = "join"
        # Without the hash, a rerun the fragment asks for would run the default page.
        request.rerun_script.page_script_hash = self.page_hash
        if fragment:
            request.rerun_script.fragment_id = fragment
            request.rerun_script.is_auto_rerun = True
        request.rerun_script.widget_states.widgets.extend(states or [])
        return request.SerializeToString()

    def join_states(self) -> list[object]:
        form = BackMsg().rerun_script.widget_states
        code = form.widgets.add(id=self.widgets["Class code"], string_value=self.code)
        name = form.widgets.add(id=self.widgets["Nickname (optional)"], string_value=self.name)
        press = form.widgets.add(id=self.widgets["Join"], trigger_value=True)
        return [code, name, press]


async def attend(student: Student, stop: asyncio.Event) -> None:
    """Open the join page, join, then poll like a browser until the benchmark stops."""
    uri = student.base.replace("http", "ws") + "/_stcore/stream"
    # No keepalive pings: forty sessions on one loop answer them late, and a browser's
    # connection does not close over a slow pong either.
    async with websockets.connect(
        uri, subprotocols=["streamlit", "load-test"], max_size=None, ping_interval=None
    ) as socket:

        async def listen() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for data in socket:
                    student.read(data)

        reader = asyncio.create_task(listen())
        await socket.send(student.rerun())
        await asyncio.wait_for(student.finished.wait(), 120)
        await socket.send(student.rerun(student.join_states()))
        student.version = (await asyncio.to_thread(news, student))["version"]
        while not stop.is_set():
            fragment = student.fragment
            await asyncio.sleep(fragment[1] if fragment else POLL_SECONDS)
            if fragment:  # a server without the news route: the fragment polls
                await socket.send(student.rerun(fragment=fragment[0]))
                continue
            if await asyncio.to_thread(has_news, student):
                await socket.send(student.rerun())
        reader.cancel()


POLL_SECONDS = 2.0  # ui.classroom.POLL_SECONDS


def news(student: Student) -> dict[str, object]:
    """What the page's component asks for: GET /class-news (a 404 carries JSON too)."""
    url = f"{student.base}/class-news?code={student.code}"
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def has_news(student: Student) -> bool:
    """The component's rule: rerun when the version moved or the reveal finished training."""
    reply = news(student)
    training = reply.get("training")
    finished = student.training and (training is None or training.get("done"))
    if reply["version"] != student.version or finished:
        student.version = reply["version"]
        student.training = bool(training) and not training.get("done")
        return True
    return False


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_s": round(statistics.median(ordered), 2),
        "p95_s": round(p95, 2),
        "max_s": round(ordered[-1], 2),
    }


async def lesson(base: str, server_pid: int, students: int, idle: float) -> dict[str, object]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        teacher = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await teacher.goto(f"{base}/classroom?deck=lr_too_high,no_zero_grad")
        await teacher.get_by_role("button", name=re.compile("Start the class")).click()
        heading = teacher.get_by_text(re.compile(r"Join code: [A-Z0-9]{6}"))
        await heading.wait_for(timeout=120_000)
        code = re.findall(r"[A-Z0-9]{6}", await heading.inner_text())[-1]
        stop = asyncio.Event()
        class_ = [Student(base, code, f"S{i}") for i in range(students)]
        started = time.perf_counter()
        sessions = [asyncio.create_task(attend(s, stop)) for s in class_]
        while any(s.joined_at is None for s in class_) and time.perf_counter() - started < 180:
            await asyncio.sleep(0.2)
        joined = [s.joined_at - started for s in class_ if s.joined_at is not None]
        # The teacher's screen counts the class in ("0 of 40" answered).
        await teacher.get_by_text(f"0 of {len(joined)}").first.wait_for(timeout=60_000)
        await asyncio.sleep(5)  # let the joins' reruns settle before measuring idle
        cpu_before, idle_start = cpu_seconds(server_pid), time.perf_counter()
        await asyncio.sleep(idle)
        idle_cpu = cpu_seconds(server_pid) - cpu_before
        idle_minutes = (time.perf_counter() - idle_start) / 60
        reveal = time.perf_counter()
        await teacher.get_by_role("button", name=re.compile("Reveal")).click()
        while any(s.revealed_at is None for s in class_) and time.perf_counter() - reveal < 180:
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*sessions, return_exceptions=True)
        await browser.close()
    waits = [s.revealed_at - reveal for s in class_ if s.revealed_at is not None]
    return {
        "students": students,
        "joined": len(joined),
        "join_all_s": round(max(joined), 2) if joined else None,
        "idle_seconds": idle,
        "idle_server_cpu_ms_per_student_minute": round(
            1000 * idle_cpu / students / idle_minutes, 1
        ),
        "revealed_to": len(waits),
        "reveal_to_curves": spread(waits) if waits else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of waiting measured")
    parser.add_argument("--port", type=int, default=8613)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base, server = start_server(args.port)
    try:
        figures = asyncio.run(lesson(base, server.pid, args.students, args.idle))
    finally:
        stop_server(server)
    if args.json:
        print(json.dumps(figures))
        return
    reveal = figures["reveal_to_curves"] or {}
    print(
        f"{figures['students']} students: {figures['joined']} joined, the last after "
        f"{figures['join_all_s']} s\n"
        f"idle ({figures['idle_seconds']:g} s, everyone waiting): server CPU "
        f"{figures['idle_server_cpu_ms_per_student_minute']} ms per student per minute\n"
        f"reveal -> Curve Doctor's reading on {figures['revealed_to']} of "
        f"{figures['students']} screens: median {reveal.get('median_s')} s, "
        f"p95 {reveal.get('p95_s')} s, max {reveal.get('max_s')} s"
    )


if __name__ == "__main__":
    main()
