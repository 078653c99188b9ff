"""Run the lessons' programs, solutions and exported scripts as a learner would, without
paying torch's start-up for each one.

Every such script starts by importing torch, torch's compiler stack (the first optimizer
pulls in torch._dynamo) and scikit-learn: about 5-7 s of CPU on the 2-core CI machine,
more than most scripts then spend training. The suite runs about a hundred of them. So a
warm interpreter imports those once and forks a child per script; the child runs the
file as `__main__` from its own folder, with its own stdout and stderr, and exits with the
script's status. The child starts from a parent that has imported torch but never run a
parallel region, so its thread pools start fresh.

Scripts that start processes of their own (torch.multiprocessing, distributed training)
run as ordinary subprocesses: a forked child is not a fresh interpreter for them.

Run as a program, this file is the warm interpreter; imported, it is the client.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

NEEDS_A_FRESH_PROCESS = ("multiprocessing", "torch.distributed", "mp.spawn")


# ---------------------------------------------------------------- the warm interpreter


def _preload() -> None:
    import sklearn.datasets  # noqa: F401
    import torch
    import torch.utils.data  # noqa: F401

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # imports torch._dynamo


def _run_child(request: dict[str, object]) -> None:
    """In the forked child: become the script's process, run it, exit with its status."""
    code = 1
    try:
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(str(request[name]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        # Fresh text streams: the parent's may hold a half-written reply in their buffers.
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True
        )
        signal.signal(signal.SIGINT, signal.default_int_handler)
        script = str(request["script"])
        os.chdir(str(request["cwd"]))
        sys.argv = [script]
        sys.path[:0] = [os.path.dirname(script), *request["extra_path"]]  # type: ignore[misc]
        runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int | None):
            print(exit_.code, file=sys.stderr)
    except BaseException:  # the script's own error, reported as Python would
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code)


def serve() -> None:
    """Read one JSON request per line, fork a child per request, report pid and status."""
    _preload()
    replies = threading.Lock()

    def reply(message: dict[str, object]) -> None:
        with replies:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    def reap(request_id: int, pid: int) -> None:
        _, status = os.waitpid(pid, 0)
        reply({"id": request_id, "returncode": os.waitstatus_to_exitcode(status)})

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_child(request)
        reply({"id": request["id"], "pid": pid})
        threading.Thread(target=reap, args=(request["id"], pid), daemon=True).start()


# ---------------------------------------------------------------- the client


@dataclass(frozen=True)
class Finished:
    """What a script left behind, like subprocess.CompletedProcess."""

    returncode: int
    stdout: str
    stderr: str


class ScriptRun:
    """A script started in the warm interpreter (or, where it must be, a subprocess)."""

    def __init__(self, script: Path, cwd: Path, extra_path: tuple[str, ...] = ()) -> None:
        self.script = script
        self.process: subprocess.Popen[str] | None = None
        self.result: Finished | None = None
        if any(word in script.read_text(encoding="utf-8") for word in NEEDS_A_FRESH_PROCESS):
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
            env.pop("PYTHONPATH", None)
            if extra_path:
                env["PYTHONPATH"] = os.pathsep.join(extra_path)
            self.process = subprocess.Popen(
                [sys.executable, str(script)],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            return
        self.request_id, self.files = _server().start(script, cwd, extra_path)

    def wait(self, timeout_s: float) -> Finished:
        """The script's status and output; raises TimeoutError (after killing it) when it
        runs past timeout_s."""
        if self.result is not None:
            return self.result
        if self.process is not None:
            try:
                stdout, stderr = self.process.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                raise TimeoutError(f"{self.script.name} ran over {timeout_s:g} s") from None
            self.result = Finished(self.process.returncode, stdout, stderr)
            return self.result
        code = _server().wait(self.request_id, timeout_s)
        stdout, stderr = (Path(name).read_text(errors="replace") for name in self.files)
        self.result = Finished(code, stdout, stderr)
        return self.result

    def kill(self) -> None:
        """Stop the script if it is still running."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.communicate()
            return
        _server().kill(self.request_id)


def run_script(
    script: Path, cwd: Path, timeout_s: float = 240, extra_path: tuple[str, ...] = ()
) -> Finished:
    """Run one script to the end: `python script` from cwd, as a learner would."""
    return ScriptRun(script, cwd, extra_path).wait(timeout_s)


class _Server:
    def __init__(self) -> None:
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # the lessons quote CPU runs
        env.pop("PYTHONPATH", None)  # a standalone script must not find the app
        self.process = subprocess.Popen(
            [sys.executable, "-I", __file__],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.folder = tempfile.TemporaryDirectory(prefix="warm_python_")
        self.next_id = 0
        self.pids: dict[int, int] = {}
        self.codes: dict[int, int] = {}
        self.changed = threading.Condition()
        threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            with self.changed:
                if "pid" in message:
                    self.pids[message["id"]] = message["pid"]
                else:
                    self.codes[message["id"]] = message["returncode"]
                self.changed.notify_all()
        with self.changed:  # the server itself died: nothing more will come
            self.codes.setdefault(-1, -1)
            self.changed.notify_all()

    def start(self, script: Path, cwd: Path, extra_path: tuple[str, ...]) -> tuple[int, tuple]:
        with self.changed:
            request_id = self.next_id
            self.next_id += 1
        files = tuple(f"{self.folder.name}/{request_id}.{name}" for name in ("out", "err"))
        request = {
            "id": request_id,
            "script": str(script.resolve()),
            "cwd": str(cwd),
            "extra_path": list(extra_path),
            "stdout": files[0],
            "stderr": files[1],
        }
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return request_id, files

    def wait(self, request_id: int, timeout_s: float) -> int:
        with self.changed:
            done = self.changed.wait_for(
                lambda: request_id in self.codes or -1 in self.codes, timeout=timeout_s
            )
        if not done:
            self.kill(request_id)
            raise TimeoutError(f"script {request_id} ran over {timeout_s:g} s")
        if request_id not in self.codes:
            raise RuntimeError("the warm interpreter died; rerun the tests")
        return self.codes[request_id]

    def kill(self, request_id: int) -> None:
        with self.changed:
            self.changed.wait_for(lambda: request_id in self.pids, timeout=10)
            pid = self.pids.get(request_id)
            if pid is None or request_id in self.codes:
                return
        with contextlib.suppress(ProcessLookupError):  # it finished meanwhile
            os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.folder.cleanup()


_SERVER: list[_Server] = []
_STARTING = threading.Lock()


def _server() -> _Server:
    with _STARTING:
        if not _SERVER or _SERVER[0].process.poll() is not None:
            _SERVER[:] = [_Server()]
            atexit.register(_SERVER[0].close)
        return _SERVER[0]


if __name__ == "__main__":
    serve()
