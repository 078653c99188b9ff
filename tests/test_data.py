from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from engine.config import default_config
from engine.data import BatchDataset, DataUnavailableError, download, load_data, make_loader
from tests.mnist_files import write_mnist_format


def test_digits_split_is_stratified_disjoint_and_deterministic() -> None:
    data = load_data(default_config())
    sizes = len(data.train), len(data.val), len(data.test)
    assert sum(sizes) == 1797 and 265 <= sizes[1] <= 275 and 265 <= sizes[2] <= 275
    again = load_data(default_config())
    assert torch.equal(data.train.inputs, again.train.inputs)
    other = load_data(default_config(seed=7))
    assert not torch.equal(data.train.targets, other.train.targets)
    # Every class is present in val in about its overall share (~10%).
    assert torch.bincount(data.val.targets, minlength=10).min() >= 24


def test_inputs_are_standardised_with_training_statistics_only() -> None:
    data = load_data(default_config())
    flat = data.train.inputs.flatten(1)
    varying = flat.std(dim=0) > 0.5
    assert flat.mean(dim=0).abs().max() < 1e-5
    assert torch.allclose(flat.std(dim=0)[varying], torch.ones(int(varying.sum())), atol=1e-4)
    assert data.val.inputs.flatten(1).mean(dim=0).abs().max() > 1e-3  # not refit on val


def test_unstandardised_option_keeps_raw_pixels() -> None:
    data = load_data(default_config(normalize=False))
    assert data.train.inputs.min() == 0 and data.train.inputs.max() == 16


def test_loader_gives_a_dataloaders_batches_and_shuffles_every_epoch() -> None:
    data = load_data(default_config())
    generator = torch.Generator().manual_seed(0)
    loader = make_loader(data.train, 32, shuffle=True, generator=generator)
    # The same samplers through a real DataLoader, two epochs each: identical batches.
    reference_generator = torch.Generator().manual_seed(0)
    sampler = BatchSampler(
        RandomSampler(BatchDataset(data.train), generator=reference_generator), 32, False
    )
    reference = DataLoader(BatchDataset(data.train), sampler=sampler, batch_size=None)
    for _ in range(2):
        torch.manual_seed(1)
        ours, after_ours = list(make_loader(data.train, 32, True, generator)), torch.rand(3)
        torch.manual_seed(1)
        theirs, after_theirs = list(reference), torch.rand(3)
        # ...and torch's global generator (dropout's) is left where a DataLoader leaves it.
        assert torch.equal(after_ours, after_theirs)
        assert len(ours) == len(theirs) == 40
        for (inputs, targets), (their_inputs, their_targets) in zip(ours, theirs, strict=True):
            assert torch.equal(inputs, their_inputs) and torch.equal(targets, their_targets)
    generator.manual_seed(0)
    first = torch.cat([targets for _, targets in loader])
    second = torch.cat([targets for _, targets in loader])
    assert len(first) == len(data.train)
    assert torch.equal(torch.sort(first).values, torch.sort(data.train.targets).values)
    assert not torch.equal(first, second)
    in_order = torch.cat([t for _, t in make_loader(data.train, 32, shuffle=False)])
    assert torch.equal(in_order, data.train.targets)
    inputs, targets = next(iter(loader))
    assert inputs.shape == (32, 1, 8, 8) and targets.shape == (32,)


def test_training_set_options() -> None:
    sorted_data = load_data(default_config(class_sorted=True))
    assert torch.equal(sorted_data.train.targets, torch.sort(sorted_data.train.targets).values)
    assert len(load_data(default_config(subset=50)).train) == 50
    clean = load_data(default_config()).train.targets
    noisy = load_data(default_config(label_noise=0.5)).train.targets
    changed = (clean != noisy).float().mean()
    assert 0.35 < changed < 0.55  # half resampled, a tenth of those land on the same class
    one_hot = load_data(default_config(one_hot_labels=True))
    assert one_hot.train.targets.shape == (len(one_hot.train), 10)
    assert torch.equal(one_hot.train.labels, clean)


@pytest.mark.parametrize(("name", "classes"), [("moons", 2), ("circles", 2), ("spirals", 3)])
def test_two_dimensional_datasets(name: str, classes: int) -> None:
    data = load_data(default_config(name))
    assert data.input_shape == (2,) and data.n_classes == classes
    assert set(data.train.targets.tolist()) == set(range(classes))


def test_line_dataset_is_regression() -> None:
    data = load_data(default_config("line"))
    assert data.task == "regression" and data.train.targets.shape[1] == 1


def test_mnist_path_reads_idx_files(tmp_path: Path) -> None:
    write_mnist_format(tmp_path, n_train=600, n_test=100)
    data = load_data(default_config("mnist"), data_dir=tmp_path)
    assert data.input_shape == (1, 28, 28)
    assert len(data.test) == 100 and len(data.train) + len(data.val) == 600
    assert abs(float(data.train.inputs.mean())) < 1e-4  # one global mean/std from train


def test_missing_mnist_names_the_embedded_fallback(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError) as caught:
        load_data(default_config("fashion_mnist"), data_dir=tmp_path)
    assert "digits" in str(caught.value) and "download" in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_failed_download_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchvision import datasets

    def offline(root: str, train: bool, download: bool) -> None:
        Path(root, "MNIST", "raw").mkdir(parents=True)
        Path(root, "MNIST", "raw", "train-images-idx3-ubyte.gz").write_bytes(b"half")
        raise OSError("network is unreachable")

    monkeypatch.setattr(datasets, "MNIST", offline)
    with pytest.raises(DataUnavailableError, match="nothing was written"):
        download("mnist", tmp_path)
    assert os.listdir(tmp_path) == []
