"""The engine's cuda paths on a GPU machine: every option and variant trained on cuda beside
the CPU, then the speed of autocast on a model big enough to use the tensor cores.

Prints figures, asserts nothing. Run on a machine with a GPU:
    python -m benchmarks.bench_cuda [--quick]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from engine.config import RunConfig, default_config
from engine.diagnosis import diagnose
from engine.loop import make_optimizer
from engine.step import mixed_precision_step, train_step
from engine.training import train
from engine.variants import all_variants, apply_variant

OPTIONS: dict[str, dict[str, object]] = {
    "adam (fused)": {},
    "adamw": {"optimizer": "adamw", "weight_decay": 0.01},
    "sgd momentum": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9},
    "float16 + GradScaler": {"precision": "float16"},
    "bfloat16 autocast": {"precision": "bfloat16"},
    "accumulate 4": {"accumulate": 4},
    "early stopping": {"early_stopping": 3, "subset": 200, "label_noise": 0.2, "epochs": 40},
    "augment": {"augment": True},
    "dropout 0.5": {"dropout": 0.5},
    "cnn + batch norm": {"model": "cnn", "batch_norm": True},
    "cnn + layer norm": {"model": "cnn", "layer_norm": True},
}


def _line(name: str, config: RunConfig) -> None:
    cpu = train(config.replace(device="cpu"))
    cuda = train(config.replace(device="cuda"))
    where = {p.device.type for p in cuda.model.parameters()} if cuda.model else set()
    print(
        f"{name:24} cpu {cpu.status:9} val {_last(cpu):8.4f} {cpu.seconds:5.1f}s | "
        f"cuda {cuda.status:9} val {_last(cuda):8.4f} {cuda.seconds:5.1f}s  weights on {where}"
    )


def _last(result: object) -> float:
    epochs = getattr(result, "epochs", [])
    return epochs[-1].val_loss if epochs else float("nan")


def check_device_mismatch() -> None:
    """The error lesson 3.5 quotes: a model on the GPU given a batch left on the CPU."""
    model = nn.Linear(64, 10).cuda()
    try:
        model(torch.ones(3, 64))
    except RuntimeError as error:
        print(f"model on cuda, batch on cpu: RuntimeError: {str(error).splitlines()[0]}")


def check_options() -> None:
    """Each engine option on cpu and cuda: both finish, and the curves end close together."""
    print("== options, 20 epochs on digits unless stated ==")
    probe = nn.Linear(2, 2).cuda()
    fused = make_optimizer(default_config("digits"), probe, torch.device("cuda"))
    print(f"Adam on cuda fused: {fused.defaults.get('fused')}")
    for name, changes in OPTIONS.items():
        _line(name, default_config("digits", **changes))
    straight = train(default_config("digits", device="cuda", dropout=0.3))
    resumed = train(default_config("digits", device="cuda", dropout=0.3, resume_at=10))
    same = [s.loss for s in straight.steps] == [s.loss for s in resumed.steps]
    print(f"resume_at 10 on cuda (dropout: the cuda RNG state restored) reproduces the run: {same}")


def check_variants() -> None:
    """Every catalogue variant on cuda: its status and diagnosis, beside the expected label."""
    print("== variants on cuda ==")
    base = default_config("digits", device="cuda")
    for variant_id, variant in all_variants().items():
        result = train(apply_variant(base, variant_id))
        label = diagnose(result.training_log()).label
        mark = "" if label == variant.expected_label else f"  (expected {variant.expected_label})"
        print(f"{variant_id:32} {result.status:9} {label}{mark}")


def _time_steps(step: Callable[..., torch.Tensor], width: int, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(1024, width), nn.ReLU()]
    for _ in range(3):
        layers += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, 10)).cuda()
    optimizer = torch.optim.Adam(model.parameters(), fused=True)
    inputs = torch.randn(batch, 1024, device="cuda")
    targets = torch.randint(0, 10, (batch,), device="cuda")
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(5):  # warm-up: kernels chosen, memory allocated
        step(model, inputs, targets, loss_fn, optimizer)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step(model, inputs, targets, loss_fn, optimizer)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps * 1000


def check_speed() -> None:
    """Milliseconds per training step of a 4-layer MLP (width 4096, batch 4096) on cuda."""
    print("== autocast speed on cuda: MLP 1024-4096x4-10, batch 4096 ==")
    scaler = torch.amp.GradScaler("cuda")
    steps = {
        "float32": train_step,
        "bfloat16 autocast": partial(mixed_precision_step, dtype=torch.bfloat16),
        "float16 + GradScaler": partial(mixed_precision_step, dtype=torch.float16, scaler=scaler),
    }
    times = {name: _time_steps(step, 4096, 4096, 50) for name, step in steps.items()}
    for name, ms in times.items():
        print(f"{name:22} {ms:7.2f} ms/step  ({times['float32'] / ms:.1f}x float32's speed)")


def main() -> None:
    if not torch.cuda.is_available():
        print("no cuda device: nothing to check")
        return
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    check_device_mismatch()
    check_speed()
    check_options()
    if "--quick" not in sys.argv:
        check_variants()


if __name__ == "__main__":
    main()
