"""What changes while a run trains: exactly what a checkpoint must hold to resume it."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.records import EpochRecord, StepRecord
from engine.step import EarlyStopping, Scheduler, TrainingParts


@dataclass
class LoopState:
    """The parts being trained, the optimizer and schedule, the counters and the history."""

    parts: TrainingParts
    optimizer: torch.optim.Optimizer
    scheduler: Scheduler | None
    shuffle_generator: torch.Generator
    device: torch.device
    epoch: int = 0
    step: int = 0
    steps: list[StepRecord] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    # Not saved in checkpoints: a resumed run's patience counts from the resume.
    early_stopping: EarlyStopping | None = None
