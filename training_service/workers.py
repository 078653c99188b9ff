"""Training worker processes: each trains one run at a time, in its own Python process.

Why processes, not threads: PyTorch's random generator is global to a process, so two
runs training at once in threads would interleave their draws (initial weights, dropout
masks) and stop being reproducible; a process per worker keeps every run exactly
deterministic, uses both cores without the GIL, and a run that crashes hard cannot take
the web server down with it.

Why one pipe per worker: a worker can die at any moment (killed, out of memory), even
half-way through writing a message. With one queue shared by all workers, the dead one
could leave its write lock held or half a message behind, and every other worker's
results would stop arriving. With a pipe each, a death spoils only that worker's pipe:
the server reads what arrived whole, sees the end of the pipe, and starts a new worker.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import multiprocessing as mp
import pickle
import sys
import termios
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

MessageQueue = Any  # multiprocessing queues have no public generic type
Message = tuple[str, int, Any]  # (kind, job id or worker id, payload)
FLUSH_SECONDS = 0.15  # how often a worker forwards step records while training
FLUSH_STEPS = 50


class RecordForwarder:
    """Sends a job's records to the server in small batches, not one message per step."""

    def __init__(self, results: Connection, job_id: int) -> None:
        self.results, self.job_id = results, job_id
        self.pending: list[Any] = []
        self.last_flush = time.perf_counter()

    def __call__(self, record: Any) -> None:
        self.pending.append(record)
        is_epoch = type(record).__name__ == "EpochRecord"
        if (
            is_epoch
            or len(self.pending) >= FLUSH_STEPS
            or time.perf_counter() - self.last_flush > FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.results.send(("records", self.job_id, list(self.pending)))
            self.pending.clear()
        self.last_flush = time.perf_counter()


def _worker_main(tasks: MessageQueue, results: Connection, stop_flag: Any, worker_id: int) -> None:
    """Loop: take a (job_id, config dict, data_dir) task, train it, stream records back."""
    import torch

    from engine.config import default_config
    from engine.training import train

    torch.set_num_threads(1)
    train(default_config(epochs=1))  # pay the one-off costs before the first real task
    try:
        _serve(tasks, results, stop_flag, worker_id)
    except (BrokenPipeError, EOFError, ConnectionError):
        return  # the server went away; there is nobody to report to


def _serve(tasks: MessageQueue, results: Connection, stop_flag: Any, worker_id: int) -> None:
    from engine.config import RunConfig
    from engine.training import train

    results.send(("ready", worker_id, None))
    while True:
        task = tasks.get()
        if task is None:
            return
        job_id, config_dict, data_dir = task
        # The server cleared the flag when it assigned this task; clearing it here would
        # lose a Stop pressed while the task waited in the queue (or the worker started up).
        forward = RecordForwarder(results, job_id)
        try:
            result = train(
                RunConfig.from_dict(config_dict),
                data_dir=data_dir,
                on_event=forward,
                should_stop=lambda: stop_flag.value == 1,
            )
            forward.flush()
            result.model = None  # the UI never needs the weights; keep messages small
            results.send(("result", job_id, result))
        except Exception as error:  # setup errors (data missing, bad config) as text
            results.send(("problem", job_id, f"{type(error).__name__}: {error}"))


@contextlib.contextmanager
def _without_main_module() -> Iterator[None]:
    """Hide the page script from the spawned child.

    A spawned process re-imports the parent's __main__ module, which under Streamlit is
    the page script itself: the child would start a second app. The worker needs only
    training_service.workers, so it is started with an empty __main__ in its place.
    """
    real = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = real


def _unread(connection: Any) -> int:
    try:
        data = fcntl.ioctl(connection.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except OSError:  # closed
        return 0
    return int.from_bytes(data, sys.byteorder)


@dataclass
class Worker:
    """One training process, its task queue, its stop flag and the pipe it answers on."""

    process: Any
    tasks: MessageQueue
    stop_flag: Any
    inbox: Connection  # the server's end of this worker's result pipe
    busy_with: int | None = None
    broken: bool = False  # its pipe ended or carried garbage: replace the worker
    last_heard: float = field(default_factory=time.monotonic)  # its last message or task
    ready: bool = False  # warmed up (torch imported, a first run trained): it said so


STALL_SECONDS = 120.0  # silence from a busy worker that means it is stuck (it reports 6x/s)
# A worker starting up imports torch and the engine before it says anything: on a loaded
# 2-core box that has taken minutes, and it does not get shorter when stalls are judged faster.
STARTUP_SECONDS = 600.0
LOST = "The training process stopped unexpectedly."
STALLED = "The training process stopped responding and was restarted."


class WorkerPool:
    """A fixed number of training processes fed one task at a time."""

    def __init__(self, size: int, stall_seconds: float = STALL_SECONDS) -> None:
        self.context = mp.get_context("spawn")  # fork would copy the server's threads
        self.stall_seconds = stall_seconds
        self.restarts = 0  # workers replaced since the server started
        self.closed = False
        self.workers = [self._start(i) for i in range(size)]
        # As Python exits, multiprocessing ends the workers; without this the server would
        # see them die and start new ones into an interpreter already tearing down.
        atexit.register(self.close)

    def close(self) -> None:
        """End every worker and start no more."""
        self.closed = True
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.kill()

    def _start(self, worker_id: int) -> Worker:
        tasks = self.context.Queue()
        # No lock: a worker killed while reading its flag would leave a lock held, and the
        # server's next Stop would wait on it forever. One int is written whole anyway.
        stop_flag = self.context.Value("i", 0, lock=False)
        inbox, outbox = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_worker_main,
            name=f"trainer-{worker_id}",
            args=(tasks, outbox, stop_flag, worker_id),
            daemon=True,
        )
        with _without_main_module():
            process.start()
        outbox.close()  # the child holds the only writing end, so its death ends the pipe
        return Worker(process, tasks, stop_flag, inbox)

    def idle_worker(self) -> int | None:
        for index, worker in enumerate(self.workers):
            if worker.busy_with is None:
                return index
        return None

    def assign(
        self, index: int, job_id: int, config_dict: dict[str, Any], data_dir: str | None
    ) -> None:
        worker = self.workers[index]
        worker.busy_with = job_id
        worker.last_heard = time.monotonic()
        worker.stop_flag.value = 0  # before the task is sent: a Stop from now on counts
        worker.tasks.put((job_id, config_dict, data_dir))

    def release(self, job_id: int) -> None:
        for worker in self.workers:
            if worker.busy_with == job_id:
                worker.busy_with = None

    def stop(self, job_id: int) -> None:
        for worker in self.workers:
            if worker.busy_with == job_id:
                worker.stop_flag.value = 1

    def next_messages(self, timeout: float) -> list[Message]:
        """Every whole message that arrives within `timeout` seconds (often none)."""
        readers = {id(worker.inbox): worker for worker in self.workers if not worker.broken}
        ready = wait([worker.inbox for worker in readers.values()], timeout)
        messages = []
        for connection in ready:
            worker = readers[id(connection)]
            try:
                message = connection.recv()
                worker.last_heard = time.monotonic()
                worker.ready = worker.ready or message[0] == "ready"
                messages.append(message)
            except (EOFError, OSError, pickle.UnpicklingError, AttributeError, ValueError):
                worker.broken = True  # died, possibly half-way through a message
        return messages

    def unread_bytes(self) -> int:
        """Bytes the workers have written that the server has not read yet."""
        return sum(_unread(worker.inbox) for worker in self.workers)

    def stalled(self, worker: Worker) -> bool:
        """Busy, yet silent for longer than any healthy run is (frozen, or stuck). Starting
        up (importing torch on a busy machine) may take longer: it gets STARTUP_SECONDS."""
        silent = time.monotonic() - worker.last_heard
        allowed = self.stall_seconds if worker.ready else max(STARTUP_SECONDS, self.stall_seconds)
        return worker.busy_with is not None and silent > allowed

    def dead_jobs(self) -> list[tuple[int, str]]:
        """Jobs whose worker died (killed, out of memory), broke its pipe or stalled, with
        why; each such worker is replaced by a fresh one."""
        lost: list[tuple[int, str]] = []
        if self.closed:
            return lost
        for index, worker in enumerate(self.workers):
            stalled = self.stalled(worker)
            if worker.process.is_alive() and not worker.broken and not stalled:
                continue
            if worker.busy_with is not None:
                lost.append((worker.busy_with, STALLED if stalled else LOST))
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join(timeout=5)
            worker.inbox.close()
            self.workers[index] = self._start(index)
            self.restarts += 1
        return lost
