"""Lesson 2.5, exercise 1: count the batches of an epoch, with and without drop_last.

A Dataset that also returns each example's index lets us check what one shuffled epoch
really delivers: ceil(N/B) batches and every example exactly once, or with drop_last,
floor(N/B) batches and N mod B examples left out. A batch larger than the whole dataset
with drop_last=True gives an epoch with no batches at all.
"""

from __future__ import annotations

import math
from collections import Counter

import torch
from torch.utils.data import DataLoader, Dataset

N = 1259  # the app's digits training set


class IndexedDataset(Dataset[tuple[torch.Tensor, torch.Tensor, int]]):
    """N random 64-pixel examples with labels; each item also says where it came from."""

    def __init__(self, n: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(n, 64, generator=generator)
        self.labels = torch.randint(0, 10, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return self.inputs[index], self.labels[index], index


def one_epoch(dataset: IndexedDataset, batch_size: int, drop_last: bool) -> list[torch.Tensor]:
    """The index tensor of every batch of one shuffled epoch."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(batch_size),
    )
    batches = [indices for _, _, indices in loader]
    assert len(batches) == len(loader)  # len(loader) is the number of batches
    return batches


def main() -> None:
    dataset = IndexedDataset(N)
    print(f"N = {N}")
    for batch_size in (1, 32, 100, 256, N, 2000):
        kept = one_epoch(dataset, batch_size, drop_last=False)
        dropped = one_epoch(dataset, batch_size, drop_last=True)
        seen = Counter(torch.cat(kept).tolist())
        seen_dropped = Counter(torch.cat(dropped).tolist()) if dropped else Counter()
        last = len(kept[-1])
        print(
            f"B={batch_size:<5d} keep: {len(kept):4d} batches, last of {last:4d} | "
            f"drop_last: {len(dropped):4d} batches, {N - seen_dropped.total():4d} left out"
        )
        assert len(kept) == math.ceil(N / batch_size)
        assert len(dropped) == N // batch_size
        assert last == N - batch_size * (math.ceil(N / batch_size) - 1)
        assert sorted(seen) == list(range(N)) and set(seen.values()) == {1}
        assert set(seen_dropped.values()) <= {1}  # nothing twice, some never
        assert N - seen_dropped.total() == N % batch_size
    assert one_epoch(dataset, 2000, drop_last=True) == []  # B > N: no update at all
    print("ceil(N/B) batches with every example once per epoch; floor(N/B) with drop_last")


if __name__ == "__main__":
    main()
