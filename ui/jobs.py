"""One training board per server: shared results, a small worker pool, a visible queue.

Runs are deterministic, so a config's key identifies its result: when a whole class
opens the same demo, the first request trains and everyone else gets the same curves
(while it trains, they watch the same job). At most `workers` trainings run at once;
the rest wait in a queue whose position each watcher can see.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from engine.config import RunConfig
from engine.data import load_data
from engine.loop import Record, train
from engine.records import EpochRecord, StepRecord
from engine.results import RunResult

FINAL = ("completed", "diverged", "crashed")  # statuses worth sharing; "stopped" is not


@dataclass
class TrainingJob:
    """One run being trained (or already trained) for one or more sessions."""

    config: RunConfig
    total_steps: int
    steps: list[StepRecord] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    result: RunResult | None = None
    problem: str | None = None  # a setup error (e.g. data unavailable), shown as is
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


def planned_steps(config: RunConfig, data_dir: str | None) -> int:
    """Epochs times batches per epoch, for the progress bar."""
    n_train = len(load_data(config, data_dir).train)
    return config.epochs * math.ceil(n_train / config.batch_size)


class TrainingBoard:
    """Shared across sessions (one per server process)."""

    def __init__(self, workers: int = 2, keep_results: int = 512,
                 data_dir: str | None = "data") -> None:
        self.workers = workers
        self.data_dir = data_dir
        self._slots = threading.Semaphore(workers)
        self._lock = threading.Lock()
        self._active: dict[str, TrainingJob] = {}
        self._waiting: list[str] = []
        self._results: OrderedDict[str, TrainingJob] = OrderedDict()
        self._keep = keep_results

    def submit(self, config: RunConfig, watcher: str) -> TrainingJob:
        """The job for this config: a finished one from the cache, a running one, or a new one.

        Raises ConfigError or DataUnavailableError at once for a config that cannot run.
        """
        key = config.key()
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
            if key in self._active:
                self._active[key].watchers.add(watcher)
                return self._active[key]
        job = TrainingJob(config, planned_steps(config, self.data_dir), watchers={watcher})
        with self._lock:
            if key in self._active:  # another session submitted it meanwhile
                self._active[key].watchers.add(watcher)
                return self._active[key]
            self._active[key] = job
            self._waiting.append(key)
        threading.Thread(target=self._work, args=(key, job), daemon=True,
                         name=f"train-{config.variant or 'baseline'}").start()
        return job

    def queue_position(self, job: TrainingJob) -> int:
        """0 while training or done; otherwise 1 for the next job to start, 2, ..."""
        key = job.config.key()
        with self._lock:
            return self._waiting.index(key) + 1 if key in self._waiting else 0

    def running(self) -> int:
        with self._lock:
            return len(self._active) - len(self._waiting)

    def stop(self, job: TrainingJob, watcher: str) -> None:
        """This watcher stops watching; the run stops only when nobody else watches it."""
        with self._lock:
            job.watchers.discard(watcher)
            if not job.watchers:
                job.stop_requested.set()

    def cached(self, config: RunConfig) -> RunResult | None:
        with self._lock:
            job = self._results.get(config.key())
        return job.result if job else None

    def _work(self, key: str, job: TrainingJob) -> None:
        with self._slots:
            with self._lock:
                self._waiting.remove(key)
            job.started = time.perf_counter()
            try:
                job.result = train(job.config, data_dir=self.data_dir, on_event=job.record,
                                   should_stop=job.stop_requested.is_set)
            except Exception as error:  # setup errors reach the page as a message
                job.problem = f"{type(error).__name__}: {error}"
        with self._lock:
            self._active.pop(key, None)
            if job.result is not None and job.result.status in FINAL:
                self._results[key] = job
                while len(self._results) > self._keep:
                    self._results.popitem(last=False)
        job.done.set()
