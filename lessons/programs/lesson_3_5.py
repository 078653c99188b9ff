"""Lesson 3.5: the tools of large-scale training, each one measured on the digits MLP.

Part 1 picks a device and shows what .to() moves in place and what it copies.
Part 2 accumulates gradients over K micro-batches: divided by K they equal the gradient of
one big batch; not divided they are K times larger. It trains with SGD and with Adam, with
and without the division.
Part 3 trains with DistributedDataParallel in 2 processes (gloo backend, on the CPU) and
compares the weights with 1 process that takes the same global batches.
Part 4 shows what float16 and bfloat16 can hold, then trains the same run in float32 and in
bfloat16 autocast and times an epoch of each.
Part 5 is a scale calculator: FLOPs, memory and days for a model far larger than this one.

Run it with: python lesson_3_5.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import os
import socket
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

SEED = 0
N_TRAIN = 1280  # training digits: 10 optimizer steps of 128, or 20 global batches of 64
STEP_BATCH = 128  # examples per optimizer step, split into K micro-batches
LR, MOMENTUM, ADAM_LR = 0.05, 0.9, 1e-3  # the lesson's SGD baseline, and Adam's usual lr
EPOCHS = 5  # for the accumulation and precision runs: 50 optimizer steps
WORLD_SIZE, GLOBAL_BATCH, DDP_EPOCHS = 2, 64, 2  # 2 processes x 32 a step, 40 steps
BYTES_PER_PARAM = 4 + 4 + 8  # float32 weights, gradients, Adam's two moments


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_training_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """1,280 of the 1,797 digits, standardised: inputs [1280, 64] and labels [1280]."""
    from sklearn.datasets import load_digits  # imported here: the worker processes skip it

    digits = load_digits()  # bundled with scikit-learn: no download
    x = torch.tensor(digits.data, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)
    train = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))[:N_TRAIN]
    x = x[train]
    return (x - x.mean(dim=0)) / x.std(dim=0).clamp_min(1e-6), y[train]


def make_mlp() -> nn.Sequential:
    """The course's digits MLP: 64 -> 128 -> 64 -> 10 with ReLU."""
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def show_placement(device: torch.device) -> None:
    """Part 1: a module's .to() moves it in place; a tensor's .to() returns a new tensor."""
    print(f"device: {device.type}")
    model = make_mlp()
    print(f"model.to(device) returns the same module: {model.to(device) is model}")
    x = torch.ones(3, 64)  # made on the cpu
    x64 = x.to(torch.float64)  # something to change: a new tensor, x untouched
    print(f"x.to(float64) is a new tensor: {x64 is not x}; x is still {x.dtype}")
    print(f"x.to(the device and dtype it has) is x itself: {x.to('cpu', torch.float32) is x}")
    if device.type == "cpu":
        print("one device only: no mismatch to show")
        return
    try:
        model(x)  # weights on the accelerator, data still on the cpu
    except RuntimeError as error:
        print(f"model on {device.type}, data on cpu: RuntimeError: {error}")
    print(f"after x.to(device): output on {model(x.to(device)).device.type}")


def accumulated_grads(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int, divide: bool
) -> torch.Tensor:
    """backward() on k micro-batches in a row (no zero_grad between); the summed gradient."""
    model.zero_grad()
    for xb, yb in zip(x.chunk(k), y.chunk(k), strict=True):
        loss = nn.functional.cross_entropy(model(xb), yb)
        (loss / k if divide else loss).backward()  # .grad adds up across backward() calls
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def train(
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer_name: str,
    k: int,
    divide: bool,
    autocast: torch.dtype | None = None,
) -> tuple[nn.Module, list[float], list[float]]:
    """EPOCHS epochs, one optimizer step per K micro-batches; the model, the mean loss of
    each epoch and the seconds each epoch took."""
    torch.manual_seed(SEED)  # every run starts from the same weights
    model = make_mlp()
    if optimizer_name == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
    generator = torch.Generator().manual_seed(SEED)  # and sees the same batches
    losses, seconds = [], []
    for _ in range(EPOCHS):
        started, total = time.perf_counter(), 0.0
        for step_batch in torch.randperm(len(y), generator=generator).split(STEP_BATCH):
            optimizer.zero_grad()
            for micro in step_batch.chunk(k):
                # autocast runs the matrix products in bfloat16 (does nothing when disabled)
                with torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
                    loss = nn.functional.cross_entropy(model(x[micro]), y[micro])
                (loss / k if divide else loss).backward()
                total += loss.item() / k
            optimizer.step()  # once per K micro-batches
        seconds.append(time.perf_counter() - started)
        losses.append(total / (len(y) // STEP_BATCH))
    return model, losses, seconds


def show_accumulation(x: torch.Tensor, y: torch.Tensor) -> None:
    """Part 2: accumulation's arithmetic, then the missing division under SGD and Adam."""
    torch.manual_seed(SEED)
    model = make_mlp()
    batch_x, batch_y = x[:STEP_BATCH], y[:STEP_BATCH]
    big = accumulated_grads(model, batch_x, batch_y, 1, True)  # one batch of 128
    divided = accumulated_grads(model, batch_x, batch_y, 4, True)  # 4 micro-batches of 32
    undivided = accumulated_grads(model, batch_x, batch_y, 4, False)
    print(f"\n4 micro-batches of 32 vs one batch of {STEP_BATCH}:")
    print(f"  each loss / K: largest gradient difference {(divided - big).abs().max():.1e}")
    print(f"  not divided: gradient norm {undivided.norm() / big.norm():.4f} times the batch's")

    print(f"\nmean train loss by epoch, {EPOCHS} epochs of {N_TRAIN // STEP_BATCH} steps:")
    runs = {}
    for name, k, divide in (
        ("sgd", 4, True),  # the baseline: 4 micro-batches of 32
        ("sgd", 16, False),  # 16 micro-batches of 8, the same 128 examples a step
        ("adam", 4, True),
        ("adam", 4, False),
    ):
        label = f"{name}, K={k}, {'loss / K' if divide else 'not divided'}"
        runs[label] = train(x, y, name, k, divide)[1]
        print(f"  {label:<24}" + " ".join(f"{v:6.3f}" for v in runs[label]))
    adam = zip(runs["adam, K=4, loss / K"], runs["adam, K=4, not divided"], strict=True)
    most = max(abs(a - b) for a, b in adam)
    print(f"  adam with and without / K: largest loss difference {most:.1e}")


def free_port() -> int:
    """A TCP port nobody is using right now, for the processes to meet on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_data_parallel(
    rank: int, world_size: int, x: torch.Tensor, y: torch.Tensor
) -> tuple[nn.Module, list[float]]:
    """Train on this rank's share of every global batch; the model and each step's loss."""
    torch.manual_seed(SEED)  # the same start everywhere (DDP also copies rank 0's weights)
    model = make_mlp()
    if world_size > 1:
        model = DistributedDataParallel(model)  # from now on backward() averages gradients
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    dataset = TensorDataset(x, y)
    # One shuffled order shared by all ranks; rank r takes every world_size-th example.
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, seed=SEED)
    loader = DataLoader(dataset, batch_size=GLOBAL_BATCH // world_size, sampler=sampler)
    losses = []
    for epoch in range(DDP_EPOCHS):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()  # with DDP: an all-reduce leaves the mean gradient on every rank
            optimizer.step()
            seen = loss.detach().clone()
            if world_size > 1:
                dist.all_reduce(seen)  # the sum over ranks, for the log only
                seen /= world_size
            losses.append(seen.item())
    return model, losses


def ddp_worker(rank: int, world_size: int, x: torch.Tensor, y: torch.Tensor, out: str) -> None:
    """One process of the data-parallel run; rank 0 saves the weights and the losses."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)  # reads MASTER_*
    model, losses = train_data_parallel(rank, world_size, x, y)
    if rank == 0:
        torch.save({"weights": model.module.state_dict(), "losses": losses}, out)
    dist.destroy_process_group()


def show_data_parallel(x: torch.Tensor, y: torch.Tensor, saved: dict) -> None:
    """Part 3: what the 2 processes saved, against 1 process with the same global batches."""
    single, losses = train_data_parallel(0, 1, x, y)
    diff = max((w - saved["weights"][n]).abs().max() for n, w in single.state_dict().items())
    gap = max(abs(a - b) for a, b in zip(losses, saved["losses"], strict=True))
    shard, steps = GLOBAL_BATCH // WORLD_SIZE, len(losses)
    print(f"\n{WORLD_SIZE} gloo processes x {shard} vs 1 process x {GLOBAL_BATCH}, {steps} steps:")
    for name, run in (("2 processes", saved["losses"]), ("1 process", losses)):
        print(f"  {name + ':':<12} loss {run[0]:.4f} at step 1, {run[-1]:.4f} at step {steps}")
    print(f"  largest loss difference {gap:.1e}, largest weight difference {diff:.1e}")


def show_precision(x: torch.Tensor, y: torch.Tensor) -> None:
    """Part 4: what float16 and bfloat16 can hold; float32 and bfloat16 runs side by side."""
    grads = torch.tensor([1e-3, 1e-5, 6e-8, 1e-8])
    print("\nsmall gradients stored in each format:")
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        print(f"  {str(dtype)[6:]:<9}" + " ".join(f"{v:8.2e}" for v in grads.to(dtype).tolist()))
    scale = 2.0**16  # a loss scaler multiplies the loss, and so every gradient, by this
    rescued = (grads * scale).to(torch.float16).float() / scale  # scale, store, unscale
    print(f"  float16 after x {scale:.0f} and back: " + " ".join(f"{v:.2e}" for v in rescued))
    for dtype in (torch.float16, torch.bfloat16):
        info = torch.finfo(dtype)
        print(f"  {str(dtype)[6:]}: largest {info.max:.3g}, eps {info.eps:.3g}")

    _, full, full_s = train(x, y, "sgd", 4, True)
    _, half, half_s = train(x, y, "sgd", 4, True, autocast=torch.bfloat16)
    print("\nSGD, K=4, loss / K, mean train loss by epoch:")
    print("  float32            " + " ".join(f"{v:6.3f}" for v in full))
    print("  bfloat16 autocast  " + " ".join(f"{v:6.3f}" for v in half))
    most = max(abs(a - b) for a, b in zip(full, half, strict=True))
    print(f"  largest difference {most:.4f}")
    fastest = 1000 * min(full_s), 1000 * min(half_s)  # the least disturbed epoch of each
    print(f"  fastest epoch: float32 {fastest[0]:.1f} ms, bfloat16 {fastest[1]:.1f} ms")
    print(f"  bfloat16 takes {fastest[1] / fastest[0]:.1f} times as long on this cpu")


def training_flops(n_params: float, n_examples: float) -> float:
    """About 6 FLOPs per parameter per example: 2 forward, 4 backward."""
    return 6 * n_params * n_examples


def training_days(flops: float, gpus: int, flops_per_gpu: float) -> float:
    """Days of training at a sustained rate per GPU (a share of the advertised peak)."""
    return flops / (gpus * flops_per_gpu) / 86_400


def show_scale() -> None:
    """Part 5: the calculator on this MLP and on a 7-billion-parameter model."""
    n_mlp = sum(p.numel() for p in make_mlp().parameters())
    seen = EPOCHS * N_TRAIN
    print(f"\nthis MLP: {n_mlp:,} parameters")
    print(f"  {EPOCHS} epochs of {N_TRAIN:,} digits: {training_flops(n_mlp, seen):.2e} FLOPs")
    print(f"  weights + gradients + Adam: {n_mlp * BYTES_PER_PARAM:,} bytes")
    n, tokens, per_gpu, gpu_memory = 7e9, 2e12, 4e14, 80e9  # 4e14: 40% of a 1e15 peak
    need, flops = n * BYTES_PER_PARAM, training_flops(n, tokens)
    print(f"a 7e9-parameter model: {need / 1e9:.0f} GB for weights + gradients + Adam")
    print(
        f"  that is {need / gpu_memory:.1f} GPUs of 80 GB; sharded over 8: {need / 8e9:.0f} GB each"
    )
    print(f"  on 2e12 tokens: {flops:.1e} FLOPs")
    for gpus in (8, 1024):
        days = training_days(flops, gpus, per_gpu)
        print(f"  {gpus} GPUs at {per_gpu:.0e} FLOP/s each: {days:.1f} days")


def main() -> None:
    torch.set_num_threads(1)  # work this small runs faster on one thread
    x, y = load_training_digits()
    os.environ["MASTER_ADDR"] = "127.0.0.1"  # where rank 0 listens: what torchrun sets
    os.environ["MASTER_PORT"] = str(free_port())
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "rank0.pt")
        # Start the 2 processes now and collect them later: each spends a second or two
        # importing torch, and this process runs parts 1 and 2 meanwhile.
        workers = mp.spawn(ddp_worker, args=(WORLD_SIZE, x, y, out), nprocs=WORLD_SIZE, join=False)
        show_placement(pick_device())
        # Parts 2 to 4 stay on the cpu on purpose: they compare cpu runs (gloo, timings).
        show_accumulation(x, y)
        while not workers.join():  # wait for both; raises if either failed
            pass
        show_data_parallel(x, y, torch.load(out, weights_only=True))
    show_precision(x, y)  # timed last, with no other process of ours running
    show_scale()


if __name__ == "__main__":
    main()
