"""Fuzzing `python -m engine`: any command line, and any bytes in the logs it diagnoses, end
in output and exit code 0, or one line on stderr and exit code 2; never a traceback.

main() runs in-process. Where a command would start to train (or pretrain, spawn processes,
download), a stand-in stops it once everything before has been checked: the fuzz is about
reading input, not training. A few small real runs check that what gets through trains.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import engine.cli
import engine.transfer
from engine.checkpoint import restore
from engine.compare import compare
from engine.config import (
    ACTIVATIONS,
    DATASETS,
    INITS,
    MODELS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    RunConfig,
    default_config,
)
from engine.distributed import check_parallel_config
from engine.loop import start
from engine.training import build_parts, train
from engine.variants import all_variants
from tests.test_fuzz_logs import MUTATIONS, SEED_NAMES, mutate, seed_bytes

FUZZ = settings(
    database=None,
    derandomize=True,
    deadline=timedelta(seconds=10),  # a command that takes longer is a hang to fix
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONGEST_MESSAGE = 1_000  # characters of stderr beyond the arguments it may quote back


class WouldTrain(Exception):  # noqa: N818 (not an error: the point where training starts)
    """Raised by the stand-ins where real work would begin; carries what got through."""


@dataclass
class Outcome:
    code: int | str | None  # None: a stand-in was reached
    out: str
    err: str
    exited: bool = False  # main raised SystemExit (only --help may)


def stand_in_train(
    config: RunConfig,
    data_dir: str | Path | None = None,
    on_event: object = None,
    should_stop: object = None,
    resume_from: str | Path | None = None,
    checkpoint_to: str | Path | None = None,
) -> None:
    """What train does before its first step: data, model, optimizer, a checkpoint loaded."""
    state = start(build_parts(config, data_dir))
    if resume_from is not None:
        restore(state, resume_from)
    raise WouldTrain(config)


def stand_in_parallel(config: RunConfig, world_size: int = 2, timeout: float = 120.0) -> None:
    check_parallel_config(config, world_size)
    build_parts(config)
    raise WouldTrain(config)


def stand_in(*args: object, **kwargs: object) -> None:
    raise WouldTrain(args)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder to run in (relative paths land there) with the heavy work stood in for."""
    folder = tmp_path_factory.mktemp("cli_fuzz")
    (folder / "afile").write_text("a file, not a folder")
    (folder / "empty").mkdir()
    (folder / "log.csv").write_bytes(seed_bytes("example.csv"))
    (folder / "empty.csv").write_bytes(b"")
    train(default_config("moons", epochs=1), checkpoint_to=folder / "run.pt")
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setattr(engine.cli, "train", stand_in_train)
        patch.setattr(engine.cli, "compare", functools.partial(compare, train_fn=stand_in_train))
        patch.setattr(engine.cli, "train_data_parallel", stand_in_parallel)
        patch.setattr(engine.cli, "download", stand_in)
        patch.setattr(engine.transfer, "pretrain", stand_in)
        yield folder
    torch.set_num_threads(threads)


def run_cli(argv: Sequence[str], stdin: bytes = b"") -> Outcome:
    """main(argv) with stdout and stderr captured, and stdin holding these bytes."""
    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()  # a run sets the process's threads: not for the others
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        try:
            code: int | str | None = engine.cli.main(list(argv))
        except SystemExit as exit:
            return Outcome(exit.code, out.getvalue(), err.getvalue(), exited=True)
        except WouldTrain:
            code = None
        finally:
            torch.set_num_threads(threads)
    return Outcome(code, out.getvalue(), err.getvalue())


def check_outcome(argv: Sequence[str], outcome: Outcome) -> None:
    """Output and 0, or one short line on stderr and 2; never a traceback."""
    assert "Traceback" not in outcome.err + outcome.out
    if outcome.exited:  # argparse's --help prints the usage and exits
        assert outcome.code == 0 and outcome.out.startswith("usage:"), outcome
        return
    if outcome.code is None:  # everything was checked and found runnable
        assert outcome.err == "" and outcome.out == ""
        return
    assert outcome.code in (0, 2), outcome
    if outcome.code == 0:
        assert outcome.out.strip()
        if "--json" in argv:
            json.loads(outcome.out)
        return
    assert outcome.out == "", outcome
    assert outcome.err.endswith("\n") and outcome.err.count("\n") == 1, outcome.err
    line = outcome.err.rstrip("\n")
    assert line.startswith("error: ") and line[len("error: ") :].strip(), outcome.err
    assert len(line) <= LONGEST_MESSAGE + sum(map(len, argv)), line[:300]
    assert not line.endswith("e.g."), line  # the example is said, not cut off
    for low, high in re.findall(r"from (-?\d+) to (-?\d+)", line):  # no "from 1 to 0"
        assert int(low) <= int(high), line


# ---- command lines -----------------------------------------------------------------------

HOSTILE = st.sampled_from(
    [
        "", " ", "-1", "0", "1e3", "nan", "inf", "-inf", "1e999", "٣", "1_0", "0x10", "9" * 5000,
        "--", "-", "-h", "[x](http://evil.example)", "a\nb", "\x00", "\u2028", "x" * 2000,
    ]
)  # fmt: skip
ANY_TEXT = st.text(max_size=20) | HOSTILE
ANY_INT = st.integers(-(2**70), 2**70).map(str) | ANY_TEXT
ANY_FLOAT = st.floats().map(repr) | ANY_TEXT


def ints(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


def floats(*values: float) -> st.SearchStrategy[str]:
    return st.sampled_from([f"{value:g}" for value in values])


def widths(low: int, high: int, most: int) -> st.SearchStrategy[str]:
    return st.lists(ints(low, high), max_size=most).map(",".join)


VARIANT_IDS = list(all_variants())
PATHS = st.sampled_from(
    ["run.pt", "afile", "afile/sub/run.pt", "empty", "missing/run.pt", "log.csv", "", "\x00"]
) | st.text(max_size=12).filter(lambda text: "/" not in text and ".." not in text)
# Each option with values near its allowed range; command_lines mixes in hostile ones.
RUN_OPTIONS: dict[str, st.SearchStrategy[str] | None] = {
    "--dataset": st.sampled_from(DATASETS),
    "--data-dir": PATHS,
    "--epochs": ints(0, 201),
    "--batch-size": ints(0, 4097),
    "--lr": floats(0, 1e-9, 1e-3, 0.1, 100, 101),
    "--seed": ints(-1, 2**31),
    "--model": st.sampled_from(MODELS),
    "--optimizer": st.sampled_from(OPTIMIZERS),
    "--hidden": widths(0, 1025, 25),
    "--activation": st.sampled_from(ACTIVATIONS),
    "--device": st.sampled_from(["auto", "cpu", "cuda", "mps", "cuda:7", "tpu"]),
    "--threads": ints(0, 17),
    "--momentum": floats(0, 0.9, 0.999, 1),
    "--subset": ints(0, 60_001),
    "--schedule": st.sampled_from(SCHEDULES),
    "--accumulate": ints(0, 65),
    "--precision": st.sampled_from(PRECISIONS),
    "--early-stopping": ints(0, 101),
    "--augment": None,  # a switch, no value
    "--batch-norm": None,
    "--layer-norm": None,
    "--resume-at": ints(0, 200),
    "--init": st.sampled_from(INITS),
    "--init-scale": floats(-1, 0, 1, 100, 101),
    "--residual": None,
    "--nesterov": None,
    "--betas": st.lists(floats(-0.1, 0, 0.9, 0.9999, 1), max_size=3).map(",".join),
    "--eps": floats(0, 1e-12, 1e-8, 1, 2),
    "--no-bias-correction": None,
    "--milestones": widths(0, 201, 11),
    "--gamma": floats(0, 1e-4, 0.5, 1, 2),
    "--warmup-steps": ints(-1, 100_001),
    "--plateau-patience": ints(-1, 51),
}
COMMANDS: dict[str, dict[str, st.SearchStrategy[str] | None]] = {
    "run": RUN_OPTIONS
    | {
        "--variant": st.sampled_from(VARIANT_IDS),
        "--checkpoint": PATHS,
        "--resume": PATHS,
        "--json": None,
    },
    "compare": RUN_OPTIONS | {"--variant": st.sampled_from(VARIANT_IDS), "--json": None},
    "export": RUN_OPTIONS | {"--variant": st.sampled_from(VARIANT_IDS)},
    "ddp": RUN_OPTIONS | {"--world-size": ints(0, 9), "--json": None},
    "diagnose": {
        "--classes": ints(-1, 100_001),
        **{
            f"--{role}": st.sampled_from(["loss", "val_loss", "val_acc", "epoch", "lr", "x"])
            for role in ("train-loss", "val-loss", "train-acc", "val-acc", "x")
        },
        "--json": None,
    },
    "transfer": {"--shots": ints(0, 51), "--seed": ints(-1, 10), "--json": None},
    "scale": {
        "--parameters": floats(-1, 0, 1, 7e9, 1e308),
        "--tokens": floats(-1, 0, 1, 2e12, 1e308),
        "--gpus": ints(-1, 100_000),
        "--utilization": floats(-1, 0, 1e-300, 0.4, 1, 2),
        "--json": None,
    },
    "variants": {"--json": None},
    "download": {"--data-dir": PATHS},
}
POSITIONAL = {
    "diagnose": st.lists(PATHS | st.just("-"), min_size=0, max_size=3),
    "download": st.lists(st.sampled_from(["mnist", "fashion_mnist", "digits"]), max_size=2),
}
STRAYS = ANY_TEXT | st.sampled_from(["--json", "--epochs", "-x", "--nope=1", "--help"])


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A subcommand and some of its options, one value in four hostile, now and then a
    stray word or a missing value."""
    rarely = functools.partial(draw, st.integers(0, 9).map(lambda n: n == 0))
    command = draw(ANY_TEXT) if rarely() else draw(st.sampled_from(list(COMMANDS)))
    argv = [command]
    options = COMMANDS.get(command, RUN_OPTIONS)
    for option in draw(st.lists(st.sampled_from(list(options)), max_size=8)):
        values = options[option]
        argv.append(option)
        if values is None or rarely():  # a switch, or a value left out
            continue
        hostile = draw(st.integers(0, 3)) == 0
        argv.append(draw(st.one_of(ANY_INT, ANY_FLOAT, ANY_TEXT) if hostile else values))
    argv += draw(POSITIONAL.get(command, st.just([])))
    if rarely():
        argv.insert(draw(st.integers(0, len(argv))), draw(STRAYS))
    return argv


@settings(FUZZ, max_examples=300)
@given(command_lines())
@example(["scale", "--parameters", "1e308", "--tokens", "1e308", "--json"])
@example(["--help"])
# Found by fuzzing: an empty log's message ended "e.g." (the example cut off with the rest of
# the lines), a path holding a line break lost what followed it, and a NUL in a log's path
# gave "embedded null byte" without naming the file.
@example(["diagnose", "empty.csv"])
@example(["run", "--resume", "a\u2028b.pt"])
@example(["diagnose", "\x00"])
@example(["diagnose", "\x00", "log.csv"])
def test_any_command_line_gives_output_or_one_line(sandbox: Path, argv: list[str]) -> None:
    check_outcome(argv, run_cli(argv))


# ---- logs to diagnose --------------------------------------------------------------------


@settings(FUZZ, max_examples=150)
@given(
    st.sampled_from(SEED_NAMES),
    st.lists(MUTATIONS, max_size=3),
    st.sampled_from(["file", "stdin", "two files"]),
    st.lists(st.sampled_from(["--json", "--classes", "10", "--x", "step"]), max_size=3),
)
def test_any_log_bytes_are_diagnosed_or_refused_in_one_line(
    sandbox: Path, name: str, mutations: list[Any], source: str, flags: list[str]
) -> None:
    raw = mutate(seed_bytes(name), mutations)
    (sandbox / "fuzzed.log").write_bytes(raw)
    paths = {"file": ["fuzzed.log"], "stdin": ["-"], "two files": ["fuzzed.log", "log.csv"]}
    argv = ["diagnose", *paths[source], *flags]
    check_outcome(argv, run_cli(argv, stdin=raw))


# ---- small real runs ---------------------------------------------------------------------

SMALL_RUNS = {
    "--dataset": st.sampled_from(["moons", "circles", "spirals", "line", "wave", "digits"]),
    "--epochs": st.integers(1, 3).map(str),
    "--subset": st.integers(1, 120).map(str),
    "--batch-size": st.sampled_from(["1", "7", "32", "4096"]),
    "--lr": st.sampled_from(["1e-8", "0.01", "3", "100"]),
    "--model": st.sampled_from(MODELS),
    "--optimizer": st.sampled_from(OPTIMIZERS),
    "--hidden": st.sampled_from(["4", "8,8", "", "3,3,3,3,3,3"]),
    "--activation": st.sampled_from(ACTIVATIONS),
    "--momentum": st.sampled_from(["0", "0.9"]),
    "--schedule": st.sampled_from(SCHEDULES),
    "--accumulate": st.sampled_from(["1", "3", "64"]),
    "--precision": st.sampled_from(PRECISIONS),
    "--early-stopping": st.sampled_from(["1", "2"]),
    "--resume-at": st.sampled_from(["1", "2", "5"]),
    "--init": st.sampled_from(INITS),
    "--init-scale": st.sampled_from(["0", "1", "100"]),
    "--milestones": st.sampled_from(["1", "1,2", "50"]),
    "--gamma": st.sampled_from(["0.0001", "1"]),
    "--warmup-steps": st.sampled_from(["0", "5", "100000"]),
    "--plateau-patience": st.sampled_from(["0", "1"]),
    "--betas": st.sampled_from(["0,0", "0.9,0.999", "0.9999,0.9999"]),
    "--eps": st.sampled_from(["1e-12", "1"]),
    "--variant": st.sampled_from(VARIANT_IDS),
    "--augment": st.none(),
    "--batch-norm": st.none(),
    "--layer-norm": st.none(),
    "--residual": st.none(),
    "--nesterov": st.none(),
    "--no-bias-correction": st.none(),
}


@st.composite
def small_runs(draw: st.DrawFn) -> list[str]:
    """`run` on a small set for 1-3 epochs of at most 120 examples, other options at will."""
    argv = ["run", "--json", "--threads", "1"]
    required = ["--dataset", "--epochs", "--subset"]
    chosen = draw(st.lists(st.sampled_from(list(SMALL_RUNS)[3:]), max_size=6, unique=True))
    for option in required + chosen:
        value = draw(SMALL_RUNS[option])
        argv += [option] if value is None else [option, value]
    return argv


@settings(FUZZ, max_examples=100, deadline=timedelta(seconds=20))
@given(small_runs())
# Found by fuzzing: a 1-epoch run refused these "expected an epoch from 1 to 0".
@example(["run", "--dataset", "moons", "--epochs", "1", "--resume-at", "1"])
@example(["run", "--epochs", "1", "--schedule", "step", "--milestones", "1"])
def test_small_real_runs_give_a_result_or_one_line(sandbox: Path, argv: list[str]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine.cli, "train", train)  # the real one, for these
        outcome = run_cli(argv)
    check_outcome(argv, outcome)
    if outcome.code == 0:
        assert {"config", "epochs", "diagnosis"} <= set(json.loads(outcome.out))
