"""The operator's /healthz on the real server: the training service's health, and recovery."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request


def healthz(base: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:  # 503 still carries the report
        return error.code, json.loads(error.read())


def wait_for_health(base: str, check: object, seconds: float) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    status, report = healthz(base)
    while time.monotonic() < deadline:
        status, report = healthz(base)
        if check(status, report):  # type: ignore[operator]
            return report
        time.sleep(0.3)
    raise AssertionError(f"/healthz never reached the expected state: {status} {report}")


def test_healthz_reports_the_workers_and_a_killed_one_is_replaced(server: str) -> None:
    started = wait_for_health(
        server, lambda status, report: status == 200 and report["workers_alive"] == 2, 90
    )
    assert started["ok"] is True and started["problems"] == []
    idle = [w for w in started["workers"] if w["busy_with"] is None]  # type: ignore[union-attr]
    victim = idle[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    after = wait_for_health(
        server,
        lambda status, report: (
            status == 200
            and report["restarts"] >= started["restarts"] + 1  # type: ignore[operator]
            and victim not in [w["pid"] for w in report["workers"]]
        ),
        30,
    )
    assert after["workers_alive"] == 2 and after["ok"] is True
