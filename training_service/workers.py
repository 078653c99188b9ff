"""Training worker processes: each trains one run at a time, in its own Python process.

Why processes, not threads: PyTorch's random generator is global to a process, so two
runs training at once in threads would interleave their draws (initial weights, dropout
masks) and stop being reproducible; a process per worker keeps every run exactly
deterministic, uses both cores without the GIL, and a run that crashes hard cannot take
the web server down with it.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MessageQueue = Any  # multiprocessing queues have no public generic type
FLUSH_SECONDS = 0.15  # how often a worker forwards step records while training
FLUSH_STEPS = 50


class RecordForwarder:
    """Sends a job's records to the server in small batches, not one message per step."""

    def __init__(self, results: MessageQueue, job_id: int) -> None:
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
            self.results.put(("records", self.job_id, list(self.pending)))
            self.pending.clear()
        self.last_flush = time.perf_counter()


def _worker_main(
    tasks: MessageQueue, results: MessageQueue, stop_flag: Any, worker_id: int
) -> None:
    """Loop: take a (job_id, config dict, data_dir) task, train it, stream records back."""
    import torch

    from engine.config import RunConfig, default_config
    from engine.training import train

    torch.set_num_threads(1)
    train(default_config(epochs=1))  # pay the one-off costs before the first real task
    results.put(("ready", worker_id, None))
    while True:
        task = tasks.get()
        if task is None:
            return
        job_id, config_dict, data_dir = task
        stop_flag.value = 0
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
            results.put(("result", job_id, result))
        except Exception as error:  # setup errors (data missing, bad config) as text
            results.put(("problem", job_id, f"{type(error).__name__}: {error}"))


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


@dataclass
class Worker:
    """One training process, its task queue and its stop flag."""

    process: Any
    tasks: MessageQueue
    stop_flag: Any
    busy_with: int | None = None


class WorkerPool:
    """A fixed number of training processes fed one task at a time."""

    def __init__(self, size: int) -> None:
        self.context = mp.get_context("spawn")  # fork would copy the server's threads
        self.results: MessageQueue = self.context.Queue()
        self.workers = [self._start(i) for i in range(size)]

    def _start(self, worker_id: int) -> Worker:
        tasks = self.context.Queue()
        stop_flag = self.context.Value("i", 0)
        process = self.context.Process(
            target=_worker_main,
            name=f"trainer-{worker_id}",
            args=(tasks, self.results, stop_flag, worker_id),
            daemon=True,
        )
        with _without_main_module():
            process.start()
        return Worker(process, tasks, stop_flag)

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
        worker.tasks.put((job_id, config_dict, data_dir))

    def release(self, job_id: int) -> None:
        for worker in self.workers:
            if worker.busy_with == job_id:
                worker.busy_with = None

    def stop(self, job_id: int) -> None:
        for worker in self.workers:
            if worker.busy_with == job_id:
                worker.stop_flag.value = 1

    def next_message(self, timeout: float) -> tuple[str, int, Any] | None:
        try:
            return self.results.get(timeout=timeout)
        except queue.Empty:
            return None

    def dead_jobs(self) -> list[int]:
        """Jobs whose worker process died (killed, out of memory); the worker is restarted."""
        lost = []
        for index, worker in enumerate(self.workers):
            if not worker.process.is_alive():
                if worker.busy_with is not None:
                    lost.append(worker.busy_with)
                self.workers[index] = self._start(index)
        return lost
