"""Lesson 1.3, exercise 3: what a batch looks like without shuffling.

Make 1,000 labels stored sorted by class (100 of each of 10 classes), as many data files
are. Build a DataLoader of batch 32 with shuffle=False and one with shuffle=True, and count
the batches that hold a single class. Check that the unshuffled loader feeds the model one
class at a time while the shuffled one mixes every batch.
"""

from __future__ import annotations

from itertools import islice

import torch
from torch.utils.data import DataLoader, TensorDataset


def single_class_batches(loader: DataLoader) -> int:
    """How many batches contain one class only."""
    return sum(1 for (labels,) in loader if labels.unique().numel() == 1)


def main() -> None:
    torch.manual_seed(0)
    labels = torch.arange(10).repeat_interleave(100)  # 0,0,...,0,1,1,...,9: sorted
    dataset = TensorDataset(labels)
    generator = torch.Generator().manual_seed(0)
    sorted_loader = DataLoader(dataset, batch_size=32, shuffle=False)
    shuffled_loader = DataLoader(dataset, batch_size=32, shuffle=True, generator=generator)

    first_batches = [labels[:4].tolist() for (labels,) in islice(sorted_loader, 3)]
    print(f"first batches without shuffle start with: {first_batches}")
    unshuffled = single_class_batches(sorted_loader)
    shuffled = single_class_batches(shuffled_loader)
    print(
        f"single-class batches: shuffle=False {unshuffled} of {len(sorted_loader)}, "
        f"shuffle=True {shuffled} of {len(shuffled_loader)}"
    )

    assert unshuffled >= 20
    assert shuffled == 0
    print(
        "without shuffling most batches are single-class batches: the model sees one "
        "class at a time"
    )


if __name__ == "__main__":
    main()
