"""Lesson 2.5: two ways to feed mini-batches to a training loop, measured side by side.

Part 1 standardises scikit-learn's 8x8 digits with statistics of the training split
only, and shows how much the raw pixel scale (0 to 16) steepens the loss bowl.
Part 2 counts the batches of one epoch, with and without drop_last.
Part 3 times one epoch of data, then one epoch of training, two ways: a per-example
Dataset read by a DataLoader (num_workers=0), and batched indexing (a whole batch of
rows taken from the in-memory tensors at once). It prints examples per second and the
ratio. Timings depend on the machine and on what else it is doing: expect your numbers
to differ, but the batched version to come out ahead.

Run it with: python lesson_2_5.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, Dataset

SEED = 0
N_TRAIN = 1259  # the same training-set size as the app's digits data
BATCH_SIZES = (32, 256)
REPEATS = 3  # each timing is the best of 3 runs: the least disturbed by other programs


@dataclass(frozen=True)
class Timing:
    """Seconds for one epoch through each pipeline."""

    per_example: float  # a per-example Dataset read by a DataLoader
    batched: float  # batched indexing of the in-memory tensors


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class DigitsDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The canonical map-style dataset: its length, and one example per index."""

    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor) -> None:
        self.inputs = inputs
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.labels[index]  # one image [64] and its label []


def load_splits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw digits cut by a seeded permutation: (train_x, train_y, held_x, held_y)."""
    digits = load_digits()
    inputs = torch.tensor(digits.data, dtype=torch.float32)  # [1797, 64], values 0 to 16
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SEED))
    train, held = order[:N_TRAIN], order[N_TRAIN:]
    return inputs[train], labels[train], inputs[held], labels[held]


def standardise(train_x: torch.Tensor, held_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Subtract each pixel's training mean and divide by its training std, on both splits."""
    mean = train_x.mean(dim=0)  # statistics of the training split only
    std = train_x.std(dim=0)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))  # blank pixels: avoid 0 / 0
    return (train_x - mean) / std, (held_x - mean) / std


def largest_curvature(inputs: torch.Tensor) -> float:
    """Largest eigenvalue of H = (2/N) A^T A: the steepest direction of a linear model's
    mean-squared-error bowl (lesson 1.4), with A = the inputs plus a column of ones."""
    design = torch.cat([inputs, torch.ones(len(inputs), 1)], dim=1).double()
    hessian = 2 / len(design) * design.T @ design
    return torch.linalg.eigvalsh(hessian).max().item()


def show_standardisation(train_x: torch.Tensor, held_x: torch.Tensor) -> None:
    """Part 1: the raw scale, the standardised one, and what the scale does to the bowl."""
    print(f"raw pixels: {train_x.min():.0f} to {train_x.max():.0f}, ", end="")
    print(f"training mean {train_x.mean():.2f}, std {train_x.std():.2f}")
    std_train, std_held = standardise(train_x, held_x)
    blank = train_x.std(dim=0) <= 1e-6  # pixels that are 0 in every training image
    assert (std_train[:, blank] == 0).all()
    off_mean = std_train.mean(dim=0).abs().max().item()
    off_std = (std_train[:, ~blank].std(dim=0) - 1).abs().max().item()
    print(f"standardised training pixels: means within {off_mean:.0e} of 0, ", end="")
    print(f"stds within {off_std:.0e} of 1 ({int(blank.sum())} blank pixels stay 0)")
    print(f"held-out pixel means: up to {std_held.mean(dim=0).abs().max():.2f} away from 0")
    raw, scaled = largest_curvature(train_x), largest_curvature(std_train)
    print(f"largest curvature of a linear model's MSE bowl: raw {raw:.0f}, ", end="")
    print(f"standardised {scaled:.1f} ({raw / scaled:.0f}x steeper)")
    print(f"stable learning rates (below 2 / curvature): raw {2 / raw:.5f}, ", end="")
    print(f"standardised {2 / scaled:.3f}")


def count_batches(dataset: DigitsDataset) -> None:
    """Part 2: batches per epoch, keeping or dropping the last partial batch."""
    n = len(dataset)
    for batch_size in BATCH_SIZES:
        kept = DataLoader(dataset, batch_size=batch_size, drop_last=False)
        dropped = DataLoader(dataset, batch_size=batch_size, drop_last=True)
        last = len(list(kept)[-1][1])
        assert len(kept) == math.ceil(n / batch_size) and len(dropped) == n // batch_size
        print(
            f"B={batch_size:<3d} drop_last=False: {len(kept)} batches (the last has {last}); "
            f"drop_last=True: {len(dropped)} batches ({n % batch_size} examples left out)"
        )


def wait_for(device: torch.device) -> None:
    """GPU work runs in the background: wait for it before reading the clock."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def best_time(run_epoch: Callable[[], None], device: torch.device) -> float:
    """Seconds for one epoch: the fastest of REPEATS runs, after one warm-up run."""
    run_epoch()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run_epoch()
        wait_for(device)
        times.append(time.perf_counter() - start)
    return min(times)


def loader_epoch(
    dataset: DigitsDataset, batch_size: int, use: Callable[[torch.Tensor, torch.Tensor], None]
) -> Callable[[], None]:
    """One shuffled epoch through a DataLoader: B calls of __getitem__, then a collate."""

    def run() -> None:
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
        for inputs, labels in loader:
            use(inputs, labels)

    return run


def indexed_epoch(
    dataset: DigitsDataset, batch_size: int, use: Callable[[torch.Tensor, torch.Tensor], None]
) -> Callable[[], None]:
    """One shuffled epoch by batched indexing: a permutation, cut into batches of rows."""
    inputs, labels = dataset.inputs, dataset.labels

    def run() -> None:
        order = torch.randperm(len(labels), device=labels.device)  # a fresh order each epoch
        for batch in order.split(batch_size):  # ceil(N / B) index tensors
            use(inputs[batch], labels[batch])  # the whole batch in one indexing operation

    return run


def same_batches(dataset: DigitsDataset, batch_size: int) -> bool:
    """Given the same order, both pipelines deliver exactly the same batches."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(SEED))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order.tolist())
    indexed = order.to(dataset.labels.device).split(batch_size)
    return all(
        torch.equal(x, dataset.inputs[batch]) and torch.equal(y, dataset.labels[batch])
        for (x, y), batch in zip(loader, indexed, strict=True)
    )


def training_step(device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """The course's digits MLP and its four steps, as one function of a batch."""
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(inputs: torch.Tensor, labels: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), labels)  # forward and loss
        loss.backward()  # backward
        optimizer.step()  # step

    return step


def measure(dataset: DigitsDataset, device: torch.device) -> dict[tuple[str, int], Timing]:
    """Seconds per epoch of both pipelines, for data alone and for training, at each B."""
    work: dict[str, Callable[[torch.Tensor, torch.Tensor], None]] = {
        "data only": lambda inputs, labels: None,  # just deliver the batches
        "training": training_step(device),  # forward, loss, backward, step on each
    }
    timings = {}
    for name, use in work.items():
        for batch_size in BATCH_SIZES:
            per_example = best_time(loader_epoch(dataset, batch_size, use), device)
            batched = best_time(indexed_epoch(dataset, batch_size, use), device)
            timings[name, batch_size] = Timing(per_example, batched)
    return timings


def compare_speed(dataset: DigitsDataset, device: torch.device) -> None:
    """Part 3: examples per second of both pipelines, and how many times faster batching is."""
    n = len(dataset)
    print(f"same batches from both pipelines: {same_batches(dataset, BATCH_SIZES[0])}")
    for (name, batch_size), timing in measure(dataset, device).items():
        if batch_size == BATCH_SIZES[0]:
            print(f"one epoch, {name} (examples per second, best of {REPEATS}):")
        print(
            f"  B={batch_size:<3d} Dataset + DataLoader {n / timing.per_example:>11,.0f}/s   "
            f"batched indexing {n / timing.batched:>11,.0f}/s   "
            f"ratio {timing.per_example / timing.batched:.1f}x"
        )


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    train_x, train_y, held_x, _ = load_splits()
    print(f"device: {device.type}; {len(train_y)} training digits, {len(held_x)} held out")
    show_standardisation(train_x, held_x)

    std_train, _ = standardise(train_x, held_x)
    dataset = DigitsDataset(std_train.to(device), train_y.to(device))
    count_batches(dataset)
    compare_speed(dataset, device)


if __name__ == "__main__":
    main()
