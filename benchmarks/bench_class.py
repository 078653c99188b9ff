"""A whole class on one shared instance, simulated at the protocol level.

Run from the repository root: `python -m benchmarks.bench_class` (or `make bench`).
Each simulated student is one Streamlit session: a websocket to `/_stcore/stream` that
asks for the Failure Lab page with a share link (`run=1`) and waits for the script run to
finish with both diagnoses on the page. A browser per student would measure the browsers,
not the server (ENGINEERING.md); the protocol client costs the server the same work.

Scenarios, one run each on this machine:
- same link: N students open the same share link at the same moment (one training, shared);
- different links: M students each open a different seed (M distinct trainings, queued).
Prints the time each student waited (median, 95th percentile, max) and the server's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
READING = b"Curve Doctor's reading"


def open_session(base: str, keepalive: bool = True) -> websockets.connect:
    """A new Streamlit session: the websocket a browser tab opens (use with `async with`).

    keepalive=False sends no pings: many sessions on one event loop answer them late, and
    a browser's connection does not close over a slow pong either.
    """
    return websockets.connect(
        base.replace("http", "ws") + "/_stcore/stream",
        subprotocols=["streamlit", "load-test"],
        max_size=None,
        **({} if keepalive else {"ping_interval": None}),
    )


def rerun_request(query: str, page_name: str = "failure-lab", page_hash: str = "") -> bytes:
    """The BackMsg a browser sends to run a page: the URL's query string and page name, and
    once it knows them, the page's script hash (from the server's `navigation` message)."""
    request = BackMsg()
    request.rerun_script.query_string = query
    request.rerun_script.page_name = page_name
    request.rerun_script.page_script_hash = page_hash
    return request.SerializeToString()


async def student(base: str, query: str, timeout: float) -> tuple[float, bool]:
    """One session: ask for the page, wait for the run to finish; (seconds, saw results)."""
    async with open_session(base) as socket:
        start = time.perf_counter()
        await socket.send(rerun_request(query))
        saw_results = False
        while True:
            data = await asyncio.wait_for(socket.recv(), timeout)
            saw_results = saw_results or READING in data
            message = ForwardMsg()
            message.ParseFromString(data)
            if message.WhichOneof("type") == "script_finished":
                return time.perf_counter() - start, saw_results


async def classroom(base: str, queries: list[str], timeout: float) -> list[tuple[float, bool]]:
    return list(await asyncio.gather(*(student(base, q, timeout) for q in queries)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children that have exited (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])
    return ticks / 100.0


def children_cpu(pid: int) -> float:
    """CPU of the server and its training worker processes."""
    total = cpu_seconds(pid)
    for child in Path("/proc").glob("[0-9]*"):
        try:
            stat = (child / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            total += cpu_seconds(int(child.name))
    return total


def summary(name: str, waits: list[tuple[float, bool]], cpu: float) -> dict[str, object]:
    times = sorted(t for t, _ in waits)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        "scenario": name,
        "students": len(times),
        "all_saw_results": all(ok for _, ok in waits),
        "median_s": round(statistics.median(times), 2),
        "p95_s": round(p95, 2),
        "max_s": round(times[-1], 2),
        "server_cpu_s": round(cpu, 1),
    }


def start_server(port: int) -> tuple[str, subprocess.Popen[bytes]]:
    """`streamlit run serve.py` on a local port, once it answers; (base URL, process)."""
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "serve.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return base, server


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--distinct", type=int, default=8)
    parser.add_argument("--port", type=int, default=8612)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base, server = start_server(args.port)
    try:
        # Warm the server up (workers started, first optimizer built) before timing.
        asyncio.run(classroom(base, ["variant=no_step&seed=1&run=1"], 120))
        link = "variant=lr_too_high&variant=tiny_subset&seed=42&run=1"
        results = []
        for name, queries in (
            ("same link", [link] * args.students),
            (
                "different links",
                [f"variant=no_zero_grad&seed={100 + i}&run=1" for i in range(args.distinct)],
            ),
        ):
            before = children_cpu(server.pid)
            waits = asyncio.run(classroom(base, queries, 300))
            results.append(summary(name, waits, children_cpu(server.pid) - before))
    finally:
        stop_server(server)
    if args.json:
        print(json.dumps(results))
        return
    for row in results:
        print(
            f"{row['scenario']:>16}: {row['students']} students, median {row['median_s']} s, "
            f"p95 {row['p95_s']} s, max {row['max_s']} s, all saw both diagnoses: "
            f"{row['all_saw_results']}, server CPU {row['server_cpu_s']} s"
        )


if __name__ == "__main__":
    main()
