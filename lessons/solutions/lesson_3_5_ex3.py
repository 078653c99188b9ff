"""Lesson 3.5, exercise 3: a scale calculator, checked where it can be.

Write the three formulas of the lesson as functions: training FLOPs ~ 6 x N x D, 16 bytes
of training state per parameter (float32 or the usual mixed-precision recipe), and days on
G GPUs. Count the FLOPs of one real training step of an MLP with PyTorch's FLOP counter
and compare with 6 x N per example. Then plan a 7e9-parameter model on 2e12 tokens.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

FLOAT32_BYTES = {"weights": 4, "gradients": 4, "adam moments": 8}
MIXED_BYTES = {"bf16 weights": 2, "bf16 gradients": 2, "fp32 master weights": 4, "adam moments": 8}


def training_flops(n_params: float, n_examples: float) -> float:
    """About 2 FLOPs per parameter per example forward, 4 backward."""
    return 6 * n_params * n_examples


def state_bytes(n_params: float, recipe: dict[str, int]) -> float:
    """Weights, gradients and optimizer state; activations come on top."""
    return n_params * sum(recipe.values())


def training_days(flops: float, gpus: int, flops_per_gpu: float) -> float:
    return flops / (gpus * flops_per_gpu) / 86_400


def measured_flops_per_example(model: nn.Module, batch: int) -> float:
    """What one forward + backward really costs, counted by PyTorch, per example."""
    x, y = torch.randn(batch, 64), torch.randint(0, 10, (batch,))
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / batch


def main() -> None:
    torch.set_num_threads(1)  # work this small runs faster on one thread
    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    n = sum(p.numel() for p in mlp.parameters())
    per_example = measured_flops_per_example(mlp, 128)
    print(
        f"MLP, {n:,} parameters: {per_example:,.0f} FLOPs per example = {per_example / n:.2f} x N"
    )
    assert 4 * n < per_example <= 6 * n  # the input layer needs no input gradient

    big, tokens = 7e9, 2e12
    need = state_bytes(big, FLOAT32_BYTES)
    assert need == state_bytes(big, MIXED_BYTES) == 112e9  # 16 bytes either way
    fits_one = need <= 80e9
    least = math.ceil(need / 40e9)  # sharded, leaving half of each 80 GB for activations
    flops = training_flops(big, tokens)
    days = training_days(flops, 1024, 4e14)
    print(f"7e9 parameters: {need / 1e9:.0f} GB of state; fits one 80 GB GPU: {fits_one}")
    print(f"  sharded with at most 40 GB each: {least} GPUs or more")
    print(f"  2e12 tokens: {flops:.1e} FLOPs, {days:.1f} days on 1024 GPUs at 4e14 FLOP/s")
    assert not fits_one and least == 3 and flops == 8.4e22
    print("a 7e9-parameter model needs 112 GB before activations")


if __name__ == "__main__":
    main()
