"""One frozen, hashable description of a training run, validated in one place."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any

DATASETS = ("digits", "mnist", "fashion_mnist", "line", "wave", "moons", "circles", "spirals")
REGRESSION_SETS = ("line", "wave")
MODELS = ("mlp", "cnn", "linear")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu", "identity")
# "xavier" and "kaiming" are the uniform forms (their names from before the normal ones).
INITS = ("default", "xavier", "kaiming", "xavier_normal", "kaiming_normal", "zeros")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
# Each optimizer's class in torch.optim.
OPTIMIZER_CLASSES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}
SCHEDULES = (
    "constant",
    "step",
    "exponential",
    "cosine",
    "warmup_cosine",
    "onecycle",
    "plateau",
)
# The clock each schedule is written for: optimizer steps, epochs, or epochs with a val loss.
SCHEDULE_CLOCKS = {
    "constant": "steps",
    "step": "epochs",
    "exponential": "epochs",
    "cosine": "steps",
    "warmup_cosine": "steps",
    "onecycle": "steps",
    "plateau": "val_loss",
}
# gamma when the config leaves it None: the factor at each milestone (step), per epoch
# (exponential), or at each plateau.
DEFAULT_GAMMA = {"step": 0.1, "exponential": 0.9, "plateau": 0.1}
WARMUP_SCHEDULES = ("constant", "cosine", "warmup_cosine")
LOSSES = ("cross_entropy", "mse")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("float32", "bfloat16", "float16")
IMAGE_SETS = ("digits", "mnist", "fashion_mnist")

# Bounds sized for one shared 2-core server: no single setting may ask for hours of work.
NUMERIC_BOUNDS: dict[str, tuple[float, float]] = {
    "epochs": (1, 200),
    "batch_size": (1, 4096),
    "lr": (1e-8, 100.0),
    "momentum": (0.0, 0.999),
    "weight_decay": (0.0, 1.0),
    "dropout": (0.0, 0.9),
    "seed": (0, 2**31 - 1),
    "subset": (1, 60_000),
    "label_noise": (0.0, 1.0),
    "grad_clip": (1e-4, 1e3),
    "threads": (1, 16),
    "accumulate": (1, 64),
    "early_stopping": (1, 100),
    "resume_at": (1, 199),
    "eps": (1e-12, 1.0),
    "gamma": (1e-4, 1.0),
    "warmup_steps": (0, 100_000),
    "plateau_patience": (0, 50),
    "init_scale": (0.0, 100.0),
}
MAX_HIDDEN_LAYERS = 24
MAX_MILESTONES = 10
MAX_WIDTH = 1024


class ConfigError(ValueError):
    """A setting is out of range; the message names the field, the value and what is allowed."""

    def __init__(self, field_name: str, value: object, allowed: str) -> None:
        self.field_name = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field_name} = {value!r} is not allowed: expected {allowed}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's numbers. Equal configs give equal curves."""

    dataset: str = "digits"
    model: str = "mlp"
    hidden: tuple[int, ...] = (128, 64)
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    layer_norm: bool = False
    init: str = "default"
    init_scale: float = 1.0  # every initial weight multiplied by this (too small, too large)
    residual: bool = False  # MLP: x + block(x) wherever a block keeps the width
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False  # SGD only: the gradient taken after the momentum's move
    betas: tuple[float, float] = (0.9, 0.999)  # Adam/AdamW: decay of the mean and the square
    eps: float = 1e-8  # Adam/AdamW/RMSprop: keeps the division by sqrt(v) finite
    bias_correction: bool = True  # Adam/AdamW: False trains engine.optimizers.HandAdam without it
    weight_decay: float = 0.0
    schedule: str = "constant"
    milestones: tuple[int, ...] = ()  # step schedule: epochs where lr *= gamma (empty: thirds)
    gamma: float | None = None  # step/exponential/plateau factor; None: DEFAULT_GAMMA
    warmup_steps: int = 0  # a linear warm-up over this many steps (warmup_cosine: 0 = 5%)
    plateau_patience: int = 2  # plateau: epochs without a better val loss before lr *= gamma
    loss: str = "cross_entropy"
    grad_clip: float | None = None
    batch_size: int = 32
    accumulate: int = 1  # micro-batches of batch_size examples per optimizer step
    precision: str = "float32"  # the forward pass's float type under autocast
    epochs: int = 20
    early_stopping: int | None = None  # patience in epochs; restores the best weights
    resume_at: int | None = None  # after this epoch: save a checkpoint, resume from it
    seed: int = 42
    shuffle: bool = True
    class_sorted: bool = False
    subset: int | None = None
    label_noise: float = 0.0
    normalize: bool = True
    one_hot_labels: bool = False
    augment: bool = False  # random shifts and small rotations of each training batch
    variant: str | None = None
    device: str = "auto"
    threads: int = 1

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready settings (tuples become lists)."""
        out = dataclasses.asdict(self)
        for name in ("hidden", "betas", "milestones"):
            out[name] = list(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Rebuild a config from `to_dict` output; unknown keys raise ConfigError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], data[unknown[0]], f"one of the fields {sorted(known)}")
        values = dict(data)
        for name in ("hidden", "betas", "milestones"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)

    @property
    def examples_per_step(self) -> int:
        """Examples behind one optimizer step: batch_size times the micro-batches."""
        return self.batch_size * self.accumulate

    @property
    def schedule_gamma(self) -> float:
        """The schedule's factor: gamma, or the schedule's default (1.0 where none applies)."""
        return self.gamma if self.gamma is not None else DEFAULT_GAMMA.get(self.schedule, 1.0)

    @property
    def step_milestones(self) -> tuple[int, ...]:
        """The step schedule's epochs: milestones, or by default after each third of the run."""
        thirds = {self.epochs // 3, 2 * self.epochs // 3} - {0}
        return self.milestones or tuple(sorted(thirds))

    def key(self) -> str:
        """A stable text key for caches shared between sessions."""
        return json.dumps(self.to_dict(), sort_keys=True)


def default_config(dataset: str = "digits", **changes: Any) -> RunConfig:
    """The healthy baseline for a dataset: MLP (128, 64), Adam 1e-3, seed 42.

    Batch 32 on the small embedded sets, 64 on 28x28 images; the line dataset
    gets linear regression with mean squared error and plain SGD; the wave dataset an
    MLP (64, 64) with tanh and mean squared error.
    """
    base: dict[str, Any] = {"dataset": dataset}
    if dataset in ("mnist", "fashion_mnist"):
        base.update(batch_size=64, epochs=3)
    elif dataset == "line":
        base.update(model="linear", loss="mse", optimizer="sgd", lr=0.1, epochs=30, hidden=())
    elif dataset == "wave":  # a curve a line cannot follow: the MLP against Module 1's model
        base.update(loss="mse", hidden=(64, 64), activation="tanh", lr=3e-3, epochs=60)
    elif dataset in ("moons", "circles", "spirals"):
        base.update(hidden=(64, 64), epochs=40)
    base.update(changes)
    return RunConfig(**base)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, value, "one of " + ", ".join(choices))


def _check_number(name: str, value: object, integer: bool) -> None:
    low, high = NUMERIC_BOUNDS[name]
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise ConfigError(name, value, f"{kind} from {low:g} to {high:g}")
    if not low <= value <= high:  # also rejects nan
        raise ConfigError(name, value, f"{kind} from {low:g} to {high:g}")


def validate(config: RunConfig) -> None:
    """Raise ConfigError for the first setting outside its allowed range."""
    for name, choices in (
        ("dataset", DATASETS),
        ("model", MODELS),
        ("activation", ACTIVATIONS),
        ("init", INITS),
        ("optimizer", OPTIMIZERS),
        ("schedule", SCHEDULES),
        ("loss", LOSSES),
        ("device", DEVICES),
        ("precision", PRECISIONS),
    ):
        _check_choice(name, getattr(config, name), choices)
    for name in ("epochs", "batch_size", "seed", "threads", "accumulate"):
        _check_number(name, getattr(config, name), integer=True)
    for name in ("lr", "momentum", "weight_decay", "dropout", "label_noise", "eps", "init_scale"):
        _check_number(name, getattr(config, name), integer=False)
    for name in ("warmup_steps", "plateau_patience"):
        _check_number(name, getattr(config, name), integer=True)
    if config.gamma is not None:
        _check_number("gamma", config.gamma, integer=False)
    _check_betas(config.betas)
    _check_milestones(config.milestones, config.epochs)
    for name in ("subset", "early_stopping", "resume_at"):
        if getattr(config, name) is not None:
            _check_number(name, getattr(config, name), integer=True)
    if config.grad_clip is not None:
        _check_number("grad_clip", config.grad_clip, integer=False)
    _check_hidden(config.hidden)
    for name in (
        "batch_norm",
        "layer_norm",
        "shuffle",
        "class_sorted",
        "normalize",
        "one_hot_labels",
        "augment",
        "nesterov",
        "bias_correction",
        "residual",
    ):
        if not isinstance(getattr(config, name), bool):
            raise ConfigError(name, getattr(config, name), "true or false")
    _check_combinations(config)


def _check_combinations(config: RunConfig) -> None:
    """Settings that are each fine alone but cannot go together."""
    regression = config.dataset in REGRESSION_SETS
    if config.model == "linear" and not regression:
        raise ConfigError("model", config.model, "mlp or cnn for a classification dataset")
    if regression and config.model == "cnn":
        raise ConfigError("model", config.model, f"linear or mlp for the {config.dataset} dataset")
    if config.batch_norm and config.layer_norm:
        raise ConfigError("layer_norm", True, "false when batch_norm is on (one norm per layer)")
    if config.accumulate > 1 and config.precision != "float32":
        raise ConfigError("precision", config.precision, "float32 when accumulate is above 1")
    if config.augment and config.dataset not in IMAGE_SETS:
        raise ConfigError("augment", True, "false for a dataset that is not images")
    if config.resume_at is not None and config.resume_at >= config.epochs:
        allowed = (
            f"an epoch from 1 to {config.epochs - 1}"
            if config.epochs > 1
            else "None when epochs = 1 (a resume needs an epoch after it)"
        )
        raise ConfigError("resume_at", config.resume_at, allowed)
    _check_optimizer_options(config)
    _check_schedule_options(config)


def _check_optimizer_options(config: RunConfig) -> None:
    if config.nesterov and (config.optimizer != "sgd" or config.momentum == 0):
        raise ConfigError("nesterov", True, "false unless the optimizer is sgd with momentum > 0")
    if not config.bias_correction and config.optimizer not in ("adam", "adamw"):
        raise ConfigError("bias_correction", False, "true unless the optimizer is adam or adamw")
    if config.residual and config.model != "mlp":
        raise ConfigError("residual", True, "false unless the model is mlp")


def _check_schedule_options(config: RunConfig) -> None:
    if config.milestones and config.schedule != "step":
        raise ConfigError("milestones", config.milestones, "() unless the schedule is step")
    if config.gamma is not None and config.schedule not in DEFAULT_GAMMA:
        raise ConfigError(
            "gamma", config.gamma, f"None unless the schedule is one of {', '.join(DEFAULT_GAMMA)}"
        )
    if config.warmup_steps and config.schedule not in WARMUP_SCHEDULES:
        raise ConfigError(
            "warmup_steps",
            config.warmup_steps,
            f"0 unless the schedule is one of {', '.join(WARMUP_SCHEDULES)} "
            "(onecycle warms up by itself)",
        )


def _check_betas(betas: object) -> None:
    allowed = "two numbers (beta1, beta2), each from 0 to 0.9999"
    if not isinstance(betas, tuple) or len(betas) != 2:
        raise ConfigError("betas", betas, allowed)
    for beta in betas:
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta <= 0.9999:
            raise ConfigError("betas", betas, allowed)


def _check_milestones(milestones: object, epochs: int) -> None:
    allowed = (
        f"up to {MAX_MILESTONES} increasing epochs, each from 1 to {epochs - 1}"
        if epochs > 1
        else "() when epochs = 1 (a milestone needs an epoch after it)"
    )
    if not isinstance(milestones, tuple) or len(milestones) > MAX_MILESTONES:
        raise ConfigError("milestones", milestones, allowed)
    for milestone in milestones:
        if isinstance(milestone, bool) or not isinstance(milestone, int):
            raise ConfigError("milestones", milestones, allowed)
    if list(milestones) != sorted(set(milestones)) or any(not 1 <= m < epochs for m in milestones):
        raise ConfigError("milestones", milestones, allowed)


def _check_hidden(hidden: object) -> None:
    allowed = f"up to {MAX_HIDDEN_LAYERS} layer widths, each from 1 to {MAX_WIDTH}"
    if not isinstance(hidden, tuple) or len(hidden) > MAX_HIDDEN_LAYERS:
        raise ConfigError("hidden", hidden, allowed)
    for width in hidden:
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
            raise ConfigError("hidden", hidden, allowed)
