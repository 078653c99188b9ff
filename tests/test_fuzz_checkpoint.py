"""Fuzzing resume: any bytes in a checkpoint file resume the run or raise CheckpointError in
one line; none of them runs code.

The inputs are random bytes, and two genuine checkpoints cut, flipped, repacked and
hand-edited (a value anywhere in the saved dict replaced, removed or added).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.checkpoint import FORMAT, CheckpointError, load
from engine.cli import build_parser, config_from, main
from engine.training import train

FUZZ = settings(
    database=None,
    derandomize=True,
    deadline=timedelta(seconds=5),  # a resume that takes longer is a hang to fix
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONGEST_MESSAGE = 1_000  # characters, the path of the checkpoint included
# Two runs of two epochs on moons (a resume trains the second), as the CLI's flags: Adam with
# a constant lr, and SGD with momentum and a cosine schedule (momentum and scheduler state).
FLAGS = {
    "adam": ["--dataset", "moons", "--epochs", "2"],
    "sgd_cosine": [
        *("--dataset", "moons", "--epochs", "2", "--optimizer", "sgd", "--momentum", "0.9"),
        *("--schedule", "cosine"),
    ],
}
RUNS = {
    name: config_from(build_parser().parse_args(["run", *flags])) for name, flags in FLAGS.items()
}
TRIPPED: list[str] = []


def trip() -> None:
    TRIPPED.append("a checkpoint ran code")


class Tripwire:
    """Pickled as a call to trip(): loading it must never make that call."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (trip, ())


@functools.cache
def genuine(run: str) -> bytes:
    """The bytes of a checkpoint after epoch 1 of the run."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.pt"
        train(RUNS[run].replace(epochs=1), checkpoint_to=path)
        return path.read_bytes()


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The one path every example writes its checkpoint to; the genuine checkpoints are
    made here, before any example is timed."""
    for run in RUNS:
        genuine(run)
    yield tmp_path_factory.mktemp("fuzzed") / "run.pt"
    assert not TRIPPED


def check_resume(run: str, path: Path) -> None:
    """Resuming gives a result the CLI prints, or a CheckpointError in one short line; no
    code runs."""
    config = RUNS[run]
    try:
        result = train(config, resume_from=path)
    except CheckpointError as error:
        message = str(error)
        assert message.strip() and len(message.splitlines()) == 1, repr(message)
        assert len(message) <= LONGEST_MESSAGE, message[:300]
    else:
        assert [epoch.epoch for epoch in result.epochs] == list(range(1, config.epochs + 1))
        assert result.status in ("completed", "diverged"), (result.status, result.error)
        for output in ([], ["--json"]):  # the table and diagnosis, and the JSON
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["run", *FLAGS[run], "--resume", str(path), *output])
            assert code == 0 and out.getvalue() and not err.getvalue(), err.getvalue()
            if output:
                json.loads(out.getvalue())
    assert not TRIPPED


# ---- bytes -------------------------------------------------------------------------------

BYTE_EDITS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 2**17)),
    st.tuples(st.just("flip"), st.integers(0, 2**17), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 2**17), st.binary(min_size=1, max_size=16)),
)


def edit_bytes(raw: bytes, edits: list[tuple]) -> bytes:
    for kind, position, *args in edits:
        where = position % (len(raw) + 1)
        if kind == "truncate":
            raw = raw[:where]
        elif kind == "flip" and raw:
            where %= len(raw)
            raw = raw[:where] + bytes([raw[where] ^ args[0]]) + raw[where + 1 :]
        elif kind == "insert":
            raw = raw[:where] + args[0] + raw[where:]
    return raw


@settings(FUZZ, max_examples=40)
@given(st.binary(max_size=2000) | st.binary(max_size=30).map(lambda tail: b"PK\x03\x04" + tail))
@example(b"")
def test_random_bytes_are_refused_in_one_line(checkpoint_file: Path, data: bytes) -> None:
    checkpoint_file.write_bytes(data)
    check_resume("adam", checkpoint_file)


@settings(FUZZ, max_examples=100)
@given(st.sampled_from(list(RUNS)), st.lists(BYTE_EDITS, min_size=1, max_size=3))
def test_damaged_checkpoints_resume_or_are_refused_in_one_line(
    checkpoint_file: Path, run: str, edits: list[tuple]
) -> None:
    checkpoint_file.write_bytes(edit_bytes(genuine(run), edits))
    check_resume(run, checkpoint_file)


# ---- the zip archive ---------------------------------------------------------------------

MEMBER_EDITS = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 99)),
    st.tuples(st.just("replace"), st.integers(0, 99), st.binary(max_size=64)),
    st.tuples(st.just("rename"), st.integers(0, 99), st.text(max_size=8)),
    st.tuples(st.just("add"), st.text(max_size=12), st.binary(max_size=64)),
)


def repack(raw: bytes, edits: list[tuple]) -> bytes:
    """The archive rewritten member by member, with the edits: a valid zip, wrong inside."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    for kind, *args in edits:
        if kind == "add":
            members.append((args[0] or "x", args[1]))
            continue
        index = args[0] % len(members)
        name, data = members[index]
        if kind == "drop":
            del members[index]
        elif kind == "replace":
            members[index] = (name, args[1])
        elif kind == "rename":
            members[index] = (name.rsplit("/", 1)[0] + "/" + (args[1] or "x"), data)
        if not members:
            break
    packed = io.BytesIO()
    with (
        zipfile.ZipFile(packed, "w", zipfile.ZIP_STORED) as archive,
        warnings.catch_warnings(action="ignore", category=UserWarning),  # duplicate names
    ):
        for name, data in members:
            archive.writestr(name, data)
    return packed.getvalue()


@settings(FUZZ, max_examples=80)
@given(st.sampled_from(list(RUNS)), st.lists(MEMBER_EDITS, min_size=1, max_size=3))
def test_repacked_archives_resume_or_are_refused_in_one_line(
    checkpoint_file: Path, run: str, edits: list[tuple]
) -> None:
    checkpoint_file.write_bytes(repack(genuine(run), edits))
    check_resume(run, checkpoint_file)


# ---- hand-edited contents ----------------------------------------------------------------

TENSORS = st.sampled_from(
    [
        torch.zeros(0), torch.ones(3), torch.tensor(float("nan")), torch.full((64,), 1e30),
        torch.zeros(2, 2, dtype=torch.uint8), torch.ones(5056, dtype=torch.uint8),
        torch.tensor([1, 2]), torch.tensor([True]), torch.zeros(64, 2), torch.zeros(2, 64),
    ]
)  # fmt: skip
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats()
    | st.text(max_size=10)
    | TENSORS
    | st.builds(Tripwire)
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


def places(value: Any, at: tuple = ()) -> Iterator[tuple]:
    """The path of every value in the saved dict (the first two items of a list)."""
    yield at
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from places(inner, (*at, key))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value[:2]):
            yield from places(inner, (*at, index))


def edited(payload: Any, place: tuple, change: str, value: Any) -> Any:
    """The payload with the value at `place` replaced or removed, or a key added beside it."""
    if not place:
        return value if change == "replace" else payload
    head, rest = place[0], place[1:]
    copy = dict(payload) if isinstance(payload, dict) else list(payload)
    if rest:
        copy[head] = edited(copy[head], rest, change, value)
    elif change == "replace":
        copy[head] = value
    elif change == "remove":
        del copy[head]
    elif isinstance(copy, dict):
        copy[f"{head}_extra"] = value
    else:
        copy.append(value)
    return copy if isinstance(payload, dict | list) else tuple(copy)


@settings(FUZZ, max_examples=100)
@given(
    st.sampled_from(list(RUNS)),
    st.data(),
    st.sampled_from(["replace", "remove", "add"]),
    VALUES,
)
def test_hand_edited_checkpoints_resume_or_are_refused_in_one_line(
    checkpoint_file: Path,
    run: str,
    data: st.DataObject,
    change: str,
    value: Any,
) -> None:
    payload = torch.load(io.BytesIO(genuine(run)), weights_only=True)
    place = data.draw(st.sampled_from(list(places(payload))), label="place")
    torch.save(edited(payload, place, change, value), checkpoint_file)
    check_resume(run, checkpoint_file)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(Tripwire(), id="the-whole-file"),
        pytest.param({"format": FORMAT, "config": {"lr": Tripwire()}}, id="in-the-config"),
        pytest.param([{"x": (Tripwire(),)}], id="nested"),
    ],
)
def test_no_checkpoint_runs_code_whatever_it_holds(checkpoint_file: Path, payload: Any) -> None:
    for write in (
        torch.save,
        lambda thing, path: path.write_bytes(pickle.dumps(thing, protocol=2)),
    ):
        write(payload, checkpoint_file)
        with pytest.raises(CheckpointError):
            load(checkpoint_file)
        assert not TRIPPED


@pytest.mark.parametrize(
    ("run", "place", "change", "value", "named"),
    [  # found by fuzzing: each resumed, then crashed at the first step or after the run
        ("adam", ("optimizer", "param_groups", 0, "lr"), "replace", None, "'optimizer'"),
        ("adam", ("optimizer", "state", 4, "exp_avg_sq"), "remove", None, "'optimizer'"),
        ("sgd_cosine", ("optimizer", "state", 1, "momentum_buffer"), "replace", [-75], "'optim"),
        ("sgd_cosine", ("scheduler", "last_epoch"), "replace", [], "'scheduler'"),
        ("sgd_cosine", ("scheduler", "base_lrs"), "replace", {"": None}, "'scheduler'"),
        ("sgd_cosine", ("steps", 0, "grad_norm"), "replace", [], "'steps'"),
        ("adam", ("epochs", 0, "layer_grad_norms"), "replace", [], "'epochs'"),
        ("adam", ("epochs", 0, "train_loss"), "replace", {}, "'epochs'"),
        ("adam", ("epochs", 0, "class_counts"), "replace", [None, torch.ones(1)], "'epochs'"),
    ],
)
def test_a_saved_state_that_would_break_the_run_is_refused_naming_its_key(
    checkpoint_file: Path, run: str, place: tuple, change: str, value: Any, named: str
) -> None:
    payload = torch.load(io.BytesIO(genuine(run)), weights_only=True)
    torch.save(edited(payload, place, change, value), checkpoint_file)
    with pytest.raises(CheckpointError, match=named):
        train(RUNS[run], resume_from=checkpoint_file)
    check_resume(run, checkpoint_file)
