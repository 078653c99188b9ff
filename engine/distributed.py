"""Data parallelism for real: DistributedDataParallel with the gloo backend on CPU processes.

Each of `world_size` processes (ranks) holds a full copy of the model, trains on its own
shard of every epoch (a DistributedSampler), and averages its gradients with the others'
inside backward() (an all-reduce). Every rank then takes the same step, so the copies stay
identical, and the run is the same as one process training on the ranks' batches joined
together: `train_one_process` trains exactly that, so the two can be compared number by
number.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from engine.config import RunConfig
from engine.data import load_data
from engine.device import limit_threads
from engine.loop import make_optimizer
from engine.models import build_model
from engine.step import make_loss_fn, train_step

MAX_WORLD_SIZE = 4  # processes on one shared server; each imports torch (~300 MB)


class DistributedUnavailableError(RuntimeError):
    """The processes could not be started or did not finish; the message says why."""


@dataclass(frozen=True)
class ParallelRun:
    """Per-step losses (the mean over all ranks' examples) and the final weights."""

    world_size: int
    losses: list[float]
    weights: dict[str, Tensor]
    seconds: float
    examples_per_rank: int  # of one epoch's training data


def check_parallel_config(config: RunConfig, world_size: int) -> None:
    """Raise ValueError for settings data parallelism here cannot reproduce exactly."""
    if not isinstance(world_size, int) or not 2 <= world_size <= MAX_WORLD_SIZE:
        raise ValueError(f"world_size = {world_size!r}: expected 2 to {MAX_WORLD_SIZE} processes")
    blockers = {
        "dropout": config.dropout > 0,  # each rank draws its own masks
        "batch_norm": config.batch_norm,  # each rank normalises over its own half batch
        "variant": config.variant is not None,
        "accumulate": config.accumulate > 1,
        "augment": config.augment,
        "precision": config.precision != "float32",
    }
    for name, blocked in blockers.items():
        if blocked:
            raise ValueError(
                f"{name} = {getattr(config, name)!r}: data parallel training here needs the "
                "default (no dropout, batch norm, variant, accumulation, augmentation or autocast)"
            )


def shard_indices(
    config: RunConfig, n_train: int, world_size: int, rank: int, epoch: int
) -> Tensor:
    """One rank's example indices for one epoch, as DistributedSampler deals them.

    Every rank draws the same shuffled order (seeded with config.seed and the epoch) and
    takes every world_size-th index, starting at its rank.
    """
    sampler = DistributedSampler(
        range(n_train), world_size, rank, shuffle=config.shuffle, seed=config.seed
    )
    sampler.set_epoch(epoch)  # a new order every epoch, the same on every rank
    return torch.tensor(list(sampler))


def examples_per_rank(n_train: int, world_size: int) -> int:
    """The size of each rank's shard (the sampler repeats a few examples to even them out)."""
    return math.ceil(n_train / world_size)


def batches(
    config: RunConfig, n_train: int, world_size: int, ranks: Sequence[int]
) -> Iterator[Tensor]:
    """Each step's example indices, epoch after epoch: the given ranks' batches joined.

    One rank of a parallel run asks for its own; the one-process twin asks for all of them.
    Only full batches are used (a last partial batch is dropped, on every rank alike).
    """
    size = config.batch_size
    steps = examples_per_rank(n_train, world_size) // size
    for epoch in range(config.epochs):
        shards = [shard_indices(config, n_train, world_size, rank, epoch) for rank in ranks]
        for step in range(steps):
            yield torch.cat([shard[step * size : (step + 1) * size] for shard in shards])


def train_one_process(config: RunConfig, world_size: int) -> ParallelRun:
    """The single-process twin: every step trains on all ranks' batches joined together."""
    check_parallel_config(config, world_size)
    start = time.perf_counter()
    limit_threads(config.threads)
    data = load_data(config)
    model = build_model(config, data.input_shape, data.n_classes)
    optimizer = make_optimizer(config, model, torch.device("cpu"))
    loss_fn = make_loss_fn(config, data)
    losses = []
    for batch in batches(config, len(data.train), world_size, range(world_size)):
        inputs, targets = data.train.inputs[batch], data.train.targets[batch]
        losses.append(train_step(model, inputs, targets, loss_fn, optimizer).item())
    return ParallelRun(
        world_size,
        losses,
        _weights(model),
        time.perf_counter() - start,
        examples_per_rank(len(data.train), world_size),
    )


def train_data_parallel(
    config: RunConfig, world_size: int = 2, timeout: float = 120.0
) -> ParallelRun:
    """Train with world_size gloo processes on this machine and return rank 0's view.

    Each rank is a fresh `python -m engine.distributed` process, as a launcher such as
    torchrun would start it, so nothing depends on how the calling program was started.
    Raises ValueError for settings it cannot run and DistributedUnavailableError when the
    processes cannot be started or do not finish within `timeout` seconds.
    """
    check_parallel_config(config, world_size)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        result_path = Path(folder) / "rank0.pt"
        port = str(_free_port())
        settings = json.dumps(config.to_dict())
        ranks = []
        try:
            for rank in range(world_size):
                log = open(Path(folder) / f"rank{rank}.log", "w+b")  # noqa: SIM115 (closed below)
                command = [sys.executable, "-m", "engine.distributed", str(rank)]
                command += [str(world_size), port, settings, str(result_path)]
                ranks.append((subprocess.Popen(command, stdout=log, stderr=log), log))
        except OSError as error:
            _stop(ranks)
            raise DistributedUnavailableError(
                f"could not start {world_size} training processes on this machine ({error})"
            ) from None
        _wait(ranks, start + timeout)
        saved = torch.load(result_path, weights_only=True)
    return ParallelRun(
        world_size,
        saved["losses"],
        saved["weights"],
        time.perf_counter() - start,
        saved["examples_per_rank"],
    )


def _wait(ranks: list[tuple[subprocess.Popen[bytes], IO[bytes]]], deadline: float) -> None:
    """Wait for every rank; a rank's failure or the deadline ends all of them, with a reason."""
    try:
        for process, log in ranks:
            try:
                code = process.wait(timeout=max(0.1, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                raise DistributedUnavailableError(
                    "the training processes did not finish in time"
                ) from None
            if code != 0:
                log.seek(0)
                lines = log.read().decode(errors="replace").strip().splitlines()
                last = lines[-1] if lines else f"exit code {code}"
                raise DistributedUnavailableError(f"a training process failed: {last}")
    finally:
        _stop(ranks)


def _stop(ranks: list[tuple[subprocess.Popen[bytes], IO[bytes]]]) -> None:
    for process, log in ranks:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def _rank_main(
    rank: int, world_size: int, port: int, config_dict: dict[str, Any], result_path: str
) -> None:
    """One rank: the healthy loop on its shard, with DDP averaging the gradients."""
    config = RunConfig.from_dict(config_dict)
    limit_threads(1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback: nothing leaves the machine
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    try:
        data = load_data(config)
        model = build_model(config, data.input_shape, data.n_classes)  # same seed on every rank
        parallel = DistributedDataParallel(model)  # also broadcasts rank 0's weights
        optimizer = make_optimizer(config, model, torch.device("cpu"))
        loss_fn = make_loss_fn(config, data)
        losses = []
        for batch in batches(config, len(data.train), world_size, [rank]):
            inputs, targets = data.train.inputs[batch], data.train.targets[batch]
            loss = train_step(parallel, inputs, targets, loss_fn, optimizer).detach()
            dist.all_reduce(loss)  # for the log only: the mean over every rank's batch
            losses.append(loss.item() / world_size)
        if rank == 0:
            torch.save(
                {
                    "losses": losses,
                    "weights": _weights(model),
                    "examples_per_rank": examples_per_rank(len(data.train), world_size),
                },
                result_path,
            )
    finally:
        dist.destroy_process_group()


def _weights(model: torch.nn.Module) -> dict[str, Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def max_weight_difference(a: ParallelRun, b: ParallelRun) -> float:
    """The largest absolute difference between any two matching weights of two runs."""
    return max((a.weights[k] - b.weights[k]).abs().max().item() for k in a.weights)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":  # one rank, started by train_data_parallel
    rank_, world_size_, port_, settings_, result_path_ = sys.argv[1:6]
    _rank_main(int(rank_), int(world_size_), int(port_), json.loads(settings_), result_path_)
