"""The training loop: forward, loss, backward, step; over batches, over epochs.

`train_step` is the heart of the course and the function the lessons show. Everything
else here measures what that step does and reports it as events a UI can draw live.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor, nn

from engine.config import RunConfig
from engine.data import DataBundle, Split, iterate_in_chunks, load_data, make_loader
from engine.device import limit_threads, pick_device
from engine.models import build_model
from engine.records import EpochRecord, RunError, StepRecord
from engine.results import RunResult

LossFn = Callable[[Tensor, Tensor], Tensor]
StepFn = Callable[[nn.Module, Tensor, Tensor, LossFn, torch.optim.Optimizer], Tensor]
Record = StepRecord | EpochRecord


def train_step(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
) -> Tensor:
    """One step of gradient descent on one batch."""
    optimizer.zero_grad()  # gradients add up in PyTorch: clear the last batch's
    outputs = model(inputs)  # 1. forward: the model's predictions for this batch
    loss = loss_fn(outputs, targets)  # 2. loss: one number, how wrong they are
    loss.backward()  # 3. backward: d(loss)/d(weight) for every weight, into .grad
    optimizer.step()  # 4. step: nudge every weight against its gradient
    return loss


@dataclass(frozen=True)
class Evaluation:
    """A model's loss and predictions on one split, without training it."""

    loss: float
    acc: float | None
    class_counts: tuple[int, ...] | None
    mean_confidence: float | None


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, loss_fn: LossFn) -> Evaluation:
    """Loss and accuracy on a split, with dropout off and no gradient tracking."""
    model.eval()  # dropout off; batch norm uses its running averages
    outputs = torch.cat([model(inputs) for inputs, _ in iterate_in_chunks(split)])
    model.train()
    return summarise(outputs, split, loss_fn)


def summarise(outputs: Tensor, split: Split, loss_fn: LossFn) -> Evaluation:
    """Turn a split's model outputs into loss, accuracy, class counts and confidence."""
    loss = float(loss_fn(outputs, split.targets))
    if outputs.shape[1] == 1:  # regression: no classes to count
        return Evaluation(loss, None, None, None)
    predictions = outputs.argmax(dim=1)
    acc = float((predictions == split.labels.to(predictions.device)).float().mean())
    counts = torch.bincount(predictions, minlength=outputs.shape[1])
    confidence = float(torch.softmax(outputs.float(), dim=1).max(dim=1).values.mean())
    return Evaluation(loss, acc, tuple(int(c) for c in counts), confidence)


EvaluateFn = Callable[[nn.Module, Split, LossFn], Evaluation]


@dataclass
class TrainingParts:
    """Everything the loop uses. A broken variant swaps one of these for its buggy twin."""

    config: RunConfig
    data: DataBundle
    model: nn.Module
    loss_fn: LossFn
    train_step: StepFn = train_step
    evaluate: EvaluateFn = evaluate
    keep_loss_tensors: bool = False  # the logging-tensors bug keeps autograd graphs alive
    notes: dict[str, object] = field(default_factory=dict)


def make_loss_fn(config: RunConfig, data: DataBundle) -> LossFn:
    """Cross-entropy on logits for classification, mean squared error otherwise."""
    if config.loss == "mse" or data.task == "regression":
        return nn.MSELoss()
    return nn.CrossEntropyLoss()


def build_parts(config: RunConfig, data_dir: str | Path | None = None) -> TrainingParts:
    """Data, model and loss for a config, with its variant's bug (if any) put in place."""
    data = load_data(config, data_dir)
    model = build_model(config, data.input_shape, data.n_classes)
    parts = TrainingParts(config, data, model, make_loss_fn(config, data))
    if config.variant is not None:
        from engine.variants import get_variant  # variants import this module

        parts = get_variant(config.variant).break_loop(parts)
    return parts


def make_optimizer(
    config: RunConfig, model: nn.Module, device: torch.device
) -> torch.optim.Optimizer:
    """The config's optimizer over the model's registered parameters."""
    params = list(model.parameters())
    # The fused kernels do the whole update in one pass: measurably faster on CPU and cuda.
    fused = {"fused": True} if device.type in ("cpu", "cuda") and params else {}
    decay = config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=decay, **fused)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=decay, **fused)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=config.lr, momentum=config.momentum, weight_decay=decay
        )
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=decay)


def lr_factor(schedule: str, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the base learning rate at each step, for LambdaLR."""
    warmup = max(1, total_steps // 20)

    def factor(step: int) -> float:
        progress = min(step / max(1, total_steps), 1.0)
        if schedule == "step":  # divide by 10 after each third of training
            return 0.1 ** min(int(progress * 3), 2)
        if schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * progress))
        if schedule == "warmup_cosine":
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
        return 1.0

    return factor


def gradient_norms(model: nn.Module) -> tuple[float, dict[str, float]]:
    """The total gradient norm and each layer's weight-gradient norm (missing grads count 0)."""
    named = list(model.named_parameters())
    if not named:
        return 0.0, {}
    # A gradient that is None (never computed, or wiped by zero_grad) is a zero gradient.
    grads = [p.grad.detach() if p.grad is not None else p.new_zeros(1) for _, p in named]
    # One fused call for all tensors: this runs every step, so it must stay cheap.
    norms = torch.stack(torch._foreach_norm(grads)).tolist()
    total = math.sqrt(sum(n * n for n in norms))
    layers = {
        name[:-7]: n for (name, _), n in zip(named, norms, strict=True) if name.endswith(".weight")
    }
    return total, layers


def first_layer_name(model: nn.Module) -> str | None:
    """Name of the first weight matrix, the layer where vanishing gradients show first."""
    for name, param in model.named_parameters():
        if name.endswith("weight") and param.dim() >= 2:
            return name.removesuffix(".weight")
    return None


@dataclass
class LoopState:
    """What changes while training; exactly what a checkpoint must hold to resume."""

    parts: TrainingParts
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR | None
    shuffle_generator: torch.Generator
    device: torch.device
    epoch: int = 0
    step: int = 0
    steps: list[StepRecord] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    kept_losses: list[Tensor] = field(default_factory=list)


def start(config: RunConfig, data_dir: str | Path | None = None) -> LoopState:
    """Everything needed before the first step: data, model, optimizer, schedule."""
    limit_threads(config.threads)
    device = pick_device(config.device)
    parts = build_parts(config, data_dir)
    parts.model.to(device)
    parts.data = _to_device(parts.data, device)
    optimizer = make_optimizer(config, parts.model, device)
    if config.grad_clip is not None:
        _clip_before_every_step(optimizer, parts.model, config.grad_clip)
    scheduler = None
    if config.schedule != "constant":
        batches_per_epoch = math.ceil(len(parts.data.train) / config.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_factor(config.schedule, batches_per_epoch * config.epochs)
        )
    generator = torch.Generator().manual_seed(config.seed)
    return LoopState(parts, optimizer, scheduler, generator, device)


def _clip_before_every_step(
    optimizer: torch.optim.Optimizer, model: nn.Module, max_norm: float
) -> None:
    # A pre-step hook clips exactly between backward and step, as
    # `clip_grad_norm_(model.parameters(), max_norm)` written there would.
    def clip(*_: object) -> None:
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)

    optimizer.register_step_pre_hook(clip)


def _to_device(data: DataBundle, device: torch.device) -> DataBundle:
    if device.type == "cpu":
        return data
    moved = [
        Split(s.inputs.to(device), s.targets.to(device)) for s in (data.train, data.val, data.test)
    ]
    return replace(data, train=moved[0], val=moved[1], test=moved[2])


def train(
    config: RunConfig,
    data_dir: str | Path | None = None,
    on_event: Callable[[Record], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: str | Path | None = None,
    checkpoint_to: str | Path | None = None,
) -> RunResult:
    """Train one run and return its full history.

    on_event receives every StepRecord and EpochRecord as it happens; should_stop is
    polled between steps and ends the run early (status "stopped"). A NaN or infinite
    loss ends the run with status "diverged"; an exception raised by a broken loop ends
    it with status "crashed" and the error kept in the result. Both are results, not
    failures. Raises ConfigError, DataUnavailableError or CheckpointError for bad input.
    """
    wall_start = time.perf_counter()
    state = start(config, data_dir)
    if resume_from is not None:
        from engine.checkpoint import restore

        restore(state, resume_from)
    notify = on_event or (lambda record: None)
    stop = should_stop or (lambda: False)
    status, error, diverged_at = "completed", None, None
    try:
        while state.epoch < config.epochs:
            status = run_epoch(state, notify, stop)
            if status == "diverged":
                diverged_at = state.step
            if status != "completed":
                break
            if checkpoint_to is not None:
                from engine.checkpoint import save

                save(state, checkpoint_to)
    except Exception as raised:  # a broken variant's real exception is a result to show
        from engine.explain import explain_error

        status = "crashed"
        error = RunError(type(raised).__name__, str(raised).strip(), explain_error(raised))
    test = _final_test(state) if status in ("completed", "stopped") else None
    return RunResult(
        config=config,
        status=status,
        steps=state.steps,
        epochs=state.epochs,
        test=test,
        seconds=time.perf_counter() - wall_start,
        error=error,
        diverged_at_step=diverged_at,
        n_classes=state.parts.data.n_classes,
        model=state.parts.model,
        parameter_count=sum(p.numel() for p in state.parts.model.parameters()),
    )


def run_epoch(state: LoopState, notify: Callable[[Record], None], stop: Callable[[], bool]) -> str:
    """One pass over the training data; returns "completed", "stopped" or "diverged"."""
    parts, config = state.parts, state.parts.config
    loader = make_loader(
        parts.data.train, config.batch_size, config.shuffle, state.shuffle_generator
    )
    epoch = state.epoch + 1
    layer_sums: dict[str, float] = {}
    steps_this_epoch = 0
    status = "completed"
    epoch_start = time.perf_counter()
    for inputs, targets in loader:
        if stop():
            status = "stopped"
            break
        loss = parts.train_step(parts.model, inputs, targets, parts.loss_fn, state.optimizer)
        if state.scheduler is not None:
            state.scheduler.step()
        loss_value = loss.item()
        if parts.keep_loss_tensors:
            state.kept_losses.append(loss)
        grad_norm, layer_norms = gradient_norms(parts.model)
        for name, norm in layer_norms.items():
            layer_sums[name] = layer_sums.get(name, 0.0) + norm
        state.step += 1
        steps_this_epoch += 1
        record = StepRecord(
            state.step, epoch, loss_value, grad_norm, state.optimizer.param_groups[0]["lr"]
        )
        state.steps.append(record)
        notify(record)
        if not math.isfinite(loss_value):
            status = "diverged"
            break
    train_seconds = time.perf_counter() - epoch_start  # data, steps, telemetry; no evaluation
    if steps_this_epoch == 0:
        return status
    means = {name: total / steps_this_epoch for name, total in layer_sums.items()}
    record = _epoch_record(state, epoch, train_seconds, means)
    state.epoch = epoch
    state.epochs.append(record)
    notify(record)
    return status


def _epoch_record(
    state: LoopState, epoch: int, seconds: float, layer_grad_norms: dict[str, float]
) -> EpochRecord:
    parts = state.parts
    on_train = parts.evaluate(parts.model, parts.data.train, parts.loss_fn)
    on_val = parts.evaluate(parts.model, parts.data.val, parts.loss_fn)
    return EpochRecord(
        epoch=epoch,
        train_loss=on_train.loss,
        train_acc=on_train.acc,
        val_loss=on_val.loss,
        val_acc=on_val.acc,
        seconds=seconds,
        step=state.step,
        class_counts=on_val.class_counts,
        mean_confidence=on_val.mean_confidence,
        layer_grad_norms=layer_grad_norms,
        memory_mb=resident_memory_mb(),
    )


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
