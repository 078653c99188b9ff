"""How fast is one MNIST epoch in the engine, next to a tutorial loop and the hardware limit?

Four figures, measured in one process on the same machine, the same data and the same
number of training examples (the engine's own train split, ~51000 of the 60000 images):

1. tutorial      the conventional loop: torchvision MNIST with ToTensor + Normalize,
                 DataLoader(batch_size=64, shuffle=True), the MLP 784-128-64-10, default
                 (non-fused) Adam 1e-3, CrossEntropyLoss and `loss.item()` every step;
2. engine        `engine.training.train(default_config("mnist", epochs=1))`, reporting
                 `result.epochs[0].seconds` (data fetching, steps and per-step telemetry;
                 evaluation excluded);
3. math-only     forward + loss + backward + fused Adam 1e-3 on batches of 64 made in
                 memory beforehand: no DataLoader, no telemetry;
4. arithmetic    6 x examples x weights FLOPs divided by a measured float32 matmul rate.

Every contender runs after a shared warm-up (the first Adam in a process imports
torch._dynamo, ~1.5 s once), with the same thread count. Figures are printed, never
asserted: timing depends on the machine.

Run from the repository root:

    python -m benchmarks.bench_epoch                 # or: make bench
    python -m benchmarks.bench_epoch --data-dir data --threads 2 --repeats 5 --json

Real MNIST is used when DATA_DIR/MNIST/raw holds the IDX files; otherwise MNIST-format
files are written to a temporary folder with `tests.mnist_files.write_mnist_format`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor, nn

from engine.config import RunConfig, default_config
from engine.data import load_data
from engine.training import train
from tests.mnist_files import write_mnist_format

BATCH_SIZE = 64
LR = 1e-3
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MATMUL_SIZE = 2048
MATMUL_RUNS = 5
TARGET_SPEEDUP = 10.0
TARGET_OVER_MATH = 1.3


def log(message: str) -> None:
    """Progress goes to stderr so that --json output stays one clean object on stdout."""
    print(message, file=sys.stderr, flush=True)


def has_mnist(root: Path) -> bool:
    """True when ROOT/MNIST/raw holds the four uncompressed IDX files torchvision reads."""
    raw = root / "MNIST" / "raw"
    return all((raw / name).is_file() for name in IDX_FILES)


@contextmanager
def mnist_root(data_dir: Path) -> Iterator[tuple[Path, str]]:
    """Yield (root, description): real MNIST if present, else MNIST-format files in a temp dir."""
    if has_mnist(data_dir):
        yield data_dir, f"real MNIST from {data_dir}/MNIST/raw"
        return
    with tempfile.TemporaryDirectory(prefix="bench-mnist-") as tmp:
        log(f"no MNIST in {data_dir}/MNIST/raw: writing MNIST-format files to {tmp}")
        write_mnist_format(tmp)
        yield Path(tmp), "MNIST-format files from tests.mnist_files.write_mnist_format (temp dir)"


def make_mlp() -> nn.Sequential:
    """The tutorial MLP, the same shape as the engine's default: 784-128-64-10 with ReLU."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def count_weights(model: nn.Module) -> int:
    """Weights of the linear layers (biases excluded): the multiply-adds per example."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))


def step(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> Tensor:
    """The standard zero_grad / forward / loss / backward / step."""
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss


def warm_up() -> None:
    """Pay one-off costs (torch._dynamo import, first kernels) before anything is timed."""
    inputs, targets = torch.randn(BATCH_SIZE, 1, 28, 28), torch.randint(0, 10, (BATCH_SIZE,))
    for fused in (False, True):
        model = make_mlp()
        optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=fused)
        for _ in range(5):
            step(model, inputs, targets, nn.CrossEntropyLoss(), optimizer).item()


def timed(run_once: Callable[[], float], repeats: int, name: str) -> float:
    """Median of `repeats` epoch times; run_once returns one epoch's seconds."""
    times = []
    for number in range(1, repeats + 1):
        times.append(run_once())
        log(f"  {name} epoch {number}/{repeats}: {times[-1]:.3f} s")
    return statistics.median(times)


def tutorial_epoch(root: Path, n_examples: int) -> float:
    """One epoch of the conventional torchvision + DataLoader loop, on n_examples images."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Normalize((MNIST_MEAN,), (MNIST_STD,)),
        ]
    )
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    loader = DataLoader(Subset(dataset, range(n_examples)), batch_size=BATCH_SIZE, shuffle=True)
    model = make_mlp()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    start = time.perf_counter()
    for inputs, targets in loader:
        step(model, inputs, targets, loss_fn, optimizer).item()
    return time.perf_counter() - start


def engine_epoch(config: RunConfig, root: Path) -> float:
    """The engine's own measure of one training epoch (evaluation excluded)."""
    result = train(config, data_dir=root)
    if result.status != "completed" or not result.epochs:
        raise RuntimeError(f"engine run ended with status {result.status}: {result.error}")
    return result.epochs[0].seconds


def math_only_epoch(batches: list[tuple[Tensor, Tensor]]) -> float:
    """Forward, loss, backward and fused Adam over in-memory batches; nothing else."""
    model = make_mlp()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    start = time.perf_counter()
    for inputs, targets in batches:
        step(model, inputs, targets, loss_fn, optimizer)
    return time.perf_counter() - start


def premade_batches(config: RunConfig, root: Path) -> list[tuple[Tensor, Tensor]]:
    """The engine's train split cut into batches of 64, in memory."""
    split = load_data(config, root).train
    inputs = split.inputs.contiguous()
    return list(zip(inputs.split(BATCH_SIZE), split.targets.split(BATCH_SIZE), strict=True))


def matmul_gflops(size: int = MATMUL_SIZE, runs: int = MATMUL_RUNS) -> float:
    """Best float32 matmul rate over a few size x size products, 2 * size^3 flops each."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # first call: thread pool and kernel selection
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def measure(root: Path, data: str, args: argparse.Namespace) -> dict[str, object]:
    """Run every contender and return the figures."""
    config = default_config("mnist", epochs=1, threads=args.threads)
    n_train = len(load_data(config, root).train)
    log(f"examples per epoch (engine train split, all contenders): {n_train}")
    warm_up()
    log("tutorial loop ...")
    tutorial = timed(lambda: tutorial_epoch(root, n_train), args.tutorial_repeats, "tutorial")
    log("engine ...")
    engine = timed(lambda: engine_epoch(config, root), args.repeats, "engine")
    log("math-only ...")
    batches = premade_batches(config, root)
    math_only = timed(lambda: math_only_epoch(batches), args.repeats, "math-only")
    gflops = matmul_gflops()
    flops = 6 * n_train * count_weights(make_mlp())
    limit = flops / (gflops * 1e9)
    return {
        "data": data,
        "threads": args.threads,
        "examples": n_train,
        "epoch_gflop": flops / 1e9,
        "tutorial_s": tutorial,
        "engine_s": engine,
        "math_only_s": math_only,
        "arithmetic_limit_s": limit,
        "matmul_gflops": gflops,
        "speedup_vs_tutorial": tutorial / engine,
        "engine_over_math_only": engine / math_only,
        "engine_over_arithmetic": engine / limit,
    }


def report(figures: dict[str, object], args: argparse.Namespace) -> str:
    """The human-readable table."""
    f = figures
    weights = count_weights(make_mlp())
    lines = [
        f"data:     {f['data']}",
        f"threads:  {f['threads']}   batch {BATCH_SIZE}   MLP 784-128-64-10   Adam lr {LR:g}",
        f"examples: {f['examples']} per epoch for every contender (the engine's train split; "
        "the tutorial gets a Subset of that many torchvision images)",
        "",
        f"{'contender':<44}{'seconds':>9}",
        f"{'tutorial (torchvision + DataLoader, Adam)':<44}{f['tutorial_s']:>9.3f}"
        f"   median of {args.tutorial_repeats}",
        f"{'engine (train(), epochs[0].seconds)':<44}{f['engine_s']:>9.3f}"
        f"   median of {args.repeats}",
        f"{'math-only (pre-made batches, fused Adam)':<44}{f['math_only_s']:>9.3f}"
        f"   median of {args.repeats}",
        f"{'arithmetic limit':<44}{f['arithmetic_limit_s']:>9.3f}",
        "",
        f"arithmetic limit = 6 x n_train x n_weights / matmul rate"
        f" = 6 x {f['examples']} x {weights} = {f['epoch_gflop']:.1f} GFLOP",
        f"  at {f['matmul_gflops']:.1f} GFLOPS"
        f" ({MATMUL_SIZE}x{MATMUL_SIZE} float32 matmul, best of {MATMUL_RUNS})",
        "",
        f"tutorial / engine         {f['speedup_vs_tutorial']:>7.2f}x   "
        f"(target >= {TARGET_SPEEDUP:g}x)",
        f"engine / math-only        {f['engine_over_math_only']:>7.2f}x   "
        f"(target <= {TARGET_OVER_MATH:g}x)",
        f"engine / arithmetic limit {f['engine_over_arithmetic']:>7.2f}x",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="folder holding MNIST/raw (default: data)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads for all runs")
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="epochs timed for the engine and math-only (median reported)",
    )
    parser.add_argument(
        "--tutorial-repeats",
        type=int,
        default=1,
        help="epochs timed for the tutorial loop (median reported)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    if min(args.threads, args.repeats, args.tutorial_repeats) < 1:
        parser.error("--threads, --repeats and --tutorial-repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    with mnist_root(args.data_dir.expanduser()) as (root, data):
        figures = measure(root, data, args)
    print(json.dumps(figures) if args.json else report(figures, args))


if __name__ == "__main__":
    main()
