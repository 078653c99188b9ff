"""Time the healthy digits run and the whole failure catalogue on one CPU thread.

Run from the repository root: `python -m benchmarks.bench_catalogue` (or `make bench`).
Targets (issues 3 and 4): a healthy 20-epoch digits run trains in under 1 s; the
baseline paired with every variant completes in under 30 s. Prints figures, asserts
nothing: timing belongs in a benchmark, not a unit test.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from engine.compare import compare
from engine.config import default_config
from engine.training import train
from engine.variants import all_variants


def warm_up() -> None:
    """Pay one-off costs (torch._dynamo import on the first Adam, sklearn load) up front."""
    train(default_config(epochs=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warm_up()

    healthy = train(default_config())
    start = time.perf_counter()
    comparison = compare(default_config(), list(all_variants()))
    catalogue_seconds = time.perf_counter() - start
    per_run = {pair.variant_id: round(pair.result.seconds, 3) for pair in comparison.variants}
    figures = {
        "healthy_train_seconds": round(healthy.train_seconds, 3),
        "healthy_wall_seconds": round(healthy.seconds, 3),
        "healthy_val_acc": round(healthy.epochs[-1].val_acc or 0.0, 4),
        "catalogue_seconds": round(catalogue_seconds, 2),
        "variants": len(comparison.variants),
        "runs": len(comparison.runs()),
        "seconds_per_variant": per_run,
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"healthy digits run, 20 epochs, 1 thread: {figures['healthy_train_seconds']:.3f} s "
        f"training ({figures['healthy_wall_seconds']:.3f} s with evaluation), "
        f"val acc {figures['healthy_val_acc']:.3f}   (target < 1 s)"
    )
    print(
        f"whole catalogue: baseline + {figures['variants']} variants "
        f"({figures['runs']} runs incl. healthy references): "
        f"{catalogue_seconds:.1f} s   (target < 30 s)"
    )
    for variant_id, seconds in sorted(per_run.items(), key=lambda kv: -kv[1]):
        print(f"  {variant_id:28} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
