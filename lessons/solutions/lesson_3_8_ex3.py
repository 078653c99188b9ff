"""Lesson 3.8, exercise 3: how big is a checkpoint? Measure a small one, then scale it up.

Count the bytes per parameter that a mixed-precision Adam run keeps, by measuring real
tensors: bfloat16 weights, a float32 copy of them, Adam's two moments, and bfloat16
gradients. Check the measured counts against the file torch.save writes. Then scale up to
70e9 parameters: the weights alone, the full checkpoint, the training state in memory,
and that state split evenly over 1,024 GPUs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

N_LARGE = 70e9
GPUS = 1024


def tensor_bytes(tensors: list[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def main() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    n = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters())  # float32 weights: the "master" copy
    model(torch.randn(32, 64)).sum().backward()
    optimizer.step()  # creates exp_avg and exp_avg_sq

    moments = [s[k] for s in optimizer.state.values() for k in ("exp_avg", "exp_avg_sq")]
    per_parameter = {
        "bfloat16 weights": tensor_bytes([p.to(torch.bfloat16) for p in model.parameters()]) / n,
        "float32 weights": tensor_bytes(list(model.parameters())) / n,
        "Adam moments (float32)": tensor_bytes(moments) / n,
        "bfloat16 gradients": tensor_bytes([p.grad.to(torch.bfloat16) for p in model.parameters()])
        / n,
    }
    for name, size in per_parameter.items():
        print(f"{name:24s} {size:.0f} bytes per parameter")
    assert list(per_parameter.values()) == [2, 4, 8, 2]

    checkpoint = 2 + 4 + 8  # weights to serve, float32 weights and moments to resume
    in_memory = checkpoint + 2  # + the gradients, during training
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.pt"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
        on_disk = path.stat().st_size
    print(
        f"\nsmall model: {n:,} parameters; float32 weights + Adam = 12 x {n:,} = {12 * n:,} bytes"
    )
    print(f"torch.save wrote {on_disk:,} bytes (the rest: names, step counts, the file's index)")
    assert 12 * n <= on_disk < 12 * n + 20_000

    print(f"\nscaled to N = {N_LARGE / 1e9:.0f}e9 parameters:")
    weights_gb = 2 * N_LARGE / 1e9
    full_gb = checkpoint * N_LARGE / 1e9
    memory_tb = in_memory * N_LARGE / 1e12
    per_gpu_gb = in_memory * N_LARGE / GPUS / 1e9
    print(f"  bfloat16 weights: 2 x N = {weights_gb:.0f} GB")
    print(f"  float32 weights and Adam's moments, to resume: 12 x N = {12 * N_LARGE / 1e9:.0f} GB")
    print(f"  all three, a full checkpoint: {checkpoint} x N = {full_gb:.0f} GB")
    print(f"  training state with gradients: {in_memory} x N = {memory_tb:.2f} TB")
    print(f"  sharded over {GPUS:,} GPUs: {per_gpu_gb:.2f} GB each")
    assert round(weights_gb) == 140 and round(full_gb) == 980 and round(memory_tb, 2) == 1.12
    print("70e9 parameters: 140 GB of bfloat16 weights, 980 GB with Adam")


if __name__ == "__main__":
    main()
