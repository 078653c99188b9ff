"""Time the Curve Doctor reading learners' logs: a long CSV, a long event file, the real logs.

Run from the repository root: `python -m benchmarks.bench_logs`. Prints figures, asserts
nothing. The real logs are read in place from ../shared/real_logs when it is there.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from engine.diagnosis import diagnose
from engine.training_log import parse_training_log, read_training_log

REAL_LOGS = Path(__file__).resolve().parents[2] / "shared" / "real_logs"
ROWS = 100_000


def long_csv() -> str:
    """A Hugging Face-shaped log: the train loss every step, eval every 100 steps."""
    lines = [
        f"{step},{2.3 * 0.9999**step:.5f},{2.2 * 0.9999**step if step % 100 == 0 else ''}"
        for step in range(1, ROWS + 1)
    ]
    return "step,loss,eval_loss\n" + "\n".join(lines) + "\n"


def event_file(folder: Path, scalars: int) -> Path:
    """A real event file from SummaryWriter with `scalars` train-loss values."""
    from torch.utils.tensorboard import SummaryWriter  # lazy: only this figure needs it

    writer = SummaryWriter(log_dir=str(folder))
    for step in range(scalars):
        writer.add_scalar("Loss/train", 2.3 * 0.9999**step, step)
    writer.close()
    return next(folder.glob("events.out.tfevents.*"))


def timed(label: str, read: object) -> None:
    start = time.perf_counter()
    log = read()  # type: ignore[operator]
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    label_found = diagnose(log).label
    print(f"{label}: read {read_s:.2f} s, diagnose {time.perf_counter() - start:.2f} s "
          f"({len(log.train_loss):,} rows, {label_found})")  # fmt: skip


def main() -> None:
    text = long_csv()
    timed(f"{ROWS:,}-row CSV", lambda: parse_training_log(text))
    with tempfile.TemporaryDirectory() as folder:
        path = event_file(Path(folder), 50_000)
        timed("50,000-scalar TensorBoard event file", lambda: read_training_log(path))
    if REAL_LOGS.is_dir():
        paths = sorted(REAL_LOGS.glob("*.csv"))
        start = time.perf_counter()
        for path in paths:
            diagnose(read_training_log(path))
        print(f"{len(paths)} real logs read and diagnosed: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
