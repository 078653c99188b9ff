"""Datasets as tensors: load once, split by seed, standardise with train statistics only.

Batches are cut in the order torch's samplers give (`RandomSampler` with the run's
generator, or `SequentialSampler`), but instead of building each example through a
per-sample transform, the dataset is indexed with a whole batch of positions at once
(`dataset[[3, 17, 42, ...]]` returns one batch). That keeps torch's shuffling while
skipping the per-sample work that dominates a conventional tutorial loop.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, RandomSampler, Sampler, SequentialSampler

from engine.config import RunConfig
from engine.step import DataBundle, Split

EMBEDDED = "digits"
IMAGE_SETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
VAL_FRACTION = 0.15
TEST_FRACTION = 0.15


class DataUnavailableError(RuntimeError):
    """A dataset could not be loaded; the message names the embedded fallback."""


@dataclass(frozen=True)
class _Raw:
    """A whole dataset before splitting; image sets carry their official test split."""

    inputs: Tensor
    targets: Tensor
    test_inputs: Tensor | None
    test_targets: Tensor | None
    task: str
    n_classes: int
    per_feature_stats: bool


def load_data(config: RunConfig, data_dir: str | os.PathLike[str] | None = None) -> DataBundle:
    """Build the train/val/test splits a run trains on.

    The split depends only on the dataset and seed, so a baseline and its broken
    variants see the same examples. Training-set options (subset, label noise,
    class-sorted order, one-hot targets) are applied on top.
    Raises DataUnavailableError when a downloadable set is not on disk.
    """
    bundle = _split_and_standardise(
        config.dataset, config.seed, _dir_key(data_dir), config.normalize, config.augment
    )
    train = bundle.train
    if config.subset is not None and config.subset < len(train):
        train = Split(train.inputs[: config.subset], train.targets[: config.subset])
    if config.label_noise > 0 and bundle.task == "classification":
        train = _add_label_noise(train, config.label_noise, bundle.n_classes, config.seed)
    if config.class_sorted and bundle.task == "classification":
        order = torch.sort(train.targets, stable=True).indices
        train = Split(train.inputs[order], train.targets[order])
    needs_one_hot = config.one_hot_labels or config.loss == "mse"
    if needs_one_hot and bundle.task == "classification":
        train, val, test = (_one_hot(s, bundle.n_classes) for s in (train, bundle.val, bundle.test))
        return DataBundle(
            bundle.name, bundle.task, train, val, test, bundle.n_classes, bundle.input_shape
        )
    return DataBundle(
        bundle.name,
        bundle.task,
        train,
        bundle.val,
        bundle.test,
        bundle.n_classes,
        bundle.input_shape,
    )


class BatchDataset(Dataset[tuple[Tensor, Tensor]]):
    """A map-style dataset whose index is a list of positions and whose item is a batch."""

    def __init__(self, split: Split) -> None:
        self.inputs = split.inputs
        self.targets = split.targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: Sequence[int] | Tensor) -> tuple[Tensor, Tensor]:
        positions = torch.as_tensor(index, device=self.inputs.device)
        # index_select gathers the rows about twice as fast as advanced indexing.
        return self.inputs.index_select(0, positions), self.targets.index_select(0, positions)


class Batches:
    """One epoch's batches, in exactly the order a `DataLoader` over the same samplers gives.

    A DataLoader adds a fetcher, collation checks and pin-memory logic to every batch. For
    a small dataset already in memory that machinery cost about a tenth of a whole digits
    run, so the engine walks the sampler itself (tests/test_data.py checks the batches
    match a DataLoader's, batch for batch).
    """

    def __init__(self, dataset: BatchDataset, batch_size: int, order: Sampler[int]) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.order = order

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        # A DataLoader draws its workers' base seed from torch's global generator as every
        # epoch starts. Drawing it here too keeps what that generator drives next (dropout
        # masks, augmentation) identical to a DataLoader-fed loop such as the exported script.
        torch.empty((), dtype=torch.int64).random_()
        positions = torch.tensor(list(self.order), dtype=torch.long)  # one shuffle per epoch
        for batch in positions.split(self.batch_size):
            yield self.dataset[batch]


def make_loader(
    split: Split, batch_size: int, shuffle: bool, generator: torch.Generator | None = None
) -> Batches:
    """The epoch's (inputs, targets) batches; `shuffle` reorders every epoch."""
    dataset = BatchDataset(split)
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return Batches(dataset, batch_size, order)


def _dir_key(data_dir: str | os.PathLike[str] | None) -> str:
    return str(Path(data_dir).expanduser().resolve()) if data_dir else ""


@functools.lru_cache(maxsize=6)
def _split_and_standardise(
    name: str, seed: int, data_dir: str, normalize: bool, augment: bool = False
) -> DataBundle:
    raw = _load_raw(name, data_dir, seed)
    train_idx, val_idx, test_idx = _split_indices(raw, seed)
    inputs = raw.inputs
    train_x = inputs[train_idx]
    if raw.test_inputs is not None:
        test_x, test_y = raw.test_inputs, raw.test_targets
    else:
        test_x, test_y = inputs[test_idx], raw.targets[test_idx]
    assert test_y is not None
    val_x = inputs[val_idx]
    if normalize:
        # Augmentation moves ink between pixels, so every pixel must be scaled alike:
        # one mean and std for the whole image, not one per pixel.
        mean, std = _train_statistics(train_x, raw.per_feature_stats and not augment)
        train_x, val_x, test_x = ((x - mean) / std for x in (train_x, val_x, test_x))
    return DataBundle(
        name=name,
        task=raw.task,
        train=Split(train_x, raw.targets[train_idx]),
        val=Split(val_x, raw.targets[val_idx]),
        test=Split(test_x, test_y),
        n_classes=raw.n_classes,
        input_shape=tuple(inputs.shape[1:]),
    )


def _train_statistics(train_x: Tensor, per_feature: bool) -> tuple[Tensor, Tensor]:
    if per_feature:
        mean, std = train_x.mean(dim=0), train_x.std(dim=0)
    else:
        mean, std = train_x.mean(), train_x.std()
    # A pixel that never changes in training (a digit's blank border) has std 0.
    return mean, torch.where(std > 1e-6, std, torch.ones_like(std))


def _split_indices(raw: _Raw, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Stratified random split: each class is shuffled and cut in the same proportions."""
    generator = torch.Generator().manual_seed(seed)
    n = len(raw.targets)
    has_test = raw.test_inputs is None
    groups = (
        [torch.arange(n)]
        if raw.task == "regression"
        else [torch.nonzero(raw.targets == k).flatten() for k in range(raw.n_classes)]
    )
    parts: tuple[list[Tensor], list[Tensor], list[Tensor]] = ([], [], [])
    for group in groups:
        group = group[torch.randperm(len(group), generator=generator)]
        n_val = round(len(group) * VAL_FRACTION)
        n_test = round(len(group) * TEST_FRACTION) if has_test else 0
        parts[1].append(group[:n_val])
        parts[2].append(group[n_val : n_val + n_test])
        parts[0].append(group[n_val + n_test :])
    train, val, test = (torch.cat(p) for p in parts)
    # Interleave classes so that "the first N examples" is a fair random subset.
    train = train[torch.randperm(len(train), generator=generator)]
    return train, val, test


def _add_label_noise(train: Split, fraction: float, n_classes: int, seed: int) -> Split:
    generator = torch.Generator().manual_seed(seed + 1)
    flip = torch.rand(len(train), generator=generator) < fraction
    random_labels = torch.randint(0, n_classes, (len(train),), generator=generator)
    return Split(train.inputs, torch.where(flip, random_labels, train.targets))


def _one_hot(split: Split, n_classes: int) -> Split:
    return Split(split.inputs, torch.nn.functional.one_hot(split.targets, n_classes).float())


def _load_raw(name: str, data_dir: str, seed: int) -> _Raw:
    if name == "digits":
        return _load_digits()
    if name in IMAGE_SETS:
        return _load_torchvision(name, data_dir)
    return _make_synthetic(name, seed)


@functools.lru_cache(maxsize=1)
def _load_digits() -> _Raw:
    # lazy: scikit-learn costs ~2 s to import; only a digits run needs it (bundled, no network)
    from sklearn.datasets import load_digits

    digits = load_digits()
    inputs = torch.tensor(digits.data, dtype=torch.float32).reshape(-1, 1, 8, 8)
    targets = torch.tensor(digits.target, dtype=torch.long)
    return _Raw(inputs, targets, None, None, "classification", 10, per_feature_stats=True)


def _load_torchvision(name: str, data_dir: str) -> _Raw:
    folder = IMAGE_SETS[name]
    root = Path(data_dir) if data_dir else Path("data")
    try:
        # lazy: torchvision costs ~3 s to import and only the image sets need it
        from torchvision import datasets

        dataset_class = getattr(datasets, folder)
        train = dataset_class(str(root), train=True, download=False)
        test = dataset_class(str(root), train=False, download=False)
    except (RuntimeError, OSError, ValueError) as error:
        raise DataUnavailableError(
            f"{name} is not available in {root}/{folder}/raw ({type(error).__name__}). "
            f"Download it once with `python -m engine download {name} --data-dir {root}` "
            f"while online, or use the embedded dataset '{EMBEDDED}', which needs no download."
        ) from None
    # Raw uint8 pixels scaled to 0..1 in one tensor operation, never per-sample PIL.
    return _Raw(
        train.data.unsqueeze(1).float() / 255.0,
        train.targets.long(),
        test.data.unsqueeze(1).float() / 255.0,
        test.targets.long(),
        "classification",
        10,
        per_feature_stats=False,
    )


def download(name: str, data_dir: str | os.PathLike[str]) -> Path:
    """Download MNIST or Fashion-MNIST into data_dir, all or nothing.

    Files land in a temporary folder first and are moved into place only when
    complete, so a failed download leaves nothing half-written behind. Returns the
    dataset's folder. Raises DataUnavailableError for a name that needs no download,
    for a data_dir that cannot be written (checked before any network access) and
    for a failed download.
    """
    if name not in IMAGE_SETS:
        raise DataUnavailableError(f"{name} needs no download; downloadable: mnist, fashion_mnist")
    root = Path(data_dir)
    try:  # a real probe file: as root, os.access passes whatever the permissions
        root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=root).close()
    except OSError as error:
        raise DataUnavailableError(
            f"data folder {root} cannot be written ({error.strerror or error}); "
            "choose a folder you can write to with --data-dir"
        ) from None
    # lazy: torchvision costs ~3 s to import and only a download needs it
    from torchvision import datasets

    folder = IMAGE_SETS[name]
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    try:
        dataset_class = getattr(datasets, folder)
        dataset_class(str(staging), train=True, download=True)
        dataset_class(str(staging), train=False, download=True)
        target = root / folder
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging / folder, target)
        return target
    except Exception as error:  # any network or disk failure means: nothing was written
        raise DataUnavailableError(
            f"could not download {name} ({type(error).__name__}: {error}); nothing was written "
            f"to {root}. The embedded dataset '{EMBEDDED}' works offline."
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _make_synthetic(name: str, seed: int) -> _Raw:
    generator = torch.Generator().manual_seed(seed)
    if name == "line":
        x = torch.randn(300, 1, generator=generator)
        y = 3.0 * x + 2.0 + 0.5 * torch.randn(300, 1, generator=generator)
        return _Raw(x, y, None, None, "regression", 0, per_feature_stats=True)
    if name == "wave":
        x = torch.rand(600, 1, generator=generator) * 6.0 - 3.0
        y = torch.sin(2.0 * x) + 0.3 * x + 0.1 * torch.randn(600, 1, generator=generator)
        return _Raw(x, y, None, None, "regression", 0, per_feature_stats=True)
    n_per_class = 300 if name != "spirals" else 200
    if name == "moons":
        points, labels = _moons(n_per_class, generator)
    elif name == "circles":
        points, labels = _circles(n_per_class, generator)
    else:
        points, labels = _spirals(n_per_class, generator)
    n_classes = int(labels.max()) + 1
    return _Raw(points, labels, None, None, "classification", n_classes, per_feature_stats=True)


def _moons(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    angle = torch.rand(n, generator=generator) * math.pi
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)
    points = torch.cat([upper, lower]) + 0.15 * torch.randn(2 * n, 2, generator=generator)
    return points, torch.cat([torch.zeros(n), torch.ones(n)]).long()


def _circles(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    angle = torch.rand(2 * n, generator=generator) * 2 * math.pi
    radius = torch.cat([torch.ones(n), 0.5 * torch.ones(n)])
    points = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    points = points + 0.08 * torch.randn(2 * n, 2, generator=generator)
    return points, torch.cat([torch.zeros(n), torch.ones(n)]).long()


def _spirals(n: int, generator: torch.Generator, arms: int = 3) -> tuple[Tensor, Tensor]:
    radius = torch.linspace(0.05, 1.0, n).repeat(arms)
    arm = torch.arange(arms).repeat_interleave(n)
    angle = arm * (2 * math.pi / arms) + radius * 4.0
    angle = angle + 0.25 * torch.randn(arms * n, generator=generator)
    points = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return points, arm.long()
