"""Lesson 2.5, exercise 2: when do DataLoader workers win?

Two datasets of 64 examples. The slow one waits 10 ms in every __getitem__, a stand-in
for reading, decoding and augmenting an image file from disk. The fast one is a tensor already in
memory. Time one epoch of each with num_workers=0 and num_workers=2 (workers started
once, outside the timing, with persistent_workers=True), and the fast one also by
batched indexing. Check that the workers pay off only on the slow dataset, and that
they really are other processes.
"""

from __future__ import annotations

import os
import time

import torch
from torch.utils.data import DataLoader, Dataset

N, BATCH_SIZE, WORKERS = 64, 8, 2
DELAY_S = 0.01  # the pretend cost of reading and decoding one file


class InMemory(Dataset[tuple[torch.Tensor, int]]):
    """Examples already in memory: __getitem__ only picks a row."""

    def __init__(self, n: int) -> None:
        self.inputs = torch.randn(n, 64, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        # The id of the process doing the work: a worker's, or the main one's.
        return self.inputs[index], os.getpid()


class SlowFiles(InMemory):
    """The same examples, but each one takes DELAY_S to 'load', as a file from disk would."""

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        time.sleep(DELAY_S)  # waiting for the disk: other workers can run meanwhile
        return super().__getitem__(index)


def epoch_seconds(loader: DataLoader) -> tuple[float, set[int]]:
    """Seconds for one full epoch, and the ids of the processes that built its examples."""
    start = time.perf_counter()
    pids: set[int] = set()
    for _, batch_pids in loader:
        pids.update(batch_pids.tolist())
    return time.perf_counter() - start, pids


def loader_seconds(dataset: InMemory, workers: int) -> tuple[float, set[int]]:
    """One epoch; with workers, after a warm-up epoch, so that starting them is not counted."""
    loader = DataLoader(
        dataset,
        batch_size=BATCH_SIZE,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,  # keep the workers alive between epochs
    )
    if workers > 0:
        epoch_seconds(loader)  # warm-up: the workers start here
    return epoch_seconds(loader)


def indexed_seconds(dataset: InMemory) -> float:
    """One epoch of batched indexing: a permutation cut into batches of rows."""
    start = time.perf_counter()
    for batch in torch.randperm(N).split(BATCH_SIZE):
        _ = dataset.inputs[batch]  # the whole batch in one indexing operation
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    main_pid = os.getpid()
    slow, fast = SlowFiles(N), InMemory(N)
    slow_0, pids_0 = loader_seconds(slow, 0)
    slow_2, pids_2 = loader_seconds(slow, WORKERS)
    fast_0, _ = loader_seconds(fast, 0)
    fast_2, _ = loader_seconds(fast, WORKERS)
    indexed = min(indexed_seconds(fast) for _ in range(5))
    print(f"slow files : 0 workers {slow_0:.3f} s, {WORKERS} workers {slow_2:.3f} s")
    print(f"in memory  : 0 workers {fast_0:.4f} s, {WORKERS} workers {fast_2:.4f} s, ", end="")
    print(f"batched indexing {indexed:.5f} s")
    print(f"processes that built examples: {len(pids_0)} without workers, {len(pids_2)} with")

    assert pids_0 == {main_pid} and len(pids_2) == WORKERS and main_pid not in pids_2
    assert slow_0 > N * DELAY_S  # without workers every wait adds up
    assert slow_0 > 1.4 * slow_2  # two workers wait at the same time (at best 2x faster)
    assert indexed < fast_0 and indexed < fast_2  # in memory, batching beats any loader
    print("workers win when each example is slow to load; in memory, batched indexing wins")


if __name__ == "__main__":
    main()
