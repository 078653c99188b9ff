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
from pathlib import Path
from typing import Any

import torch

from engine.config import RunConfig
from engine.records import EpochRecord, StepRecord
from engine.state import LoopState

FORMAT = "training-loop-lab/checkpoint-v1"
# Settings a resumed run may change: more epochs, another device or thread count.
RESUMABLE_CHANGES = {"epochs", "device", "threads"}


class CheckpointError(ValueError):
    """A checkpoint file is unreadable or belongs to a different run."""


def save(state: LoopState, path: str | Path) -> Path:
    """Write the loop state to path atomically (a crash mid-write leaves the old file)."""
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
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        torch.save(payload, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def load(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely; raises CheckpointError if it is missing or corrupt."""
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
    return payload


def restore(state: LoopState, path: str | Path) -> None:
    """Put a saved run's state into a freshly started loop with a matching config."""
    payload = load(path)
    saved = RunConfig.from_dict(payload["config"])
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
    try:
        state.parts.model.load_state_dict(payload["model"])
        state.optimizer.load_state_dict(payload["optimizer"])
        if state.scheduler is not None:
            state.scheduler.load_state_dict(payload["scheduler"])
    except (RuntimeError, KeyError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path} does not fit this model: {error}") from None
    state.epoch, state.step = payload["epoch"], payload["step"]
    state.shuffle_generator.set_state(payload["shuffle_rng"])
    torch.set_rng_state(payload["torch_rng"])
    if payload.get("cuda_rng") is not None and state.device.type == "cuda":
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    state.steps = [StepRecord(**s) for s in payload["steps"]]
    state.epochs = [_epoch_from_dict(e) for e in payload["epochs"]]


def _epoch_from_dict(values: dict[str, Any]) -> EpochRecord:
    counts = values.get("class_counts")
    return EpochRecord(**{**values, "class_counts": tuple(counts) if counts else None})
