"""Lesson 2.5: every number, formula and claim the text states, checked by running code.

The lesson's program starts in the background when this module begins (its own process,
on the CPU) and is read back by the tests at the end. Timings differ between machines and
runs, so the lesson quotes them only as relations "on our test machine" (batched indexing
more than ten times faster, and so on). The timing test checks those relations on the
program's own output; if the machine is busy and one fails, it measures again, up to
twice, with the program's own functions. All three attempts failing fails the test.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import os
import re
import sys
import time
import tomllib
import warnings
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, default_collate

import engine.data
import engine.loop
from engine.config import default_config
from engine.data import BatchDataset, load_data, make_loader
from engine.variants import apply_variant
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import BackgroundPrograms, check_stands_alone, lesson_section

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_2_5.py"
PROGRAM_TIMEOUT_S = 120  # about 5 s on an idle 2-core machine; far more on a busy one
LESSON = load_lesson(lesson_path("2.5"))
RAW = lesson_path("2.5").read_text(encoding="utf-8")  # as written, program not expanded
TEXT = " ".join(RAW.split())  # line breaks as spaces
N = 1259
_runs: list[BackgroundPrograms] = []


section = partial(lesson_section, "2.5")


def code_blocks() -> list[str]:
    """The Python fragments written into In depth (not the program or engine sources)."""
    return re.findall(r"```python\n(.*?)```", section("In depth"), re.S)


def fragment_containing(text: str) -> str:
    found = [block for block in code_blocks() if text in block]
    assert len(found) == 1, text
    return found[0]


def import_program() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lesson_2_5_program", PROGRAM)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lesson_2_5_program"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def program_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"2.5": PROGRAM}, PROGRAM_TIMEOUT_S))
    yield
    _runs.pop().stop()


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return import_program()


@pytest.fixture(scope="module")
def digits(program: ModuleType) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return program.load_splits()


def program_output() -> str:
    return _runs[-1].output("2.5")


# ------------------------------------------------------------------ front matter and demo


def test_front_matter_names_the_variants_and_the_digits_baseline() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert meta["variants"] == ["no_shuffle", "unnormalized_inputs"]
    assert meta["baseline"] == {"dataset": "digits"}
    assert LESSON.variants == ("no_shuffle", "unnormalized_inputs")


def test_try_it_describes_the_demo_runs_as_the_engine_trains_them() -> None:
    # "the course's digits MLP (64 inputs, hidden layers of 128 and 64 with ReLU, 10
    # classes, Adam at learning rate 0.001, batch 32, 20 epochs, shuffled every epoch,
    # standardised inputs)"; no_shuffle reads class-sorted data in order; unnormalized
    # inputs are the raw 0 to 16.
    config = default_config(**tomllib.loads(RAW.split("+++")[1])["baseline"])
    assert (config.model, config.hidden, config.activation) == ("mlp", (128, 64), "relu")
    assert (config.optimizer, config.lr, config.batch_size, config.epochs) == ("adam", 1e-3, 32, 20)
    assert config.shuffle and config.normalize and not config.class_sorted
    data = load_data(config)
    assert math.prod(data.input_shape) == 64 and data.n_classes == 10
    sorted_run = apply_variant(config, "no_shuffle")
    assert not sorted_run.shuffle and sorted_run.class_sorted
    raw_run = apply_variant(config, "unnormalized_inputs")
    assert not raw_run.normalize
    raw = load_data(raw_run).train.inputs
    assert (raw.min().item(), raw.max().item()) == (0.0, 16.0)

    try_it = " ".join(section("Try it").split())
    assert (
        "(64 inputs, hidden layers of 128 and 64 with ReLU, 10 classes, Adam at learning "
        "rate 0.001, batch 32, 20 epochs, shuffled every epoch, standardised inputs)"
    ) in try_it
    assert "the raw pixel values, 0 to 16, go in without standardising" in try_it
    # Only the settings appear as numbers: nothing measured in the demo is quoted.
    numbers = set(re.findall(r"\d+(?:\.\d+)?", try_it))
    assert numbers <= {"64", "128", "10", "0.001", "32", "20", "0", "16"}, numbers


def test_try_it_asks_for_a_prediction_before_training() -> None:
    try_it = section("Try it")
    assert try_it.index("predict each broken run's fate") < try_it.index("Then train")
    assert "Before you press **Train**" in try_it and "?" in try_it
    for answer in ("saw", "faster", "slower than the baseline", "%"):
        assert answer not in try_it  # no outcome given away


def test_sorted_batches_hold_one_or_two_classes_and_shuffled_ones_mix() -> None:
    # "each batch holds one class, or two where classes meet"; "shuffle=True makes every
    # batch a fair sample of all classes".
    config = default_config("digits", epochs=1)
    sorted_train = load_data(apply_variant(config, "no_shuffle")).train
    assert len(sorted_train) == N
    counts = [
        targets.unique().numel() for _, targets in make_loader(sorted_train, 32, shuffle=False)
    ]
    assert set(counts) == {1, 2}
    generator = torch.Generator().manual_seed(0)
    shuffled = make_loader(sorted_train, 32, shuffle=True, generator=generator)
    mixed = [targets.unique().numel() for _, targets in shuffled]
    assert min(mixed) > 1 and sum(mixed) / len(mixed) > 8
    assert "each batch holds one class, or two where classes meet" in TEXT


def test_eli5_has_no_jargon() -> None:
    eli5 = section("ELI5").lower()
    for word in ("tensor", "gradient", "dataloader", "dataset", "batch", "epoch", "normalis"):
        assert word not in eli5, word


# ------------------------------------------------------------------ batches per epoch


@pytest.mark.parametrize(
    ("n", "batch_size", "keep", "last", "drop", "left_out"),
    [(N, 32, 40, 11, 39, 11), (N, 256, 5, 235, 4, 235), (1000, 64, 16, 40, 15, 40)],
)
def test_batches_per_epoch_are_ceil_and_floor_of_n_over_b(
    n: int, batch_size: int, keep: int, last: int, drop: int, left_out: int
) -> None:
    dataset = torch.utils.data.TensorDataset(torch.arange(n))
    kept = [len(b) for (b,) in DataLoader(dataset, batch_size=batch_size, shuffle=True)]
    dropped = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    seen = torch.cat([b for (b,) in dropped])
    assert len(kept) == math.ceil(n / batch_size) == keep and kept[-1] == last
    assert kept[-1] == n - batch_size * (keep - 1)  # the formula for the last batch
    assert len(dropped) == n // batch_size == drop
    assert n - len(seen) == n % batch_size == left_out and len(seen.unique()) == len(seen)


def test_the_lesson_quotes_those_counts() -> None:
    assert "$B = 32$ gives 40 batches (the last holds 11) or 39" in TEXT
    assert "$B = 256$ gives 5 (the last holds 235) or 4, and then `drop_last` skips 235" in TEXT
    assert "almost a fifth of the data" in TEXT and 0.17 < 235 / N < 0.2
    assert "5 updates instead of 40" in TEXT
    # The quick check: 15 batches cover 960 examples, 40 skipped, 16 without drop_last.
    question = LESSON.questions[0]
    assert question.options[question.correct] == "15 batches, 40 skipped"
    assert 1000 // 64 == 15 and 15 * 64 == 960 and 1000 % 64 == 40 and math.ceil(1000 / 64) == 16


def test_drop_last_with_shuffling_skips_a_different_few_each_epoch() -> None:
    # "skips the N mod B leftover examples (with shuffling, a different few each epoch)"
    dataset = torch.utils.data.TensorDataset(torch.arange(N))
    loader = DataLoader(dataset, batch_size=32, shuffle=True, drop_last=True)
    skipped = [set(range(N)) - set(torch.cat([b for (b,) in loader]).tolist()) for _ in range(3)]
    assert all(len(left_out) == 11 for left_out in skipped)
    assert skipped[0] != skipped[1] != skipped[2]


@pytest.mark.parametrize("n", [1, 7, 1259, 1260])
@pytest.mark.parametrize("batch_size", [3, 7, 32, 1259, 2000])
def test_last_batch_is_full_only_when_b_divides_n(n: int, batch_size: int) -> None:
    # "the remaining N - B (n_keep - 1) examples, fewer than B unless B divides N"
    keep = math.ceil(n / batch_size)
    last = n - batch_size * (keep - 1)
    dataset = torch.utils.data.TensorDataset(torch.zeros(n))
    sizes = [len(b) for (b,) in DataLoader(dataset, batch_size)]
    assert sizes[-1] == last and len(sizes) == keep
    assert (last == batch_size) == (n % batch_size == 0)


# ------------------------------------------------------------------ the two pipelines


class CountingDataset(Dataset[tuple[Tensor, Tensor]]):
    """The lesson's per-example dataset, counting its __getitem__ calls."""

    def __init__(self, inputs: Tensor, labels: Tensor) -> None:
        self.inputs, self.labels, self.calls = inputs, labels, 0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        self.calls += 1
        return self.inputs[index], self.labels[index]


@pytest.mark.parametrize("batch_size", [32, 256])
def test_the_loader_calls_getitem_once_per_example_whatever_b(batch_size: int) -> None:
    # "The loader makes 1,259 calls to `__getitem__` per epoch whatever B is"
    dataset = CountingDataset(torch.randn(N, 64), torch.randint(0, 10, (N,)))
    batches = list(DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0))
    assert dataset.calls == N and len(batches) == math.ceil(N / batch_size)
    assert "The loader makes 1,259 calls to `__getitem__` per epoch whatever $B$ is" in TEXT


def test_the_collate_fragment_is_what_the_loader_does() -> None:
    # The plain-code batch: 32 calls, then torch.stack into [32, 64] and [32].
    dataset = CountingDataset(torch.randn(100, 64), torch.randint(0, 10, (100,)))
    positions = torch.randperm(100)[:32].tolist()
    namespace = {"torch": torch, "dataset": dataset, "positions": positions}
    exec(fragment_containing("pairs = [dataset[i]"), namespace)  # noqa: S102
    assert dataset.calls == 32
    assert namespace["inputs"].shape == (32, 64) and namespace["labels"].shape == (32,)
    inputs, labels = next(iter(DataLoader(dataset, batch_size=32, sampler=positions)))
    assert torch.equal(inputs, namespace["inputs"]) and torch.equal(labels, namespace["labels"])
    pairs = [dataset[i] for i in positions]
    collated = default_collate(pairs)
    assert all(torch.equal(a, b) for a, b in zip(collated, (inputs, labels), strict=True))


def test_the_dataset_fragment_builds_a_loader_of_ceil_n_over_b_batches() -> None:
    x, y = torch.randn(N, 64), torch.randint(0, 10, (N,))
    namespace: dict = {"x": x, "y": y}
    exec(fragment_containing("class DigitsDataset"), namespace)  # noqa: S102
    loader = namespace["loader"]
    sizes = [(tuple(a.shape), tuple(b.shape)) for a, b in loader]
    assert len(loader) == len(sizes) == 40 and loader.num_workers == 0
    assert sizes[0] == ((32, 64), (32,)) and sizes[-1] == ((11, 64), (11,))


def test_the_batched_indexing_fragment_covers_every_example_once() -> None:
    x, y = torch.arange(N).unsqueeze(1).float(), torch.arange(N)
    fragment = fragment_containing("order.split(32)")
    collected: list[Tensor] = []
    looped = fragment.replace(
        "inputs, targets = x[batch], y[batch]",
        "inputs, targets = x[batch], y[batch]\n    collected.append(targets)",
    )
    assert looped != fragment
    exec(looped, {"torch": torch, "x": x, "y": y, "collected": collected})  # noqa: S102
    assert len(collected) == math.ceil(N / 32) and len(collected[-1]) == 11
    assert torch.equal(torch.cat(collected).sort().values, torch.arange(N))


def test_shuffling_permutes_positions_and_never_copies_the_data() -> None:
    # "one permutation of positions per epoch, no copy of the data", in both pipelines.
    dataset = CountingDataset(torch.randn(50, 64), torch.arange(50))
    pointer = dataset.inputs.data_ptr()
    order = list(RandomSampler(dataset, generator=torch.Generator().manual_seed(0)))
    assert sorted(order) == list(range(50)) and order != list(range(50))
    for _ in DataLoader(dataset, batch_size=8, shuffle=True):
        pass
    assert dataset.inputs.data_ptr() == pointer and torch.equal(dataset.labels, torch.arange(50))


def test_the_engine_indexes_whole_batches_without_collating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The engine's dataset takes a list of positions and returns a whole batch; its loader
    # cuts the RandomSampler's order into batches, so __getitem__ runs once per batch.
    train_split = load_data(default_config("digits")).train
    dataset = BatchDataset(train_split)
    inputs, targets = dataset[[3, 17, 42]]
    assert torch.equal(inputs, train_split.inputs[[3, 17, 42]])
    assert torch.equal(targets, train_split.targets[[3, 17, 42]])

    calls = []
    original = engine.data.BatchDataset.__getitem__

    def counted(self: BatchDataset, index: list[int]) -> tuple[Tensor, Tensor]:
        calls.append(len(index))
        return original(self, index)

    monkeypatch.setattr(engine.data.BatchDataset, "__getitem__", counted)
    loader = make_loader(train_split, 32, shuffle=True)
    sizes = [len(targets) for _, targets in loader]
    assert isinstance(loader.order, torch.utils.data.RandomSampler)
    assert calls == sizes and len(calls) == len(loader) == 40 and sum(calls) == N
    in_depth = LESSON.sections["In depth"]
    for shown in ("class BatchDataset(", "class Batches:", "def make_loader("):
        assert shown in in_depth
    # "which is how this app's engine feeds its small datasets": the training loop's loader
    assert "make_loader(" in inspect.getsource(engine.loop.run_epoch)
    assert "exactly those a `DataLoader` over the same sampler would hand out" in TEXT


@pytest.mark.parametrize("batch_size", [32, 7])
def test_both_pipelines_deliver_the_same_batches(program: ModuleType, batch_size: int) -> None:
    inputs, labels = torch.randn(N, 64), torch.randint(0, 10, (N,))
    assert program.same_batches(program.DigitsDataset(inputs, labels), batch_size)


def test_per_example_cost_is_microseconds_batched_is_nanoseconds() -> None:
    # "In a per-example Dataset ... microseconds. In batched indexing, copying 64 numbers:
    # nanoseconds."
    x, y = torch.randn(N, 64), torch.randint(0, 10, (N,))
    dataset = CountingDataset(x, y)
    loader_times, index_times = [], []
    for _ in range(5):
        start = time.perf_counter()
        for _ in DataLoader(dataset, batch_size=32, shuffle=True):
            pass
        loader_times.append((time.perf_counter() - start) / N)
        order = torch.randperm(N)
        start = time.perf_counter()
        _ = x[order]  # the whole epoch's rows in one indexing operation
        index_times.append((time.perf_counter() - start) / N)
    assert min(loader_times) > 1e-6 and min(index_times) < 1e-6


def _timing_failures(
    data: dict[int, tuple[float, float]], train: dict[int, tuple[float, float]]
) -> list[str]:
    """The lesson's timing relations on (per-example, batched) seconds per epoch."""
    failures = []
    for b in (32, 256):
        if not data[b][0] > 10 * data[b][1]:
            failures.append(f"B={b}: batched data not more than ten times faster")
        if not data[b][0] / data[b][1] > train[b][0] / train[b][1]:
            failures.append(f"B={b}: the gap did not shrink in training")
    if not data[32][1] / data[256][1] > data[32][0] / data[256][0]:
        failures.append("going to 256 helped the loader as much as batched indexing")
    if not train[256][0] / train[256][1] > train[32][0] / train[32][1]:
        failures.append("the training gap was not widest at 256")
    if not train[32][1] > 1.3 * train[256][1]:
        failures.append("a batched training epoch at 256 was not faster than at 32")
    return failures


def _parse_timings(
    output: str,
) -> tuple[dict[int, tuple[float, float]], dict[int, tuple[float, float]]]:
    """Per-epoch seconds from the printed examples per second."""
    data_part, _, train_part = output.partition("one epoch, training")
    tables = []
    for part in (data_part, train_part):
        rows = re.findall(
            r"B=(\d+) +Dataset \+ DataLoader +([\d,]+)/s +batched indexing +([\d,]+)/s +ratio",
            part,
        )
        tables.append(
            {
                int(b): (N / float(a.replace(",", "")), N / float(c.replace(",", "")))
                for b, a, c in rows
            }
        )
    assert sorted(tables[0]) == sorted(tables[1]) == [32, 256], output
    return tables[0], tables[1]


def test_program_timings_follow_what_the_lesson_says(program: ModuleType) -> None:
    output = program_output()
    assert "same batches from both pipelines: True" in output
    assert "best of 3" in output and program.REPEATS == 3 and "keeps the best of 3" in TEXT
    attempts = [_timing_failures(*_parse_timings(output))]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the program runs
    try:
        train_x, train_y, held_x, _ = program.load_splits()
        standardised, _ = program.standardise(train_x, held_x)
        dataset = program.DigitsDataset(standardised, train_y)
        while attempts[-1] and len(attempts) < 3:  # a busy machine: measure again
            timings = program.measure(dataset, torch.device("cpu"))
            data = {
                b: (t.per_example, t.batched) for (w, b), t in timings.items() if w == "data only"
            }
            train = {
                b: (t.per_example, t.batched) for (w, b), t in timings.items() if w == "training"
            }
            attempts.append(_timing_failures(data, train))
    finally:
        torch.set_num_threads(threads)
    assert not attempts[-1], attempts
    for quoted in (
        "batched indexing delivered the data more than ten times faster than the per-example "
        "loader at both batch sizes",
        "going from 32 to 256 helped batched indexing more than it helped the loader",
        "In training, the gap shrinks",
        "On our test machine it was widest at $B = 256$",
        "on our test machine a batched training epoch ran faster too",
    ):
        assert quoted in TEXT, quoted


# ------------------------------------------------------------------ workers


class WhoBuilds(Dataset[tuple[Tensor, int]]):
    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return torch.zeros(4), os.getpid()


def collate_with_pid(pairs: list[tuple[Tensor, int]]) -> tuple[Tensor, Tensor, int]:
    inputs, built_by = default_collate(pairs)
    return inputs, built_by, os.getpid()


def _worker_pids(persistent: bool) -> list[set[int]]:
    loader = DataLoader(
        WhoBuilds(), batch_size=16, num_workers=2, collate_fn=collate_with_pid,
        persistent_workers=persistent,
    )  # fmt: skip
    epochs = []
    for _ in range(2):
        pids = set()
        for _, built_by, collated_by in loader:
            assert set(built_by.tolist()) == {collated_by}  # the worker collates its batch
            pids.add(collated_by)
        epochs.append(pids)
    return epochs


def test_workers_are_processes_that_collate_and_persistent_ones_stay() -> None:
    # "four separate processes call __getitem__ and collate batches"; persistent_workers
    # keeps the workers alive between epochs (without it, each epoch starts new ones).
    kept = _worker_pids(persistent=True)
    assert kept[0] == kept[1] and len(kept[0]) == 2 and os.getpid() not in kept[0]
    fresh = _worker_pids(persistent=False)
    assert fresh[0].isdisjoint(fresh[1]) and len(fresh[1]) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 4 workers on a 2-core machine: only a warning
        namespace = {"DataLoader": DataLoader, "image_files": WhoBuilds()}
        exec(fragment_containing("num_workers=4"), namespace)  # noqa: S102
    assert namespace["loader"].num_workers == 4 and namespace["loader"].persistent_workers


# ------------------------------------------------------------------ last batch, noise


def _example_gradients(n: int) -> Tensor:
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(5)).double()


def _misses(rows: Tensor, batch_size: int, shuffles: int) -> Tensor:
    """|g_B - full|^2 of every full batch and of the last batch, over shuffled epochs."""
    n = len(rows)
    generator = torch.Generator().manual_seed(batch_size)
    order = torch.rand(shuffles, n, generator=generator).argsort(dim=1)
    full = rows.mean(dim=0)
    whole = (n // batch_size) * batch_size
    batches = rows[order[:, :whole]].reshape(shuffles, -1, batch_size, rows.shape[1]).mean(dim=2)
    return (batches - full).pow(2).sum(dim=-1).flatten()


def test_noise_falls_by_9_8_from_32_to_256() -> None:
    # "falls by 8 * 1227/1003 = 9.8 from B = 32 to B = 256 at N = 1259"
    def formula(b: int) -> float:
        return 1 / b * (N - b) / (N - 1)

    assert math.isclose(formula(32) / formula(256), 8 * 1227 / 1003)
    assert f"{8 * 1227 / 1003:.1f}" == "9.8"
    rows = _example_gradients(N)
    measured = _misses(rows, 32, 600).mean() / _misses(rows, 256, 600).mean()
    assert abs(measured.item() - 9.787) < 0.08 * 9.787  # and not 8: the (N-B)/(N-1) factor
    assert "$8 \\cdot \\frac{1227}{1003} \\approx 9.8$ from $B = 32$ to $B = 256$" in TEXT


def test_the_last_partial_batch_is_fair_but_noisier() -> None:
    # "its gradient is still a fair estimate, just noisier" (the last 11 of 1,259 at B = 32)
    rows = _example_gradients(N)
    generator = torch.Generator().manual_seed(1)
    order = torch.rand(4000, N, generator=generator).argsort(dim=1)
    last = rows[order[:, -11:]].mean(dim=1)  # the batch of 11 at the end of each epoch
    error = last - rows.mean(dim=0)
    assert (error.mean(dim=0).abs() < 4 * error.std(dim=0) / math.sqrt(4000)).all()  # fair
    assert error.pow(2).sum(dim=1).mean() > 2 * _misses(rows, 32, 100).mean()  # noisier


def test_batchnorm1d_cannot_train_on_a_batch_of_one() -> None:
    # "nn.BatchNorm1d raises an error on a training batch of one example, which is what you
    # get whenever N mod B = 1"
    n = 1249
    assert n % 32 == 1
    dataset = torch.utils.data.TensorDataset(torch.randn(n, 4))
    layer = nn.BatchNorm1d(4).train()
    batches = list(DataLoader(dataset, batch_size=32))
    assert len(batches[-1][0]) == 1
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        layer(batches[-1][0])
    for (batch,) in DataLoader(dataset, batch_size=32, drop_last=True):
        layer(batch)  # drop_last: every batch trains


# ------------------------------------------------------------------ standardisation and scale


def test_standardisation_formula_and_the_programs_numbers(
    program: ModuleType, digits: tuple
) -> None:
    train_x, _, held_x, _ = digits
    mu = train_x.sum(dim=0) / len(train_x)
    s = ((train_x - mu).pow(2).sum(dim=0) / (len(train_x) - 1)).sqrt()
    assert torch.allclose(mu, train_x.mean(dim=0)) and torch.allclose(s, train_x.std(dim=0))
    std_train, std_held = program.standardise(train_x, held_x)
    blank = s <= 1e-6
    assert int(blank.sum()) == 3 and (std_train[:, blank] == 0).all()
    assert std_train.mean(dim=0).abs().max() < 1e-5
    assert torch.allclose(std_train.std(dim=0)[~blank], torch.ones(61), atol=1e-5)
    held_off = std_held.mean(dim=0).abs().max().item()
    assert f"{held_off:.2f}" == "0.15" and "up to 0.15 away" in TEXT
    assert (len(train_x), len(held_x)) == (N, 538)
    raw = (train_x.min().item(), train_x.max().item(), train_x.mean().item(), train_x.std().item())
    assert f"{raw[0]:.0f} {raw[1]:.0f} {raw[2]:.2f} {raw[3]:.2f}" == "0 16 4.88 6.01"
    assert "from 0 to 16, with a training mean of 4.88 and a standard deviation of 6.01" in TEXT


def test_the_standardisation_fragment_is_the_programs(program: ModuleType, digits: tuple) -> None:
    train_x, _, held_x, _ = digits
    namespace = {"torch": torch, "train_x": train_x, "val_x": held_x}
    exec(fragment_containing("train_x.mean(dim=0)"), namespace)  # noqa: S102
    expected = program.standardise(train_x, held_x)
    assert torch.equal(namespace["train_x"], expected[0])
    assert torch.equal(namespace["val_x"], expected[1])


def _descend(a: Tensor, y: Tensor, lr: float, steps: int) -> float:
    w = torch.zeros(a.shape[1], y.shape[1], dtype=a.dtype)
    for _ in range(steps):
        w = w - lr * 2 / len(a) * a.T @ (a @ w - y)  # the MSE gradient of lesson 1.2
    return ((a @ w - y) ** 2).sum(dim=1).mean().item()


def test_raw_pixels_make_the_bowl_361_times_steeper(program: ModuleType, digits: tuple) -> None:
    train_x, train_y, held_x, _ = digits
    std_train, _ = program.standardise(train_x, held_x)
    raw, scaled = program.largest_curvature(train_x), program.largest_curvature(std_train)
    assert (f"{raw:.0f}", f"{scaled:.1f}", f"{raw / scaled:.0f}") == ("5341", "14.8", "361")
    assert (f"{2 / raw:.5f}", f"{2 / scaled:.3f}") == ("0.00037", "0.135")
    assert "$\\lambda_{\\max} = 5341$, against 14.8 after standardising: 361 times steeper" in TEXT
    assert "below 0.00037 instead of 0.135" in TEXT
    # The limit is real: just under it gradient descent settles, just over it diverges.
    a = torch.cat([std_train, torch.ones(N, 1)], dim=1).double()
    y = nn.functional.one_hot(train_y, 10).double()
    assert _descend(a, y, 0.9 * 2 / scaled, 300) < 0.5
    assert _descend(a, y, 1.1 * 2 / scaled, 300) > 1e3


def test_first_layer_gradients_grow_with_the_inputs(digits: tuple, program: ModuleType) -> None:
    # "An MLP's first layer meets the same scale: its weight gradients grow with the inputs."
    train_x, train_y, held_x, _ = digits
    std_train, _ = program.standardise(train_x, held_x)
    for seed in range(3):
        norms = []
        for inputs in (train_x, std_train):
            torch.manual_seed(seed)
            model = nn.Sequential(
                nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
            )
            nn.functional.cross_entropy(model(inputs[:32]), train_y[:32]).backward()
            norms.append(model[0].weight.grad.norm().item())
        assert norms[0] > 3 * norms[1]


def test_adam_sizes_each_step_by_its_recent_gradients() -> None:
    # "Adam sizes each weight's step by its recent gradients": scaling every gradient by
    # 1,000 leaves its first step the same, where SGD's grows 1,000 times.
    steps = {}
    for optimizer_class in (torch.optim.Adam, torch.optim.SGD):
        for scale in (1.0, 1000.0):
            torch.manual_seed(0)
            layer = nn.Linear(8, 1)
            before = layer.weight.detach().clone()
            optimizer = optimizer_class(layer.parameters(), lr=1e-3)
            (scale * layer(torch.randn(16, 8)).pow(2).mean()).backward()
            optimizer.step()
            steps[optimizer_class.__name__, scale] = (layer.weight.detach() - before).abs()
    assert torch.allclose(steps["Adam", 1.0], steps["Adam", 1000.0], rtol=1e-3)
    assert torch.allclose(steps["SGD", 1000.0], 1000 * steps["SGD", 1.0], rtol=1e-3)


# ------------------------------------------------------------------ the page and the program


def test_summary_is_short_and_takeaways_are_bullets() -> None:
    assert "\n\n" not in LESSON.summary.strip() and len(LESSON.summary.split()) <= 80
    assert 3 <= len(LESSON.takeaways) <= 6


def test_program_is_standalone_typed_and_shown_after_a_sentence() -> None:
    imported = check_stands_alone(PROGRAM)
    allowed = {"__future__", "math", "time", "collections", "dataclasses", "torch", "sklearn"}
    assert imported <= allowed, imported
    source = PROGRAM.read_text(encoding="utf-8")
    assert "pick_device()" in source and ".to(device" in source and "fetch_" not in source
    assert LESSON.programs == (PROGRAM,)
    assert source.rstrip() in LESSON.sections["In depth"]
    before = RAW[: RAW.index("{{program: lessons/programs/lesson_2_5.py}}")]
    assert before.rstrip().endswith(":")
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"


QUOTED = [  # (what the program prints, what the lesson says)
    ("1259 training digits, 538 held out", "the app's digits, $N = 1259$"),
    ("raw pixels: 0 to 16, training mean 4.88, std 6.01", "a training mean of 4.88"),
    ("(3 blank pixels stay 0)", "A pixel blank in every training image has $s_j = 0$"),
    ("held-out pixel means: up to 0.15 away from 0", "(in the program, up to 0.15 away)"),
    ("raw 5341, standardised 14.8 (361x steeper)", "361 times steeper"),
    ("raw 0.00037, standardised 0.135", "below 0.00037 instead of 0.135"),
    (
        "B=32  drop_last=False: 40 batches (the last has 11); "
        "drop_last=True: 39 batches (11 examples left out)",
        "$B = 32$ gives 40 batches (the last holds 11) or 39",
    ),
    (
        "B=256 drop_last=False: 5 batches (the last has 235); "
        "drop_last=True: 4 batches (235 examples left out)",
        "skips 235 examples",
    ),
    ("same batches from both pipelines: True", "both pipelines deliver the same batches"),
]


@pytest.mark.parametrize(("printed", "quoted"), QUOTED)
def test_program_prints_what_the_lesson_quotes(printed: str, quoted: str) -> None:
    assert printed in program_output()
    assert quoted in TEXT
