"""Save a run mid-way and resume it later on exactly the same curve.

A checkpoint holds the full state: model and optimizer (Adam's moment estimates),
learning-rate schedule, epoch and step counters, the random-number states that decide
the next shuffles and dropout masks, the config and the history so far. Loading uses
`weights_only=True`, so a tampered file cannot run code.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import tempfile
import types
import typing
import warnings
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import torch

from engine.config import RunConfig
from engine.records import EpochRecord, StepRecord
from engine.state import LoopState

FORMAT = "training-loop-lab/checkpoint-v1"
# Settings a resumed run may change: more epochs, another device or thread count.
RESUMABLE_CHANGES = {"epochs", "device", "threads"}
T = TypeVar("T")
R = TypeVar("R", StepRecord, EpochRecord)


class CheckpointError(ValueError):
    """A checkpoint file is unreadable or belongs to a different run."""


def save(state: LoopState, path: str | Path) -> Path:
    """Write the loop state to path atomically (a crash mid-write leaves the old file).

    The folder must already exist: `check_destination` says so before a run starts,
    rather than a mistyped path silently creating folders.
    """
    path = Path(path)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "config": state.parts.config.to_dict(),
        "model": state.parts.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict() if state.scheduler else None,
        "epoch": state.epoch,
        "step": state.step,
        "shuffle_rng": state.shuffle_generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        # On a GPU, dropout draws from the device's own generator, not the CPU one above.
        "cuda_rng": torch.cuda.get_rng_state_all() if state.device.type == "cuda" else None,
        "steps": [dataclasses.asdict(s) for s in state.steps],
        "epochs": [dataclasses.asdict(e) for e in state.epochs],
    }
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        torch.save(payload, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def check_destination(path: str | Path) -> Path:
    """Check, before a run starts, that a checkpoint can be written to path; returns it.

    Nothing is created: a missing folder is an error, not made on the fly. Raises
    CheckpointError naming the path and what is wrong with it.
    """
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint path {path} is a folder; expected a file path such as {path / 'run.pt'}"
        )
    if not folder.exists():
        raise CheckpointError(
            f"checkpoint folder {folder} does not exist; create it first or choose a path "
            "in an existing folder"
        )
    if not folder.is_dir():
        raise CheckpointError(
            f"checkpoint folder {folder} is not a folder but a file; choose a path in an "
            "existing folder"
        )
    try:  # a real probe file: as root, os.access passes whatever the permissions
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise CheckpointError(
            f"checkpoint folder {folder} cannot be written ({error.strerror or error}); "
            "choose a folder you can write to"
        ) from None
    return path


# What `save` writes under each key; `load` checks a file against this before any of it
# reaches a run, so a hand-edited file fails with the key's name, not a traceback.
CONTENTS: dict[str, tuple[type, ...]] = {
    "config": (dict,),
    "model": (dict,),
    "optimizer": (dict,),
    "scheduler": (dict, type(None)),
    "epoch": (int,),
    "step": (int,),
    "shuffle_rng": (torch.Tensor,),
    "torch_rng": (torch.Tensor,),
    "cuda_rng": (list, type(None)),
    "steps": (list,),
    "epochs": (list,),
}
OPTIONAL = {"cuda_rng"}  # absent means: saved without a GPU


def load(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely and check its keys and their types.

    Returns the saved dict. Raises CheckpointError if the file is missing, corrupt, not a
    checkpoint, or lacks a key or holds the wrong kind of value under one (the message
    names the key).
    """
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except Exception as error:  # pickle, zip and torch errors all mean "not a checkpoint"
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(error).__name__}); expected a file "
            "written by `python -m engine run --checkpoint PATH`"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a Training Loop Lab checkpoint ({FORMAT})")
    missing = [key for key in CONTENTS if key not in payload and key not in OPTIONAL]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} is missing {', '.join(map(repr, missing))}; expected a file "
            "written by `python -m engine run --checkpoint PATH`"
        )
    for key, kinds in CONTENTS.items():
        value = payload.get(key)
        if key in payload and not isinstance(value, kinds):
            expected = " or ".join(kind.__name__ for kind in kinds)
            raise CheckpointError(
                f"checkpoint {path} has a malformed {key!r}: expected {expected}, "
                f"got {type(value).__name__}"
            )
    for key in ("epoch", "step"):  # bool is an int too, and a count is never negative
        if isinstance(payload[key], bool) or payload[key] < 0:
            raise CheckpointError(
                f"checkpoint {path} has a malformed {key!r}: expected a whole number >= 0, "
                f"got {payload[key]!r}"
            )
    return payload


def restore(state: LoopState, path: str | Path, skip: Collection[str] = ()) -> None:
    """Put a saved run's state into a freshly started loop with a matching config.

    `skip` names parts to leave as the fresh loop made them ("optimizer", "scheduler"):
    that is a bug, kept here so the Failure Lab can show what it does to a curve.
    Raises CheckpointError if the file is unreadable, belongs to a different run, or
    holds a value that does not fit this run (the message names the key).
    """
    payload = load(path)
    saved = _read(path, "config", RunConfig.from_dict, payload["config"])
    current = state.parts.config
    different = sorted(
        f.name
        for f in dataclasses.fields(RunConfig)
        if f.name not in RESUMABLE_CHANGES and getattr(saved, f.name) != getattr(current, f.name)
    )
    if different:
        name = different[0]
        raise CheckpointError(
            f"checkpoint {path} was trained with {name}={getattr(saved, name)!r} but this run "
            f"has {name}={getattr(current, name)!r}; only {sorted(RESUMABLE_CHANGES)} may "
            f"change on resume (differing: {', '.join(different)})"
        )
    if payload["epoch"] > current.epochs:
        raise CheckpointError(
            f"checkpoint is at epoch {payload['epoch']}, past this run's "
            f"epochs={current.epochs}; ask for more epochs to continue"
        )
    # The history first: building records changes nothing, so a bad one leaves the run as is.
    steps = _read(
        path, "steps", lambda items: [_record(StepRecord, s) for s in items], payload["steps"]
    )
    epochs = _read(
        path, "epochs", lambda items: list(map(_epoch_from_dict, items)), payload["epochs"]
    )
    _read(path, "model", state.parts.model.load_state_dict, payload["model"])
    _try_a_step(state, path, payload, skip)
    if "optimizer" not in skip:
        _read(path, "optimizer", state.optimizer.load_state_dict, payload["optimizer"])
    if state.scheduler is not None and "scheduler" not in skip:
        _read(path, "scheduler", state.scheduler.load_state_dict, payload["scheduler"])
    _read(path, "shuffle_rng", state.shuffle_generator.set_state, payload["shuffle_rng"])
    _read(path, "torch_rng", torch.set_rng_state, payload["torch_rng"])
    if payload.get("cuda_rng") is not None and state.device.type == "cuda":
        _read(path, "cuda_rng", torch.cuda.set_rng_state_all, payload["cuda_rng"])
    state.epoch, state.step = payload["epoch"], payload["step"]
    state.steps, state.epochs = steps, epochs


def _try_a_step(
    state: LoopState, path: str | Path, payload: dict[str, Any], skip: Collection[str]
) -> None:
    """Take one step with copies of the optimizer and schedule holding the saved state.

    load_state_dict takes whatever the file holds (a learning rate of None, a momentum
    buffer of the wrong shape), and the run would crash at its first step, as if the
    learner's loop were broken. A step on copies finds that here, naming the key.
    """
    if payload["epoch"] >= state.parts.config.epochs:
        return  # nothing left to train: no step will be taken
    # Copies of the saved state too: loading keeps its tensors, and the step changes them.
    optimizer, scheduler, saved_optimizer, saved_scheduler = copy.deepcopy(
        (state.optimizer, state.scheduler, payload["optimizer"], payload["scheduler"])
    )
    if "optimizer" not in skip:
        _read(path, "optimizer", optimizer.load_state_dict, saved_optimizer)
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            parameter.grad = torch.zeros_like(parameter)
    _read(path, "optimizer", lambda _: optimizer.step(), None)
    if scheduler is not None and "scheduler" not in skip:
        _read(path, "scheduler", scheduler.load_state_dict, saved_scheduler)
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        # The copy's optimizer.step lost the schedule's wrapper: no "step order" warning.
        with warnings.catch_warnings(action="ignore", category=UserWarning):
            _read(path, "scheduler", lambda _: scheduler.step(*[0.0] if plateau else []), None)


def _read(path: str | Path, key: str, use: Callable[[Any], T], value: Any) -> T:
    """use(value), with any failure reported as one line naming the checkpoint's key."""
    try:
        return use(value)
    except (
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
        ArithmeticError,
        RuntimeError,
    ) as error:
        detail = " ".join(str(error).split())  # load_state_dict's errors span lines
        if len(detail) > 200:
            detail = detail[:200] + "..."
        raise CheckpointError(
            f"checkpoint {path} has a {key!r} that does not fit this run "
            f"({type(error).__name__}: {detail})"
        ) from None


def _epoch_from_dict(values: dict[str, Any]) -> EpochRecord:
    counts = values.get("class_counts")
    return _record(EpochRecord, {**values, "class_counts": tuple(counts) if counts else None})


def _record(kind: type[R], values: dict[str, Any]) -> R:
    """A StepRecord or EpochRecord from its saved dict. Raises TypeError naming the first
    field whose value is not of the field's type: a hand-edited history would otherwise
    break the diagnosis and the printed table after the run, not here."""
    record = kind(**values)
    for name, hint in _field_types(kind).items():
        if not _fits(getattr(record, name), hint):
            expected = hint.__name__ if isinstance(hint, type) else str(hint)
            raise TypeError(f"{name} = {getattr(record, name)!r:.40} is not {expected}")
    return record


@functools.cache
def _field_types(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)  # once per record class, not once per saved step


def _fits(value: object, hint: Any) -> bool:
    """Whether a value read from a checkpoint is of a record field's type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (int, float):  # a whole number is a fine float; a bool is no number here
        return isinstance(value, int if hint is int else int | float) and type(value) is not bool
    if hint is type(None):
        return value is None
    if origin is types.UnionType:
        return any(_fits(value, arg) for arg in args)
    if origin is tuple:  # tuple[int, ...]
        return isinstance(value, tuple) and all(_fits(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            isinstance(key, str) and _fits(item, args[1]) for key, item in value.items()
        )
    return False
