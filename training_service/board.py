"""One training board per server: shared results, a small worker pool, a visible queue.

Runs are deterministic, so a config's key identifies its result: when a whole class
opens the same demo, the first request trains and everyone else gets the same curves
(while it trains, they watch the same job). At most `workers` trainings run at once;
the rest wait in a queue whose position each watcher can see. Training happens in
worker processes (training_service/workers.py); a dispatcher thread forwards their
records here.
"""

from __future__ import annotations

import itertools
import math
import os
import pickle
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

from engine.config import RunConfig
from engine.data import load_data
from engine.records import EpochRecord, Record, StepRecord
from engine.results import RunResult
from training_service.workers import STALL_SECONDS, WorkerPool

DISPATCHER_SILENT_SECONDS = 10.0
# Finished runs kept for everyone, by size: a default 20-epoch digits run pickles to about
# 0.05 MB, one of the largest (a long MNIST run) to several MB.
KEEP_BYTES = 256 * 1024 * 1024
FINAL = ("completed", "diverged", "crashed")  # statuses worth sharing; "stopped" is not


@dataclass
class TrainingJob:
    """One run being trained (or already trained) for one or more sessions."""

    config: RunConfig
    total_steps: int
    id: int = 0
    steps: list[StepRecord] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    result: RunResult | None = None
    problem: str | None = None  # a setup error (e.g. data unavailable), shown as is
    never_started: bool = False  # stopped while it waited for a worker: not a failure
    watchers: set[str] = field(default_factory=set)
    done: threading.Event = field(default_factory=threading.Event)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    started: float | None = None

    def record(self, item: Record) -> None:
        if isinstance(item, StepRecord):
            self.steps.append(item)
        else:
            self.epochs.append(item)

    @property
    def progress(self) -> float:
        """Fraction of the planned steps done, 0..1."""
        if self.done.is_set():
            return 1.0
        return min(len(self.steps) / max(1, self.total_steps), 1.0)

    def steps_per_second(self) -> float | None:
        if self.started is None or not self.steps:
            return None
        elapsed = time.perf_counter() - self.started
        return len(self.steps) / elapsed if elapsed > 0 else None


@dataclass(frozen=True)
class WorkerState:
    pid: int | None
    alive: bool
    busy_with: int | None  # a job id, or None when idle
    silent_seconds: float  # since its last message (or its task, if none came yet)
    stalled: bool  # busy and silent too long: it is about to be replaced


@dataclass(frozen=True)
class ServiceHealth:
    """A snapshot of the training service: its workers, its queue, its unread messages."""

    workers: tuple[WorkerState, ...]
    waiting: int
    unread_bytes: int
    restarts: int = 0  # workers replaced (died, broke their pipe, stalled) since start
    finished_runs_kept: int = 0
    finished_runs_bytes: int = 0
    dispatcher_silent_seconds: float = 0.0  # it wakes twice a second when all is well

    @property
    def problems(self) -> list[str]:
        """What stops training from moving, in words; empty when all is well."""
        found = [f"worker {w.pid} is not running" for w in self.workers if not w.alive]
        found += [
            f"worker {w.pid} has been silent for {w.silent_seconds:g} s while training"
            for w in self.workers
            if w.alive and w.stalled
        ]
        if self.dispatcher_silent_seconds > DISPATCHER_SILENT_SECONDS:
            found.append(
                f"the dispatcher has not run for {self.dispatcher_silent_seconds:g} s: "
                "no results reach the learners"
            )
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """The snapshot as JSON-ready data, for the operator's /healthz."""
        return {
            "ok": self.ok,
            "problems": self.problems,
            "workers": [asdict(worker) for worker in self.workers],
            "workers_alive": self.workers_alive,
            "waiting": self.waiting,
            "unread_bytes": self.unread_bytes,
            "restarts": self.restarts,
            "finished_runs_kept": self.finished_runs_kept,
            "finished_runs_bytes": self.finished_runs_bytes,
            "dispatcher_silent_seconds": self.dispatcher_silent_seconds,
        }

    @property
    def workers_alive(self) -> int:
        return sum(worker.alive for worker in self.workers)

    def pid_of(self, job_id: int) -> int | None:
        """The process training this job, if one is."""
        return next((w.pid for w in self.workers if w.busy_with == job_id), None)

    def alive(self, pid: int) -> bool:
        return any(w.pid == pid and w.alive for w in self.workers)


def planned_steps(config: RunConfig, data_dir: str | None) -> int:
    """Epochs times batches per epoch, for the progress bar."""
    n_train = len(load_data(config, data_dir).train)
    return config.epochs * math.ceil(n_train / config.examples_per_step)


class TrainingBoard:
    """Shared across sessions (one per server process); trains in worker processes."""

    def __init__(
        self,
        workers: int = 2,
        keep_results: int = 512,
        keep_bytes: int = KEEP_BYTES,
        data_dir: str | None = "data",
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self.data_dir = data_dir
        self._pool = WorkerPool(workers, stall_seconds)
        self._lock = threading.RLock()  # re-entrant: health() may be read under it
        self._ids = itertools.count(1)
        self._active: dict[str, TrainingJob] = {}
        self._by_id: dict[int, TrainingJob] = {}
        self._waiting: list[TrainingJob] = []
        self._results: OrderedDict[str, TrainingJob] = OrderedDict()
        self._keep = keep_results
        self._keep_bytes = keep_bytes
        self._sizes: dict[str, int] = {}  # each kept result's pickled size
        self._dispatched = time.monotonic()  # the dispatcher's heartbeat, twice a second
        threading.Thread(target=self._dispatch, daemon=True, name="training-board").start()
        # Load the embedded digits in the server too (sizes for progress bars), now rather
        # than on the first learner's click.
        threading.Thread(
            target=planned_steps, args=(RunConfig(), data_dir), daemon=True, name="warm-up"
        ).start()

    def submit(self, config: RunConfig, watcher: str) -> TrainingJob:
        """The job for this config: a finished one from the cache, a running one, or a new one.

        Raises ConfigError or DataUnavailableError at once for a config that cannot run.
        """
        key = config.key()
        with self._lock:
            if key in self._results:  # finished: nothing to watch, so no watcher is kept
                self._results.move_to_end(key)
                return self._results[key]
            existing = self._watchable(key)
            if existing is not None:
                existing.watchers.add(watcher)
                return existing
        job = TrainingJob(
            config, planned_steps(config, self.data_dir), watchers={watcher}, id=next(self._ids)
        )
        with self._lock:
            existing = self._watchable(key)  # another session submitted it meanwhile
            if existing is not None:
                existing.watchers.add(watcher)
                return existing
            self._active[key] = job
            self._by_id[job.id] = job
            self._waiting.append(job)
            self._schedule()
        return job

    def _watchable(self, key: str) -> TrainingJob | None:  # call with the lock held
        """The active job for this key, unless it is being stopped: a run everyone left is
        ending between two steps, and a learner who comes back gets a fresh run instead."""
        job = self._active.get(key)
        return None if job is None or job.stop_requested.is_set() else job

    def queue_position(self, job: TrainingJob) -> int:
        """0 while training or done; otherwise 1 for the next job to start, 2, ..."""
        with self._lock:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    def stop(self, job: TrainingJob, watcher: str) -> None:
        """This watcher stops watching; the run stops only when nobody else watches it."""
        with self._lock:
            job.watchers.discard(watcher)
            if job.watchers or job.done.is_set():
                return
            job.stop_requested.set()
            if job in self._waiting:
                self._waiting.remove(job)
                job.never_started = True
                self._finish(job)
            else:
                self._pool.stop(job.id)

    def health(self) -> ServiceHealth:
        """What an operator needs to see whether training still moves."""
        with self._lock:
            now = time.monotonic()
            return ServiceHealth(
                workers=tuple(
                    WorkerState(
                        w.process.pid,
                        w.process.is_alive(),
                        w.busy_with,
                        round(now - w.last_heard, 1),
                        self._pool.stalled(w),
                    )
                    for w in self._pool.workers
                ),
                waiting=len(self._waiting),
                unread_bytes=self._pool.unread_bytes(),
                restarts=self._pool.restarts,
                finished_runs_kept=len(self._results),
                finished_runs_bytes=self.cached_bytes(),
                dispatcher_silent_seconds=round(now - self._dispatched, 1),
            )

    def cached_bytes(self) -> int:
        """The kept results' size (pickled), which the cache keeps under keep_bytes."""
        return sum(self._sizes.values())

    def cached(self, config: RunConfig) -> RunResult | None:
        with self._lock:
            job = self._results.get(config.key())
        return job.result if job else None

    def progress_of(self, config: RunConfig) -> float | None:
        """How far this config's run is without joining it: 1.0 once finished and kept,
        the fraction done while queued or training, None when the board holds no such run
        (never submitted, or it ended without a result)."""
        key = config.key()
        with self._lock:
            if key in self._results:
                return 1.0
            job = self._active.get(key)
            return job.progress if job is not None else None

    def _schedule(self) -> None:  # call with the lock held
        while self._waiting:
            index = self._pool.idle_worker()
            if index is None:
                return
            job = self._waiting.pop(0)
            job.started = time.perf_counter()
            self._pool.assign(index, job.id, job.config.to_dict(), self.data_dir)

    def _finish(self, job: TrainingJob) -> None:  # call with the lock held
        self._pool.release(job.id)
        key = job.config.key()
        if self._active.get(key) is job:  # not a fresh run of the same config, begun since
            del self._active[key]
        self._by_id.pop(job.id, None)
        job.watchers.clear()  # nothing left to watch: no session ids kept with the result
        if job.result is not None and job.result.status in FINAL:
            self._results[key] = job
            self._sizes[key] = len(pickle.dumps(job.result))
            # The streamed copies of the records are no longer needed: the result has them.
            job.steps, job.epochs = [], []
            while len(self._results) > self._keep or self.cached_bytes() > self._keep_bytes:
                old, _ = self._results.popitem(last=False)
                self._sizes.pop(old, None)
        job.done.set()
        self._schedule()

    def _dispatch(self) -> None:
        """Forward worker messages to their jobs, forever (a daemon thread)."""
        while True:
            messages = self._pool.next_messages(timeout=0.5)
            self._dispatched = time.monotonic()
            with self._lock:
                for message in messages:
                    self._handle(*message)
                for job_id, why in self._pool.dead_jobs():
                    job = self._by_id.get(job_id)
                    if job is not None:
                        job.problem = why
                        self._finish(job)
                self._schedule()

    def _handle(self, kind: str, job_id: int, payload: object) -> None:
        job = self._by_id.get(job_id)
        if job is None:
            return
        if kind == "records":
            for record in payload:  # type: ignore[attr-defined]
                job.record(record)
        elif kind == "result":
            job.result = payload  # type: ignore[assignment]
            self._finish(job)
        elif kind == "problem":
            job.problem = str(payload)
            self._finish(job)


_shared: TrainingBoard | None = None
_shared_lock = threading.Lock()


def shared_board() -> TrainingBoard:
    """The server's one board, made on first use by whichever comes first: the server
    starting, the first page, or the operator's health check. TLL_WORKERS sets how many
    runs train at once (2, for a 2-core box); TLL_DATA_DIR where datasets live."""
    global _shared
    with _shared_lock:
        if _shared is None:
            workers = int(os.environ.get("TLL_WORKERS", "2"))
            _shared = TrainingBoard(workers, data_dir=os.environ.get("TLL_DATA_DIR", "data"))
        return _shared
