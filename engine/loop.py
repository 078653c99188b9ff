"""The training loop: the step from `engine.step`, over batches, over epochs.

The loop is handed its parts (data, model, loss, step, evaluation) and never asks which
bug, if any, they carry: a broken variant is put in place before the parts arrive here.
Everything besides the step itself (gradient norms, timings, memory) is measured by
`EpochTelemetry` and reported as events a UI can draw live.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from engine.activations import ActivationRecorder, weight_norm
from engine.checkpoint import restore, save
from engine.config import SCHEDULE_CLOCKS, RunConfig
from engine.crash_advice import explain_error
from engine.data import make_loader
from engine.device import pick_device
from engine.optimizers import HandAdam
from engine.records import EpochRecord, Record, RunError, StepRecord
from engine.results import RunResult
from engine.state import LoopState
from engine.step import DataBundle, EarlyStopping, Scheduler, Split, TrainingParts


def make_optimizer(
    config: RunConfig, model: nn.Module, device: torch.device
) -> torch.optim.Optimizer:
    """The config's optimizer over the model's registered parameters."""
    params = list(model.parameters())
    # The fused kernels do the whole update in one pass: measurably faster on CPU and cuda.
    fused = {"fused": True} if device.type in ("cpu", "cuda") and params else {}
    decay = config.weight_decay
    adaptive = {"lr": config.lr, "eps": config.eps, "weight_decay": decay}
    if config.optimizer in ("adam", "adamw") and not config.bias_correction:
        decoupled = config.optimizer == "adamw"
        return HandAdam(
            params, betas=config.betas, decoupled=decoupled, bias_correction=False, **adaptive
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(params, betas=config.betas, **adaptive, **fused)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, betas=config.betas, **adaptive, **fused)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, momentum=config.momentum, **adaptive)
    return torch.optim.SGD(
        params,
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=decay,
    )


def lr_factor(schedule: str, total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """Multiplier of the base learning rate at each optimizer step, for LambdaLR: a linear
    warm-up over warmup_steps, then constant or a cosine down to zero."""
    if schedule == "warmup_cosine" and warmup_steps == 0:
        warmup_steps = max(1, total_steps // 20)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min((step - warmup_steps) / max(1, total_steps - warmup_steps), 1.0)
        return 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def make_scheduler(parts: TrainingParts, optimizer: torch.optim.Optimizer) -> Scheduler | None:
    """The config's learning-rate schedule (None: a constant lr without warm-up). It ticks
    on the clock SCHEDULE_CLOCKS names: steps, epochs, or epochs with the val loss."""
    config = parts.config
    steps_per_epoch = math.ceil(len(parts.data.train) / config.examples_per_step)
    total_steps = steps_per_epoch * config.epochs
    gamma = config.schedule_gamma
    schedulers = torch.optim.lr_scheduler
    if config.schedule == "step":
        milestones = list(config.step_milestones)
        return schedulers.MultiStepLR(optimizer, milestones=milestones, gamma=gamma)
    if config.schedule == "exponential":
        return schedulers.ExponentialLR(optimizer, gamma=gamma)
    if config.schedule == "plateau":
        return schedulers.ReduceLROnPlateau(
            optimizer, factor=gamma, patience=config.plateau_patience
        )
    if config.schedule == "onecycle":
        # Its own momentum cycling is off: the lesson compares learning-rate schedules only.
        return schedulers.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=total_steps, cycle_momentum=False
        )
    if config.schedule == "constant" and config.warmup_steps == 0:
        return None
    return schedulers.LambdaLR(
        optimizer, lr_factor(config.schedule, total_steps, config.warmup_steps)
    )


def start(parts: TrainingParts) -> LoopState:
    """Everything needed before the first step: parts on the device, optimizer, schedule."""
    config = parts.config
    device = pick_device(config.device)
    parts.model.to(device)
    parts.data = _to_device(parts.data, device)
    state = fresh_state(parts, device)
    if config.early_stopping is not None:
        state.early_stopping = EarlyStopping(config.early_stopping)
    return state


def fresh_state(parts: TrainingParts, device: torch.device) -> LoopState:
    """A new optimizer, schedule and shuffle generator for parts already on the device:
    what a run starts with, and what a process resuming it makes before loading."""
    optimizer = make_optimizer(parts.config, parts.model, device)
    generator = torch.Generator().manual_seed(parts.config.seed)
    return LoopState(parts, optimizer, make_scheduler(parts, optimizer), generator, device)


def _to_device(data: DataBundle, device: torch.device) -> DataBundle:
    if device.type == "cpu":
        return data
    moved = [
        Split(split.inputs.to(device), split.targets.to(device))
        for split in (data.train, data.val, data.test)
    ]
    return replace(data, train=moved[0], val=moved[1], test=moved[2])


def run(
    parts: TrainingParts,
    on_event: Callable[[Record], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: str | Path | None = None,
    checkpoint_to: str | Path | None = None,
) -> RunResult:
    """Train these parts for their config's epochs and return the full history.

    on_event receives every StepRecord and EpochRecord as it happens; should_stop is
    polled between steps and ends the run early (status "stopped"). A NaN or infinite
    loss ends the run with status "diverged"; an exception raised by a broken loop ends
    it with status "crashed" and the error kept in the result. Both are results, not
    failures. Raises CheckpointError for a checkpoint that is unreadable or does not fit.
    """
    wall_start = time.perf_counter()
    state = start(parts)
    if resume_from is not None:
        restore(state, resume_from)
    notify = on_event or (lambda record: None)
    stop = should_stop or (lambda: False)
    status, error, diverged_at, resumed_at = "completed", None, None, None
    early_stopped_at = None
    try:
        while state.epoch < parts.config.epochs:
            status = run_epoch(state, notify, stop)
            if status == "diverged":
                diverged_at = state.step
            if status != "completed":
                break
            if checkpoint_to is not None:
                save(state, checkpoint_to)
            if state.epoch == parts.config.resume_at:
                state = interrupt_and_resume(state)
                resumed_at = state.step
            if _patience_ran_out(state):
                early_stopped_at = state.epoch
                break
        if state.early_stopping is not None and status == "completed":
            state.early_stopping.restore_best(parts.model)
    except Exception as raised:  # a broken variant's real exception is a result to show
        status = "crashed"
        error = RunError(type(raised).__name__, str(raised).strip(), explain_error(raised))
    test = _final_test(state) if status in ("completed", "stopped") else None
    return RunResult(
        config=parts.config,
        status=status,
        steps=state.steps,
        epochs=state.epochs,
        test=test,
        seconds=time.perf_counter() - wall_start,
        error=error,
        diverged_at_step=diverged_at,
        n_classes=parts.data.n_classes,
        model=parts.model,
        parameter_count=sum(p.numel() for p in parts.model.parameters()),
        best_epoch=state.early_stopping.best_epoch if state.early_stopping else None,
        early_stopped_at=early_stopped_at,
        resumed_at_step=resumed_at,
    )


def _patience_ran_out(state: LoopState) -> bool:
    """Early stopping's verdict on the epoch just finished (False without early stopping)."""
    if state.early_stopping is None:
        return False
    last = state.epochs[-1]
    watched = state.parts.watch(last.train_loss, last.val_loss)
    return state.early_stopping.should_stop(last.epoch, watched, state.parts.model)


def interrupt_and_resume(state: LoopState) -> LoopState:
    """What a run goes through when its process ends and a new one resumes it: the state is
    saved to a checkpoint, then a fresh optimizer and schedule (as a new process would make)
    load it back with the parts' `resume` (all of it, unless a bug skips something)."""
    parts = state.parts
    with tempfile.TemporaryDirectory() as folder:
        path = save(state, Path(folder) / "interrupted.pt")
        torch.manual_seed(parts.config.seed)  # a new process starts from a fresh generator
        fresh = fresh_state(parts, state.device)
        fresh.early_stopping = state.early_stopping
        (parts.resume or restore)(fresh, path)
    return fresh


def run_epoch(state: LoopState, notify: Callable[[Record], None], stop: Callable[[], bool]) -> str:
    """One pass over the training data; returns "completed", "stopped" or "diverged"."""
    parts, config = state.parts, state.parts.config
    loader = make_loader(
        parts.data.train, config.examples_per_step, config.shuffle, state.shuffle_generator
    )
    telemetry = EpochTelemetry(state.epoch + 1, list(parts.model.named_parameters()))
    status = "completed"
    for inputs, targets in loader:
        if stop():
            status = "stopped"
            break
        if parts.train_transform is not None:
            inputs = parts.train_transform(inputs)
        loss = parts.train_step(
            parts.model, inputs, targets, parts.loss_fn, state.optimizer, config.grad_clip
        )
        if state.scheduler is not None:
            parts.advance_schedule(state.scheduler, schedule_clock(config), "batch", None)
        record = telemetry.record_step(state, loss.item())
        notify(record)
        if not math.isfinite(record.loss):
            status = "diverged"
            break
    if telemetry.steps:  # an epoch stopped before its first step leaves no record
        record = telemetry.record_epoch(state)
        notify(record)
        if state.scheduler is not None and status == "completed":
            val_loss = record.val_loss if record.val_loss is not None else record.train_loss
            parts.advance_schedule(state.scheduler, schedule_clock(config), "epoch", val_loss)
    return status


def schedule_clock(config: RunConfig) -> str:
    """What the config's schedule counts: "steps", "epochs" or "val_loss"."""
    return SCHEDULE_CLOCKS[config.schedule]


@dataclass
class EpochTelemetry:
    """What an epoch measures besides the loss: gradient norms per layer, time, memory."""

    epoch: int
    # Listed once per epoch: walking the module tree every step cost more than the norms.
    parameters: list[tuple[str, nn.Parameter]]
    steps: int = 0
    started: float = field(default_factory=time.perf_counter)
    layer_sums: dict[str, float] = field(default_factory=dict)

    def record_step(self, state: LoopState, loss: float) -> StepRecord:
        """Count one step into the state's history, with its gradient norm and lr."""
        grad_norm, layer_norms = named_gradient_norms(self.parameters)
        for name, norm in layer_norms.items():
            self.layer_sums[name] = self.layer_sums.get(name, 0.0) + norm
        self.steps += 1
        state.step += 1
        lr = state.optimizer.param_groups[0]["lr"]
        record = StepRecord(state.step, self.epoch, loss, grad_norm, lr)
        state.steps.append(record)
        return record

    def record_epoch(self, state: LoopState) -> EpochRecord:
        """Close the epoch: evaluate on train and val and add the record to the history."""
        seconds = time.perf_counter() - self.started  # data, steps, telemetry; no evaluation
        parts = state.parts
        on_train = parts.evaluate(parts.model, parts.data.train, parts.loss_fn)
        val = parts.data.val
        if parts.val_transform is not None:
            val = Split(parts.val_transform(val.inputs), val.targets)
        with ActivationRecorder(parts.model) as activations:
            on_val = parts.evaluate(parts.model, val, parts.loss_fn)
        record = EpochRecord(
            epoch=self.epoch,
            train_loss=on_train.loss,
            train_acc=on_train.acc,
            val_loss=on_val.loss,
            val_acc=on_val.acc,
            seconds=seconds,
            step=state.step,
            class_counts=on_val.class_counts,
            mean_confidence=on_val.mean_confidence,
            layer_grad_norms={name: sum_ / self.steps for name, sum_ in self.layer_sums.items()},
            memory_mb=resident_memory_mb(),
            weight_norm=weight_norm(parts.model),
            activation_stats=activations.stats(),
        )
        state.epoch = self.epoch
        state.epochs.append(record)
        return record


def gradient_norms(model: nn.Module) -> tuple[float, dict[str, float]]:
    """The total gradient norm and each layer's weight-gradient norm (missing grads count 0)."""
    return named_gradient_norms(list(model.named_parameters()))


def named_gradient_norms(
    named: list[tuple[str, nn.Parameter]],
) -> tuple[float, dict[str, float]]:
    """`gradient_norms` for a model's `named_parameters()`, listed once by the caller."""
    if not named:
        return 0.0, {}
    # A gradient that is None (never computed, or wiped by zero_grad) is a zero gradient.
    # Gradients carry no graph of their own, so they need no detach.
    grads = [p.grad if p.grad is not None else p.new_zeros(1) for _, p in named]
    # One fused call for all tensors: this runs every step, so it must stay cheap.
    norms = [norm.item() for norm in torch._foreach_norm(grads)]
    total = math.sqrt(sum(norm * norm for norm in norms))
    layers = {
        name.removesuffix(".weight"): norm
        for (name, _), norm in zip(named, norms, strict=True)
        if name.endswith(".weight")
    }
    return total, layers


def resident_memory_mb() -> float | None:
    """The process's resident memory in MB (Linux), to make leaks visible; else None."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _final_test(state: LoopState) -> dict[str, float | None]:
    parts = state.parts
    result = parts.evaluate(parts.model, parts.data.test, parts.loss_fn)
    return {"loss": result.loss, "acc": result.acc}
