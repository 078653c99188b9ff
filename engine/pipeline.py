"""Lesson 2.5's measurement: a per-example `Dataset` + `DataLoader` against the engine's
batched indexing, in examples per second over one epoch of the digits training split."""

from __future__ import annotations

import time

import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from engine.config import default_config
from engine.data import load_data, make_loader
from engine.step import Split


class PerExampleDataset(Dataset[tuple[Tensor, Tensor]]):
    """The textbook Dataset: one example per __getitem__ call; the DataLoader collates."""

    def __init__(self, split: Split) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split.targets)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.split.inputs[index], self.split.targets[index]


def _epoch_seconds(batches: object) -> float:
    started = time.perf_counter()
    for _inputs, _targets in batches:  # type: ignore[attr-defined]
        pass
    return time.perf_counter() - started


def measure_throughput(
    batch_sizes: tuple[int, ...] = (8, 32, 128, 512), repeats: int = 3
) -> pd.DataFrame:
    """Examples per second of one shuffled epoch for each way and batch size (best of
    `repeats`, so a busy moment of the machine does not count). Columns: pipeline,
    batch_size, examples_per_s, epoch_ms."""
    train = load_data(default_config("digits")).train
    rows = []
    for batch_size in batch_sizes:
        ways = {
            "per-example Dataset + DataLoader": lambda b=batch_size: DataLoader(
                PerExampleDataset(train), batch_size=b, shuffle=True, num_workers=0
            ),
            "batched indexing (the engine)": lambda b=batch_size: make_loader(
                train, b, True, torch.Generator().manual_seed(0)
            ),
        }
        for name, loader in ways.items():
            seconds = min(_epoch_seconds(loader()) for _ in range(repeats))
            rows.append((name, batch_size, len(train.targets) / seconds, seconds * 1000))
    return pd.DataFrame(rows, columns=["pipeline", "batch_size", "examples_per_s", "epoch_ms"])
