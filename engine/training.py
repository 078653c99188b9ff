"""One run from its config: build the parts, put the variant's bug in place, run the loop.

This is the one place where a config's `variant` becomes broken code; the loop itself
(`engine.loop`) trains whatever parts it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

from engine.augment import shift_and_rotate
from engine.config import RunConfig
from engine.data import load_data
from engine.device import limit_threads, pick_device
from engine.loop import run, start
from engine.models import build_model
from engine.records import Record
from engine.results import RunResult
from engine.state import LoopState
from engine.step import (
    StepFn,
    TrainingParts,
    accumulation_step,
    make_loss_fn,
    mixed_precision_step,
    train_step,
)
from engine.variants import get_variant


def build_parts(config: RunConfig, data_dir: str | Path | None = None) -> TrainingParts:
    """Data, model and loss for a config, with its variant's bug (if any) put in place.

    The thread cap comes first so that data preparation already runs on the run's share
    of the CPU. Raises DataUnavailableError for a dataset that is not on disk and
    UnknownVariantError for a variant id the catalogue does not hold.
    """
    limit_threads(config.threads)
    data = load_data(config, data_dir)
    model = build_model(config, data.input_shape, data.n_classes)
    parts = TrainingParts(
        config,
        data,
        model,
        make_loss_fn(config, data),
        train_step=choose_step(config),
        train_transform=shift_and_rotate if config.augment else None,
    )
    if config.variant is None:
        return parts
    return get_variant(config.variant).put_in_place(parts)


def choose_step(config: RunConfig) -> StepFn:
    """The healthy step for a config: plain, accumulating micro-batches, or mixed precision."""
    if config.accumulate > 1:
        return partial(accumulation_step, micro_batch_size=config.batch_size)
    if config.precision == "float32":
        return train_step
    dtype = getattr(torch, config.precision)
    device = pick_device(config.device)
    # Only float16 needs loss scaling: bfloat16 has float32's range of exponents.
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    return partial(mixed_precision_step, dtype=dtype, scaler=scaler)


def start_run(config: RunConfig, data_dir: str | Path | None = None) -> LoopState:
    """A run ready for its first step (the parts, bug included, on the device)."""
    return start(build_parts(config, data_dir))


def train(
    config: RunConfig,
    data_dir: str | Path | None = None,
    on_event: Callable[[Record], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: str | Path | None = None,
    checkpoint_to: str | Path | None = None,
) -> RunResult:
    """Train one run and return its full history (see `engine.loop.run` for the events).

    Raises ConfigError, DataUnavailableError or CheckpointError for bad input; a run that
    diverges or crashes is a result with that status, not an exception.
    """
    parts = build_parts(config, data_dir)
    return run(parts, on_event, should_stop, resume_from, checkpoint_to)
