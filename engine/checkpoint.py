"""Save a run mid-way and resume it later on exactly the same curve.

A checkpoint holds the full state: model and optimizer (Adam's moment estimates),
learning-rate schedule, epoch and step counters, the random-number states that decide
the next shuffles and dropout masks, the config and the history so far. Loading uses
`weights_only=True`, so a tampered file cannot run code.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
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
    steps = _read(path, "steps", lambda items: [StepRecord(**s) for s in items], payload["steps"])
    epochs = _read(
        path, "epochs", lambda items: list(map(_epoch_from_dict, items)), payload["epochs"]
    )
    _read(path, "model", state.parts.model.load_state_dict, payload["model"])
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


def _read(path: str | Path, key: str, use: Callable[[Any], T], value: Any) -> T:
    """use(value), with any failure reported as one line naming the checkpoint's key."""
    try:
        return use(value)
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError) as error:
        detail = " ".join(str(error).split())  # load_state_dict's errors span lines
        if len(detail) > 200:
            detail = detail[:200] + "..."
        raise CheckpointError(
            f"checkpoint {path} has a {key!r} that does not fit this run "
            f"({type(error).__name__}: {detail})"
        ) from None


def _epoch_from_dict(values: dict[str, Any]) -> EpochRecord:
    counts = values.get("class_counts")
    return EpochRecord(**{**values, "class_counts": tuple(counts) if counts else None})
