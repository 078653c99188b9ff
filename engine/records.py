"""What a run reports as it trains: one record per step, one per epoch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepRecord:
    """One optimizer step: the batch's training loss, gradient norm and learning rate."""

    step: int  # 1-based count of steps since the run began
    epoch: int
    loss: float
    grad_norm: float
    lr: float


@dataclass(frozen=True)
class EpochRecord:
    """The end of an epoch: metrics on the full train and val splits (model in eval mode)."""

    epoch: int
    train_loss: float
    train_acc: float | None  # None for regression
    val_loss: float
    val_acc: float | None
    seconds: float  # training time of this epoch, evaluation excluded
    step: int  # steps done by the end of this epoch
    class_counts: tuple[int, ...] | None = None  # val predictions per class
    mean_confidence: float | None = None  # mean top softmax probability on val
    layer_grad_norms: dict[str, float] = field(default_factory=dict)  # mean over the epoch
    memory_mb: float | None = None  # resident memory of the process at the end of the epoch
    weight_norm: float | None = None  # L2 norm of all weight matrices at the end of the epoch
    # Per activation layer, on the val split: mean, std, saturated and dead fractions.
    activation_stats: dict[str, dict[str, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunError:
    """The exception a broken loop raised, kept as a result rather than a crash."""

    type: str
    message: str
    explanation: str


Record = StepRecord | EpochRecord  # what a run streams to its watchers as it trains
