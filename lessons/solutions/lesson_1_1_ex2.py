"""Lesson 1.1, exercise 2: an epochs / batches / iterations calculator.

Write iterations_per_epoch(n_examples, batch_size) and total_iterations(n_examples,
batch_size, epochs). An iteration is one optimizer step on one batch; the last batch of
an epoch may be smaller than the others. Check the formula against a real DataLoader for
the embedded digits training set (1,259 examples, batch 32, 20 epochs).
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader, TensorDataset


def iterations_per_epoch(n_examples: int, batch_size: int) -> int:
    """Batches in one pass over the data: ceil(N / B), the last one possibly smaller."""
    return math.ceil(n_examples / batch_size)


def total_iterations(n_examples: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps in a whole run: epochs x ceil(N / B)."""
    return epochs * iterations_per_epoch(n_examples, batch_size)


def count_with_a_loader(n_examples: int, batch_size: int, epochs: int) -> tuple[int, int]:
    """(steps counted by really looping, size of the last batch) for a fake dataset."""
    torch.manual_seed(0)
    dataset = TensorDataset(torch.zeros(n_examples, 1))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    steps, last_size = 0, 0
    for _ in range(epochs):
        for (batch,) in loader:
            steps += 1
            last_size = len(batch)
    return steps, last_size


def main() -> None:
    n, batch, epochs = 1259, 32, 20
    per_epoch = iterations_per_epoch(n, batch)
    total = total_iterations(n, batch, epochs)
    counted, last_size = count_with_a_loader(n, batch, epochs)

    assert per_epoch == 40
    assert total == counted == 800
    assert last_size == n - (per_epoch - 1) * batch == 11
    # Full-batch and one-example-at-a-time are the two extremes of the same formula.
    assert iterations_per_epoch(n, n) == 1
    assert iterations_per_epoch(n, 1) == n
    assert total_iterations(60_000, 64, 3) == 3 * 938  # MNIST: 937.5 rounds up

    print(
        f"N={n}, B={batch}: {per_epoch} iterations per epoch (last batch holds "
        f"{last_size} examples)"
    )
    print(f"{epochs} epochs x {per_epoch} iterations = {total} iterations")


if __name__ == "__main__":
    main()
