"""The engine's cuda path on a machine with an NVIDIA GPU: figures to read, nothing asserted.

Run there: `python -m benchmarks.check_cuda`. It prints where the parts of a run live
(model, data, optimizer state), whether Adam took its fused kernel, the healthy digits run
on cuda next to the same run on the CPU, and every catalogue variant's diagnosis on cuda
against the label it is expected to produce. CI has no GPU; this is run by hand where one
is lent, and its output is quoted in the README.
"""

from __future__ import annotations

import sys
import time

import torch

from engine.compare import compare
from engine.config import default_config
from engine.data import make_loader
from engine.results import RunResult
from engine.training import start_run, train
from engine.variants import all_variants


def where_things_live() -> None:
    state = start_run(default_config(device="cuda", epochs=1))
    parts = state.parts
    devices = {str(p.device) for p in parts.model.parameters()}
    data = {str(s.inputs.device) for s in (parts.data.train, parts.data.val, parts.data.test)}
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print(f"model parameters on: {sorted(devices)}; data on: {sorted(data)}")
    print(f"optimizer: {type(state.optimizer).__name__}, fused={state.optimizer.defaults['fused']}")
    loader = make_loader(parts.data.train, 32, True, torch.Generator().manual_seed(0))
    inputs, targets = next(iter(loader))
    clip = parts.config.grad_clip
    loss = parts.train_step(parts.model, inputs, targets, parts.loss_fn, state.optimizer, clip)
    moments = [s["exp_avg"].device for s in state.optimizer.state.values()]
    print(f"batch on: {inputs.device}; loss {loss.item():.4f}; Adam moments on: {set(moments)}")


def healthy_on_both() -> None:
    runs: dict[str, RunResult] = {}
    for device in ("cuda", "cpu"):
        start = time.perf_counter()
        runs[device] = train(default_config(device=device))
        run = runs[device]
        print(
            f"{device}: {run.status}, val acc {run.epochs[-1].val_acc:.4f}, test acc "
            f"{(run.test or {}).get('acc', float('nan')):.4f}, train {run.train_seconds:.2f} s, "
            f"wall {time.perf_counter() - start:.2f} s"
        )
    gaps = [
        abs(a.val_loss - b.val_loss)
        for a, b in zip(runs["cuda"].epochs, runs["cpu"].epochs, strict=True)
    ]
    print(f"largest per-epoch val loss gap cuda vs cpu: {max(gaps):.2e}")


def catalogue_on_cuda() -> None:
    start = time.perf_counter()
    comparison = compare(default_config(device="cuda"), list(all_variants()))
    print(f"catalogue on cuda: {time.perf_counter() - start:.1f} s")
    mismatches = 0
    for pair in comparison.variants:
        expected = all_variants()[pair.variant_id].expected_label
        same = pair.diagnosis.label == expected
        mismatches += not same
        print(
            f"  {pair.variant_id:28s} {pair.result.status:9s} {pair.diagnosis.label:16s}"
            f"{'' if same else f'  (expected {expected})'}"
        )
    print(f"labels differing from the catalogue's expectation: {mismatches}")


def main() -> int:
    if not torch.cuda.is_available():
        print("no cuda device here: nothing to check")
        return 1
    where_things_live()
    healthy_on_both()
    catalogue_on_cuda()
    return 0


if __name__ == "__main__":
    sys.exit(main())
