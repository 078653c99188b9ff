"""Back-of-the-envelope numbers for training a large model: compute, memory and time.

All pure arithmetic, the estimates used to plan a run before anything is trained:

- compute: about 6 floating-point operations per parameter per training token (2 for
  the forward pass, 4 for the backward pass), so a run costs 6 * N * D FLOPs;
- memory: a fixed number of bytes per parameter, set by the optimizer and the precision;
- time: the FLOPs divided by what the GPUs really sustain (peak times utilisation).
"""

from __future__ import annotations

import math

from engine.config import ConfigError

OPTIMIZERS = ("sgd", "sgd_momentum", "adam")
PRECISIONS = ("float32", "mixed")
PARTS = ("weights", "gradients", "optimizer_state", "master_copy")
# Numbers kept per parameter by the optimizer: momentum keeps one, Adam two (m and v).
OPTIMIZER_STATES = {"sgd": 0, "sgd_momentum": 1, "adam": 2}
FLOAT32_BYTES = 4
BFLOAT16_BYTES = 2
BYTES_PER_GB = 1e9
H100_BF16_FLOPS = 989e12  # dense bf16 peak of one H100 SXM; sparse figures are twice this
SECONDS_PER_DAY = 86_400


def training_flops(parameters: float, tokens: float) -> float:
    """FLOPs to train a model of `parameters` weights on `tokens` tokens: 6 * N * D.

    Raises ConfigError (a ValueError) unless both are positive numbers.
    """
    _check_positive("parameters", parameters)
    _check_positive("tokens", tokens)
    return 6 * parameters * tokens


def bytes_per_parameter(optimizer: str = "adam", precision: str = "float32") -> dict[str, int]:
    """Bytes each parameter costs during training, by part: weights, gradients,
    optimizer_state and master_copy (every part present, 0 where it does not apply).

    float32 keeps everything in 4-byte floats: Adam 4 + 4 + 8 = 16, SGD 8, SGD with
    momentum 12. Mixed precision keeps bf16 weights and gradients (2 + 2) for the
    matrix products, plus a float32 master copy of the weights (4) that the optimizer
    updates, since bf16 is too coarse to add small updates to; the optimizer state stays
    float32. Mixed Adam is therefore 2 + 2 + 4 + 8 = 16 as well: mixed precision saves
    time and activation memory, not the memory of the weights and optimizer.
    Raises ConfigError (a ValueError) for an unknown optimizer or precision.
    """
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    _check_choice("precision", precision, PRECISIONS)
    state = OPTIMIZER_STATES[optimizer] * FLOAT32_BYTES
    if precision == "float32":
        return {
            "weights": FLOAT32_BYTES,
            "gradients": FLOAT32_BYTES,
            "optimizer_state": state,
            "master_copy": 0,
        }
    return {
        "weights": BFLOAT16_BYTES,
        "gradients": BFLOAT16_BYTES,
        "optimizer_state": state,
        "master_copy": FLOAT32_BYTES,
    }


def training_memory_gb(
    parameters: float, optimizer: str = "adam", precision: str = "float32"
) -> float:
    """GB (1e9 bytes) for the weights, gradients, optimizer state and master copy.

    Activations are NOT included: they grow with batch size and sequence length and
    often need as much again or more, so this is the least the run needs, not all of it.
    Raises ConfigError (a ValueError) for a non-positive parameter count or an unknown
    optimizer or precision.
    """
    _check_positive("parameters", parameters)
    return parameters * sum(bytes_per_parameter(optimizer, precision).values()) / BYTES_PER_GB


def gpus_to_hold(memory_gb: float, gpu_memory_gb: float = 80.0) -> int:
    """The fewest GPUs of `gpu_memory_gb` each whose memory adds up to `memory_gb`.

    A lower bound: it assumes the state splits perfectly across GPUs (as sharded
    training such as ZeRO or FSDP does) and leaves no room for activations.
    Raises ConfigError (a ValueError) unless both are positive numbers.
    """
    _check_positive("memory_gb", memory_gb)
    _check_positive("gpu_memory_gb", gpu_memory_gb)
    return math.ceil(memory_gb / gpu_memory_gb)


def training_days(
    parameters: float,
    tokens: float,
    gpus: int,
    flops_per_gpu: float = H100_BF16_FLOPS,
    utilization: float = 0.4,
) -> float:
    """Days of wall-clock training: 6 * N * D / (gpus * flops_per_gpu * utilization).

    `flops_per_gpu` is the peak rate (default: an H100's dense bf16 peak, 989e12 per
    second); `utilization` the fraction of it a real run sustains (0.3-0.5 is typical,
    the rest lost to communication, memory traffic and small kernels).
    Raises ConfigError (a ValueError) for non-positive numbers, a non-integer GPU count
    or a utilization above 1.
    """
    flops = training_flops(parameters, tokens)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
        raise ConfigError("gpus", gpus, "a whole number of GPUs, 1 or more")
    _check_positive("flops_per_gpu", flops_per_gpu)
    _check_positive("utilization", utilization)
    if utilization > 1:
        raise ConfigError("utilization", utilization, "a fraction above 0 and at most 1")
    seconds = flops / (gpus * flops_per_gpu * utilization)
    return seconds / SECONDS_PER_DAY


def _check_positive(name: str, value: float) -> None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    # `not value > 0` also rejects nan; infinity is no plan either
    if not is_number or not value > 0 or math.isinf(value):
        raise ConfigError(name, value, "a positive number")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, value, "one of " + ", ".join(choices))
