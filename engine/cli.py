"""`python -m engine`: train, compare, diagnose and export runs from the command line.

Other tools read the --json output: its keys are a contract. Bad input exits with code 2
and a one-line reason on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from engine.checkpoint import CheckpointError, check_destination
from engine.compare import compare, comparison_json, diagnose_run, run_json
from engine.config import (
    ACTIVATIONS,
    DATASETS,
    INITS,
    MODELS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    ConfigError,
    RunConfig,
    default_config,
)
from engine.data import DataUnavailableError, download
from engine.diagnosis import diagnose
from engine.distributed import (
    DistributedUnavailableError,
    max_weight_difference,
    train_data_parallel,
    train_one_process,
)
from engine.export import ExportError, export_script
from engine.log_table import FORMAT_NAMES
from engine.records import EpochRecord, StepRecord
from engine.scale import gpus_to_hold, training_days, training_flops, training_memory_gb
from engine.training import train
from engine.training_log import (
    MAX_LOG_BYTES,
    LogFormatError,
    read_training_log,
    read_training_logs,
)
from engine.transfer import transfer_comparison
from engine.variants import UnknownVariantError, all_variants, apply_variant


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths such as 128,64, got {text!r}"
        ) from None


def _betas(text: str) -> tuple[float, float]:
    # Only the shape is checked here; the range (0 to 0.9999) is RunConfig's to name.
    try:
        beta1, beta2 = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected two comma-separated numbers such as 0.9,0.999, got {text!r}"
        ) from None
    return beta1, beta2


def _milestones(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated epochs such as 5,10, got {text!r}"
        ) from None


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--data-dir", default="data", help="where mnist/fashion_mnist live")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--model", choices=MODELS)
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--hidden", type=_hidden, help="hidden widths, e.g. 128,64")
    parser.add_argument("--activation", choices=ACTIVATIONS)
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (default cpu)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--subset", type=int, help="train on this many examples only")
    parser.add_argument("--schedule", choices=SCHEDULES)
    parser.add_argument(
        "--accumulate", type=int, metavar="K", help="micro-batches per optimizer step"
    )
    parser.add_argument("--precision", choices=PRECISIONS, help="autocast float type")
    parser.add_argument(
        "--early-stopping", type=int, metavar="PATIENCE", help="epochs without a better val loss"
    )
    parser.add_argument("--augment", action="store_true", default=None, help="shift and rotate")
    parser.add_argument("--batch-norm", action="store_true", default=None)
    parser.add_argument("--layer-norm", action="store_true", default=None)
    parser.add_argument(
        "--resume-at", type=int, metavar="EPOCH", help="checkpoint and resume after this epoch"
    )
    # Lessons 3.1-3.4. Each flag left out keeps RunConfig's default (None = not given), and a
    # flag that does not fit the rest (--nesterov with adam) is RunConfig's ConfigError: exit 2.
    parser.add_argument("--init", choices=INITS, help="initial weights (default: PyTorch's)")
    parser.add_argument(
        "--init-scale", type=float, metavar="S", help="multiply every initial weight by S"
    )
    parser.add_argument(
        "--residual", action="store_true", default=None, help="mlp: x + block(x) blocks"
    )
    parser.add_argument(
        "--nesterov", action="store_true", default=None, help="sgd with --momentum above 0"
    )
    parser.add_argument("--betas", type=_betas, metavar="B1,B2", help="adam/adamw, e.g. 0.9,0.999")
    parser.add_argument("--eps", type=float, help="adam/adamw/rmsprop denominator term")
    parser.add_argument(
        "--no-bias-correction",
        dest="bias_correction",
        action="store_false",
        default=None,
        help="adam/adamw without bias correction",
    )
    parser.add_argument(
        "--milestones", type=_milestones, metavar="E1,E2", help="step schedule: lr *= gamma"
    )
    parser.add_argument("--gamma", type=float, help="step/exponential/plateau factor")
    parser.add_argument(
        "--warmup-steps", type=int, metavar="N", help="constant/cosine/warmup_cosine warm-up"
    )
    parser.add_argument(
        "--plateau-patience", type=int, metavar="EPOCHS", help="plateau schedule patience"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(prog="python -m engine", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="train one run and print its curves")
    _add_run_options(run)
    run.add_argument("--variant", help="train a broken variant instead of the baseline")
    run.add_argument("--checkpoint", help="save the full state here after every epoch")
    run.add_argument("--resume", help="continue from this checkpoint")
    run.add_argument("--json", action="store_true", help="print one JSON object")

    variants = commands.add_parser("variants", help="list the failure catalogue")
    variants.add_argument("--json", action="store_true")

    compare = commands.add_parser("compare", help="train the baseline and broken variants")
    _add_run_options(compare)
    compare.add_argument("--variant", action="append", required=True, metavar="ID")
    compare.add_argument("--json", action="store_true")

    diagnose = commands.add_parser("diagnose", help="diagnose a training log")
    diagnose.add_argument(
        "log",
        nargs="+",
        help="a log (CSV, trainer_state.json, TensorBoard event file, console output), or - "
        "for standard input; several files for one-metric CSV exports (TensorBoard, W&B)",
    )
    diagnose.add_argument("--classes", type=int, help="number of classes K (for ln K)")
    for role in ("train-loss", "val-loss", "train-acc", "val-acc", "x"):
        diagnose.add_argument(f"--{role}", metavar="COLUMN", help=f"the log's {role} column")
    diagnose.add_argument("--json", action="store_true")

    export = commands.add_parser("export", help="write a run as a standalone PyTorch script")
    _add_run_options(export)
    export.add_argument("--variant")

    ddp = commands.add_parser(
        "ddp", help="train with DistributedDataParallel on CPU processes, against one process"
    )
    _add_run_options(ddp)
    ddp.add_argument("--world-size", type=int, default=2, help="processes (default 2)")
    ddp.add_argument("--json", action="store_true")

    transfer = commands.add_parser(
        "transfer", help="digits 0-4 -> 5-9: frozen trunk, unfrozen, from scratch"
    )
    transfer.add_argument("--shots", type=int, default=5, help="examples per new digit (1-50)")
    transfer.add_argument("--seed", type=int, default=0)
    transfer.add_argument("--json", action="store_true")

    scale = commands.add_parser("scale", help="FLOPs, memory and days of a large training run")
    scale.add_argument("--parameters", type=float, required=True, help="e.g. 7e9")
    scale.add_argument("--tokens", type=float, required=True, help="training tokens, e.g. 2e12")
    scale.add_argument("--gpus", type=int, default=1024)
    scale.add_argument("--utilization", type=float, default=0.4, help="of the bf16 peak")
    scale.add_argument("--json", action="store_true")

    download = commands.add_parser("download", help="download mnist or fashion_mnist")
    download.add_argument("name", choices=("mnist", "fashion_mnist"))
    download.add_argument("--data-dir", default="data")
    return parser


def config_from(args: argparse.Namespace) -> RunConfig:
    """The baseline config for a dataset with the command line's overrides."""
    overrides: dict[str, Any] = {}
    for name in (
        "epochs", "batch_size", "lr", "seed", "model", "optimizer", "hidden", "activation",
        "threads", "momentum", "subset", "schedule", "accumulate", "precision",
        "early_stopping", "augment", "batch_norm", "layer_norm", "resume_at",
        "init", "init_scale", "residual", "nesterov", "betas", "eps", "bias_correction",
        "milestones", "gamma", "warmup_steps", "plateau_patience",
    ):  # fmt: skip
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    overrides["device"] = args.device
    return default_config(args.dataset, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""

    try:
        args = build_parser().parse_args(argv)
        handler = {
            "run": _run,
            "variants": _variants,
            "compare": _compare,
            "diagnose": _diagnose,
            "export": _export,
            "download": _download,
            "ddp": _ddp,
            "transfer": _transfer,
            "scale": _scale,
        }
        return handler[args.command](args)
    except (
        UsageError,
        ConfigError,
        DataUnavailableError,
        CheckpointError,
        LogFormatError,
        ExportError,
        UnknownVariantError,
        DistributedUnavailableError,
        ValueError,
    ) as error:
        # One line, all of it: a message's example log or a path holding a line break is
        # joined on, not cut off ("... e.g." and nothing after it).
        print(" ".join(f"error: {error}".splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


class Progress:
    """A one-line text progress bar on stderr, shown only where a person is watching."""

    def __init__(self, label: str, total_epochs: int, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, total_epochs, enabled
        self.start = time.perf_counter()

    def __call__(self, record: StepRecord | EpochRecord) -> None:
        if not self.enabled or not isinstance(record, EpochRecord):
            return
        done = record.epoch / self.total
        bar = "#" * int(24 * done)
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done - elapsed if done else 0.0
        print(
            f"\r{self.label:>26} [{bar:<24}] epoch {record.epoch}/{self.total} "
            f"loss {record.train_loss:.3g}  eta {eta:4.1f}s",
            end="",
            file=sys.stderr,
        )
        if record.epoch == self.total:
            print(file=sys.stderr)


def _run(args: argparse.Namespace) -> int:

    config = config_from(args)
    if args.variant is not None:  # "" is a mistyped id, not a request for the baseline
        config = apply_variant(config, args.variant)
    if args.checkpoint is not None:  # before training: fail in a second, not after an epoch
        check_destination(args.checkpoint)
    progress = Progress(config.variant or "baseline", config.epochs, sys.stderr.isatty())
    result = train(
        config,
        data_dir=args.data_dir,
        on_event=progress,
        resume_from=args.resume,
        checkpoint_to=args.checkpoint,
    )
    diagnosis = diagnose_run(result)
    if args.json:
        _print_json(run_json(result, diagnosis))
        return 0
    _print_run(result, diagnosis)
    return 0


def _print_json(payload: object) -> None:
    print(json.dumps(payload, allow_nan=False))


def _print_run(result: Any, diagnosis: Any) -> None:
    print(
        f"{result.label}: {result.status} in {result.seconds:.2f} s "
        f"({result.train_seconds:.2f} s training), {result.parameter_count:,} parameters"
    )
    print("epoch  train_loss  train_acc  val_loss  val_acc  seconds")
    for e in result.epochs:
        print(
            f"{e.epoch:5d}  {e.train_loss:10.4f}  {_pct(e.train_acc):>9}  {e.val_loss:8.4f}  "
            f"{_pct(e.val_acc):>7}  {e.seconds:7.3f}"
        )
    if result.test:
        print(f"test: loss {result.test['loss']:.4f}  acc {_pct(result.test['acc'])}")
    if result.error:
        print(f"crashed: {result.error.type}: {result.error.message}")
        print(f"  {result.error.explanation}")
    _print_diagnosis(diagnosis)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _print_diagnosis(diagnosis: Any) -> None:
    print(f"diagnosis: {diagnosis.label}")
    if diagnosis.columns:
        read = ", ".join(f"{role} = {name}" for role, name in diagnosis.columns.items())
        print(f"  read as {FORMAT_NAMES.get(diagnosis.source_format, 'a log')}: {read}")
    for sentence in diagnosis.evidence:
        print(f"  - {sentence}")
    print(f"  next: {diagnosis.next_experiment}")


def _variants(args: argparse.Namespace) -> int:

    catalogue = all_variants().values()
    if args.json:
        _print_json([v.summary() for v in catalogue])
        return 0
    for v in catalogue:
        print(f"{v.id:28} {v.category:13} -> {v.expected_label:15} {v.symptom}")
    return 0


def _compare(args: argparse.Namespace) -> int:

    config = config_from(args)
    watching = sys.stderr.isatty()

    def progress(label: str, record: StepRecord | EpochRecord) -> None:
        if watching and isinstance(record, EpochRecord):
            print(f"\r{label:>26}: epoch {record.epoch}", end="", file=sys.stderr)

    comparison = compare(config, args.variant, data_dir=args.data_dir, on_event=progress)
    if watching:
        print(file=sys.stderr)
    if args.json:
        _print_json(comparison_json(comparison))
        return 0
    _print_run(comparison.baseline, comparison.baseline_diagnosis)
    for pair in comparison.variants:
        print()
        _print_run(pair.result, pair.diagnosis)
    return 0


def _diagnose(args: argparse.Namespace) -> int:

    columns = {
        role: getattr(args, role)
        for role in ("train_loss", "val_loss", "train_acc", "val_acc", "x")
        if getattr(args, role)
    }
    if args.log == ["-"]:  # the bytes, not the locale's text: UTF-16 logs pipe in too
        stdin = getattr(sys.stdin, "buffer", sys.stdin)  # a text stream when one replaced it
        log = read_training_log(stdin, n_classes=args.classes, columns=columns)
    elif len(args.log) == 1:
        log = read_training_log(args.log[0], n_classes=args.classes, columns=columns)
    else:
        log = read_training_logs(_read_files(args.log), args.classes, columns)
    diagnosis = diagnose(log)
    if args.json:
        _print_json({"diagnosis": diagnosis.to_dict()})
    else:
        _print_diagnosis(diagnosis)
    return 0


def _read_files(paths: Sequence[str]) -> list[tuple[str, bytes]]:
    files = []
    for path in paths:
        try:
            with open(path, "rb") as file:
                files.append((Path(path).name, file.read(MAX_LOG_BYTES + 1)))
        except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
            raise UsageError(
                f"cannot read {path!r}: {getattr(error, 'strerror', None) or error}"
            ) from None
    return files


def _export(args: argparse.Namespace) -> int:

    sys.stdout.write(export_script(config_from(args), args.variant))
    return 0


def _download(args: argparse.Namespace) -> int:

    print(f"downloaded to {download(args.name, args.data_dir)}")
    return 0


def _ddp(args: argparse.Namespace) -> int:

    config = config_from(args).replace(device="cpu")
    parallel = train_data_parallel(config, args.world_size)
    single = train_one_process(config, args.world_size)
    difference = max_weight_difference(parallel, single)
    if args.json:
        _print_json(
            {
                "world_size": parallel.world_size,
                "steps": len(parallel.losses),
                "examples_per_rank": parallel.examples_per_rank,
                "parallel_losses": parallel.losses,
                "single_losses": single.losses,
                "max_weight_difference": difference,
                "parallel_seconds": round(parallel.seconds, 3),
                "single_seconds": round(single.seconds, 3),
            }
        )
        return 0
    print(
        f"{parallel.world_size} gloo processes, {parallel.examples_per_rank} examples each per "
        f"epoch, {len(parallel.losses)} steps: loss {parallel.losses[0]:.4f} -> "
        f"{parallel.losses[-1]:.4f} in {parallel.seconds:.1f} s"
    )
    print(
        f"one process, the same global batches: loss {single.losses[0]:.4f} -> "
        f"{single.losses[-1]:.4f} in {single.seconds:.1f} s"
    )
    print(f"largest weight difference: {difference:.2e}")
    return 0


def _transfer(args: argparse.Namespace) -> int:

    table = transfer_comparison(shots=args.shots, seed=args.seed)
    final = {mode: float(group["val_acc"].iloc[-1]) for mode, group in table.groupby("mode")}
    if args.json:
        _print_json({"shots": args.shots, "seed": args.seed, "final_val_acc": final})
        return 0
    print(f"digits 5-9 from {args.shots} examples each, val accuracy after the last epoch:")
    for mode, acc in final.items():
        print(f"  {mode:9} {_pct(acc)}")
    return 0


def _scale(args: argparse.Namespace) -> int:

    n, d = args.parameters, args.tokens
    report = {
        "flops": training_flops(n, d),
        "memory_gb": {
            precision: training_memory_gb(n, "adam", precision)
            for precision in ("float32", "mixed")
        },
        "days": training_days(n, d, args.gpus, utilization=args.utilization),
    }
    report["gpus_80gb_at_least"] = gpus_to_hold(report["memory_gb"]["mixed"])
    if args.json:
        _print_json(report)
        return 0
    print(f"training FLOPs ~ 6 x N x D = {report['flops']:.3g}")
    print(
        f"weights + gradients + Adam state: {report['memory_gb']['mixed']:,.1f} GB "
        f"(activations not included): at least {report['gpus_80gb_at_least']} GPUs of 80 GB"
    )
    print(
        f"{args.gpus} H100s at {args.utilization:.0%} of their bf16 peak: {report['days']:.1f} days"
    )
    return 0
