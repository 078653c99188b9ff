"""Write any run, healthy or broken, as one standalone PyTorch script.

The script's training step, evaluation, device choice and schedule are the engine's own
functions, copied in from their source (`engine.source`), so the script runs the code the
app runs. A variant's bug is put in place the way it runs in the engine: a broken step or
evaluation brings its own body; another code bug replaces its healthy lines with its broken
ones (the lines the app shows); a changed setting is rendered as that setting. Every line
that differs from the healthy script is marked with a `# BUG` comment. The script needs
only torch and scikit-learn (torchvision for MNIST) and reproduces the engine's per-epoch
numbers for the same seed.
"""

from __future__ import annotations

import difflib
from string import Template

from engine import augment, device, loop, optimizers, step
from engine.config import OPTIMIZER_CLASSES, SCHEDULE_CLOCKS, RunConfig
from engine.models import ACTIVATION_LAYERS
from engine.source import definition_of, source_of, with_body_of
from engine.variants import Variant, apply_variant, get_variant, healthy_reference

EXPORTABLE_DATASETS = ("digits", "mnist", "fashion_mnist")


class ExportError(ValueError):
    """This run cannot be written as a script; the message says what is supported."""


def export_script(baseline: RunConfig, variant_id: str | None = None) -> str:
    """The standalone script for the baseline, or for one variant of it."""
    baseline = baseline.replace(variant=None)
    if variant_id is None:
        return render(baseline)
    variant = get_variant(variant_id)
    reference = healthy_reference(baseline, variant)
    healthy = render(reference)
    broken = render(apply_variant(baseline, variant_id).replace(variant=None), variant)
    if variant.break_loop is not None and variant.healthy_code:
        broken = replace_block(broken, variant.healthy_code, variant.broken_code, variant.id)
    return mark_bug_lines(healthy, broken, variant)


def code_diff(baseline: RunConfig, variant_id: str) -> str:
    """Unified diff between the healthy and the broken exported scripts."""
    variant = get_variant(variant_id)
    healthy = export_script(healthy_reference(baseline.replace(variant=None), variant))
    broken = export_script(baseline, variant_id)
    return "".join(
        difflib.unified_diff(
            healthy.splitlines(keepends=True),
            broken.splitlines(keepends=True),
            fromfile="healthy.py",
            tofile=f"{variant_id}.py",
            n=2,
        )
    )


def replace_block(text: str, healthy: str, broken: str, label: str) -> str:
    """Replace every run of lines matching `healthy` with `broken`.

    Lines match on their code alone: indentation and a trailing comment are ignored, so
    `loss = loss_fn(outputs, targets)` is found in the step and in the evaluation alike.
    """
    lines = text.splitlines()
    want = [_code_part(line) for line in healthy.splitlines()]
    new_lines = broken.splitlines()
    out: list[str] = []
    i, found = 0, 0
    while i < len(lines):
        window = [_code_part(line) for line in lines[i : i + len(want)]]
        if window == want:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            out.extend(indent + line for line in new_lines)
            i += len(want)
            found += 1
        else:
            out.append(lines[i])
            i += 1
    if not found:
        raise ExportError(
            f"cannot place the bug {label!r} in this script: its healthy lines "
            f"{healthy!r} do not appear (a setting of this run changed them)"
        )
    return "\n".join(out) + "\n"


def _code_part(line: str) -> str:
    return line.split("  # ")[0].strip()


def mark_bug_lines(healthy: str, broken: str, variant: Variant) -> str:
    """Mark what the bug changed: `# BUG` on added or changed lines, a note for removed ones."""
    old, new = healthy.splitlines(), broken.splitlines()
    marked: list[str] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, old_start, old_end, start, end in matcher.get_opcodes():
        if tag in ("delete", "replace") and start == end:
            for line in old[old_start:old_end]:
                indent = line[: len(line) - len(line.lstrip())]
                marked.append(f"{indent}# BUG ({variant.id}): removed `{line.strip()}`")
        for line in new[start:end]:
            if tag != "equal" and "# BUG:" in line:  # the broken function's own marker
                line = line.replace("# BUG:", f"# BUG ({variant.id}):", 1)
            elif tag != "equal" and line.strip() and "# BUG" not in line:
                line = f"{line}  # BUG ({variant.id})"
            marked.append(line)
    header = (
        f"# Broken variant: {variant.id}: {variant.title}.\n"
        f"# Symptom: {variant.symptom}\n# Fix: {variant.fix}\n"
    )
    return header + "\n".join(marked) + "\n"


def render(config: RunConfig, bug: Variant | None = None) -> str:
    """The script for a config (its variant field ignored), with a broken step or
    evaluation of `bug` in place of the healthy one where the bug has one."""
    if config.dataset not in EXPORTABLE_DATASETS:
        raise ExportError(
            f"export supports the datasets {', '.join(EXPORTABLE_DATASETS)}; "
            f"{config.dataset!r} is not one of them yet"
        )
    if config.model == "linear":
        raise ExportError("export supports the mlp and cnn models, not linear regression")
    image_set = config.dataset != "digits"
    values = {
        "title": f"{config.dataset} / {config.model} / {config.optimizer} lr={config.lr:g}",
        "seed": config.seed,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "load_raw": _LOAD_DIGITS
        if not image_set
        else _LOAD_IMAGES.replace(
            "$dataset_class", {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[config.dataset]
        ),
        "has_test": "False" if image_set else "True",
        "per_feature": "False" if image_set or config.augment else "True",
        "prepare_train": _prepare_train(config),
        "standardise": _STANDARDISE if config.normalize else "pass  # inputs left as they are",
        "one_hot": _one_hot(config),
        "model": _model(config),
        "init": _init(config.init, config.init_scale),
        "loss_fn": "nn.MSELoss()" if config.loss == "mse" else "nn.CrossEntropyLoss()",
        "optimizer": _optimizer(config),
        "max_grad_norm": repr(config.grad_clip),
        "pick_device": definition_of(device, "pick_device"),
        "lesson_code": _lesson_code(bug) + _practice_code(config),
        "accumulate": config.accumulate,
        "step_call": _step_call(config),
        "augment_batch": _AUGMENT if config.augment else "",
        "make_scaler": _MAKE_SCALER if config.precision != "float32" else "",
        "make_stopper": "\n    stopper = EarlyStopping(PATIENCE)" if config.early_stopping else "",
        "early_stop": _EARLY_STOP if config.early_stopping else "",
        "restore_best": _RESTORE_BEST if config.early_stopping else "",
        "resume": _resume(config),
        "constants": _constants(config),
        "extra_stdlib": _stdlib_imports(config),
        "extra_torch": "import torch.nn.functional as F" if config.augment else "",
        "scheduler": _scheduler(config, bug),
        "make_scheduler": _make_scheduler(config),
        "scheduler_step": _TICK_BATCH if _scheduled(config) else "",
        "scheduler_epoch": _TICK_EPOCH if _scheduled(config) else "",
        "shuffle": repr(config.shuffle),
        "threads": config.threads,
    }
    return Template(_SCRIPT).substitute(values)


def _prepare_train(config: RunConfig) -> str:
    lines = []
    if config.subset is not None:
        lines.append(f"x_train, y_train = x_train[:{config.subset}], y_train[:{config.subset}]")
    if config.label_noise > 0:
        lines += [
            "noise = torch.Generator().manual_seed(SEED + 1)",
            f"flip = torch.rand(len(y_train), generator=noise) < {config.label_noise!r}",
            "random_labels = torch.randint(0, n_classes, (len(y_train),), generator=noise)",
            "y_train = torch.where(flip, random_labels, y_train)",
        ]
    if config.class_sorted:
        lines += [
            "order = torch.sort(y_train, stable=True).indices  # stored sorted by class",
            "x_train, y_train = x_train[order], y_train[order]",
        ]
    return "\n    ".join(lines) if lines else "pass  # the whole training split, as split"


def _one_hot(config: RunConfig) -> str:
    if not (config.one_hot_labels or config.loss == "mse"):
        return ""
    return (
        "\n    y_train, y_val, y_test = (nn.functional.one_hot(y, n_classes).float()"
        "\n                              for y in (y_train, y_val, y_test))"
    )


def _model(config: RunConfig) -> str:
    if config.model == "cnn":
        norm = {True: "nn.BatchNorm2d({c}), ", False: ""}[config.batch_norm]
        if config.layer_norm:  # one group: each example normalised over channels and pixels
            norm = "nn.GroupNorm(1, {c}), "
        return (
            _CNN.replace("$dropout", repr(config.dropout))
            .replace("$norm16", norm.format(c=16))
            .replace("$norm32", norm.format(c=32))
        )
    activation = "nn." + ACTIVATION_LAYERS[config.activation].__name__
    layers = [f"        self.act = {activation}()"]
    norm = "BatchNorm1d" if config.batch_norm else "LayerNorm" if config.layer_norm else None
    if norm:
        layers.append(f"        self.norms = nn.ModuleList(nn.{norm}(b) for b in widths[1:])")
    if config.dropout > 0:
        layers.append(f"        self.drop = nn.Dropout({config.dropout!r})")
    # A residual block keeps its input in x and builds the block's output in h.
    out = "h" if config.residual else "x"
    forward = [f"{out} = layer(x)"]
    if norm:
        forward = [f"{out} = self.norms[number](layer(x))"]
    forward.append(f"{out} = self.act({out})")
    if config.dropout > 0:
        forward.append(f"{out} = self.drop({out})")
    if config.residual:  # a skip wherever the block keeps the width
        forward.append("x = x + h if h.shape == x.shape else h")
    forward = [" " * 12 + line for line in forward]
    return Template(_MLP).substitute(
        hidden=repr(tuple(config.hidden)),
        act="\n".join(layers),
        forward="\n".join(forward),
    )


_INIT_CALLS = {
    "zeros": "nn.init.zeros_(layer.weight)",
    "xavier": "nn.init.xavier_uniform_(layer.weight)",
    "xavier_normal": "nn.init.xavier_normal_(layer.weight)",
    "kaiming": 'nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")',
    "kaiming_normal": 'nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")',
}


def _init(scheme: str, scale: float) -> str:
    if scheme == "default" and scale == 1.0:
        return "pass  # PyTorch's default random initialisation"
    lines = []
    if scheme != "default":
        lines += [_INIT_CALLS[scheme], "nn.init.zeros_(layer.bias)"]
    if scale != 1.0:
        lines += [f"with torch.no_grad():\n                layer.weight.mul_({scale!r})"]
    body = "".join(f"\n            {line}" for line in lines)
    layers = "if isinstance(layer, (nn.Linear, nn.Conv2d)):"
    return f"for layer in model.modules():\n        {layers}{body}"


def _optimizer(config: RunConfig) -> str:
    name = OPTIMIZER_CLASSES[config.optimizer]
    adam = config.optimizer in ("adam", "adamw")
    args = [f"lr={config.lr!r}"]
    if config.optimizer in ("sgd", "rmsprop") and config.momentum:
        args.append(f"momentum={config.momentum!r}")
    if config.nesterov:
        args.append("nesterov=True")
    if adam and config.betas != (0.9, 0.999):
        args.append(f"betas={config.betas!r}")
    if config.optimizer != "sgd" and config.eps != 1e-8:
        args.append(f"eps={config.eps!r}")
    if config.weight_decay:
        args.append(f"weight_decay={config.weight_decay!r}")
    if adam and not config.bias_correction:
        decoupled = config.optimizer == "adamw"
        args += [f"decoupled={decoupled!r}", "bias_correction=False"]
        return f"HandAdam(model.parameters(), {', '.join(args)})"
    if adam:
        args.append('fused=device.type in ("cpu", "cuda")')
    return f"torch.optim.{name}(model.parameters(), {', '.join(args)})"


def _lesson_code(bug: Variant | None) -> str:
    """engine.step's types, step and evaluation, as written there (a bug's body swapped in)."""
    train_step_text = source_of(step.train_step)
    evaluate_text = source_of(step.evaluate)
    if bug is not None and bug.broken_step is not None:
        train_step_text = with_body_of(step.train_step, bug.broken_step)
    if bug is not None and bug.broken_evaluate is not None:
        evaluate_text = with_body_of(step.evaluate, bug.broken_evaluate)
    pieces = [
        definition_of(step, "LossFn"),
        source_of(step.Split),
        train_step_text,
        source_of(step.Evaluation),
        evaluate_text,
        source_of(step.summarise),
    ]
    return "\n\n\n".join(piece.rstrip() for piece in pieces)


def _scheduled(config: RunConfig) -> bool:
    return config.schedule != "constant" or config.warmup_steps > 0


def _scheduler(config: RunConfig, bug: Variant | None) -> str:
    """advance_schedule (a bug's body swapped in) and lr_factor where a LambdaLR uses it."""
    if not _scheduled(config):
        return ""
    advance = source_of(step.advance_schedule)
    if bug is not None and bug.broken_schedule is not None:
        advance = with_body_of(step.advance_schedule, bug.broken_schedule)
    pieces = [definition_of(step, "Scheduler"), advance]
    if config.schedule in LAMBDA_SCHEDULES:
        pieces.append(source_of(loop.lr_factor))
    return "".join(f"\n\n\n{piece.rstrip()}" for piece in pieces)


def _make_scheduler(config: RunConfig) -> str:
    """The lines that build the config's schedule, as engine.loop.make_scheduler does."""
    if not _scheduled(config):
        return ""
    schedulers = "torch.optim.lr_scheduler"
    gamma = config.schedule_gamma
    if config.schedule == "step":
        milestones = list(config.step_milestones)
        made = f"MultiStepLR(optimizer, milestones={milestones}, gamma={gamma!r})"
    elif config.schedule == "exponential":
        made = f"ExponentialLR(optimizer, gamma={gamma!r})"
    elif config.schedule == "plateau":
        made = f"ReduceLROnPlateau(\n        optimizer, factor={gamma!r}, "
        made += f"patience={config.plateau_patience})"
    elif config.schedule == "onecycle":
        made = f"OneCycleLR(\n        optimizer, max_lr={config.lr!r}, "
        made += "total_steps=steps_per_epoch * EPOCHS, cycle_momentum=False)"
    else:
        made = "LambdaLR(\n        optimizer, "
        made += f"lr_factor(SCHEDULE, steps_per_epoch * EPOCHS, {config.warmup_steps}))"
    return (
        "\n    steps_per_epoch = -(-len(y_train) // (BATCH_SIZE * ACCUMULATE))"
        f"\n    scheduler = {schedulers}.{made}"
    )


LAMBDA_SCHEDULES = ("constant", "cosine", "warmup_cosine")  # lr_factor's schedules
_TICK_BATCH = '\n            advance_schedule(scheduler, CLOCK, "batch")'
_TICK_EPOCH = '\n        advance_schedule(scheduler, CLOCK, "epoch", on_val.loss)'


def _practice_code(config: RunConfig) -> str:
    """The engine's own code for the options this run uses beyond the plain step."""
    pieces = []
    if config.accumulate > 1:
        pieces.append(source_of(step.accumulation_step))
    if config.precision != "float32":
        pieces.append(source_of(step.mixed_precision_step))
    if config.early_stopping:
        pieces += [source_of(step.EarlyStopping), source_of(step.watch_val_loss)]
    if not config.bias_correction:
        pieces.append(source_of(optimizers.HandAdam))
    if config.augment:
        pieces += [
            definition_of(augment, "MAX_DEGREES"),
            definition_of(augment, "MAX_SHIFT"),
            source_of(augment.shift_and_rotate),
        ]
    return "".join(f"\n\n\n{piece.rstrip()}" for piece in pieces)


def _stdlib_imports(config: RunConfig) -> str:
    names = []
    lambda_lr = _scheduled(config) and config.schedule in LAMBDA_SCHEDULES
    if config.augment or lambda_lr:  # both compute with math's functions
        names.append("import math")
    if config.resume_at:
        names += ["import tempfile", "from pathlib import Path"]
    if not config.bias_correction:
        names.append("from collections.abc import Iterable")
    return "\n".join(names)


def _step_call(config: RunConfig) -> str:
    arguments = "model, inputs, targets, loss_fn, optimizer, MAX_GRAD_NORM"
    if config.accumulate > 1:
        return f"accumulation_step({arguments}, micro_batch_size=BATCH_SIZE)"
    if config.precision != "float32":
        return f"mixed_precision_step({arguments}, dtype=DTYPE, scaler=scaler)"
    return f"train_step({arguments})"


def _constants(config: RunConfig) -> str:
    lines = []
    if _scheduled(config):
        lines.append(f"SCHEDULE = {config.schedule!r}")
        clock = SCHEDULE_CLOCKS[config.schedule]
        lines.append(f"CLOCK = {clock!r}  # what the schedule counts: steps, epochs, val_loss")
    if config.precision != "float32":
        lines.append(f"DTYPE = torch.{config.precision}  # autocast's float type")
    if config.early_stopping:
        lines.append(f"PATIENCE = {config.early_stopping}  # epochs without a better val loss")
    if config.resume_at:
        lines.append(f"RESUME_AT = {config.resume_at}  # the epoch after which the run resumes")
    return "".join(f"\n{line}" for line in lines)


def _resume(config: RunConfig) -> str:
    if not config.resume_at:
        return ""
    scheduled = _scheduled(config)
    saved = '\n                "scheduler": scheduler.state_dict(),' if scheduled else ""
    load_scheduler = '\n            scheduler.load_state_dict(checkpoint["scheduler"])'
    load_scheduler = load_scheduler if scheduled else ""
    remake = [f"            optimizer = {_optimizer(config)}"]
    if scheduled:  # the schedule's lines, indented into the epoch loop
        remake += [" " * 8 + line for line in _make_scheduler(config).strip("\n").splitlines()]
    return f"""
        if epoch == RESUME_AT:  # as if the process ended here and a new one took over
            path = Path(tempfile.mkdtemp()) / "checkpoint.pt"
            torch.save({{
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),{saved}
            }}, path)
            checkpoint = torch.load(path, weights_only=True)
{chr(10).join(remake)}
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"]){load_scheduler}"""


_AUGMENT = "\n            inputs = shift_and_rotate(inputs)  # a new version of every image"
_MAKE_SCALER = """
    # Only float16 needs loss scaling: bfloat16 has float32's range of exponents.
    scaler = torch.amp.GradScaler(device.type, enabled=DTYPE == torch.float16)"""
_EARLY_STOP = """
        if stopper.should_stop(epoch, watch_val_loss(on_train.loss, on_val.loss), model):
            print(f"early stopping after epoch {epoch}: best epoch {stopper.best_epoch}")
            break"""
_RESTORE_BEST = """
    stopper.restore_best(model)  # the best epoch's weights, not the last epoch's"""

_STANDARDISE = "x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))"
_LOAD_DIGITS = """from sklearn.datasets import load_digits

    digits = load_digits()
    inputs = torch.tensor(digits.data, dtype=torch.float32).reshape(-1, 1, 8, 8)
    targets = torch.tensor(digits.target, dtype=torch.long)
    return inputs, targets, None, None"""

_LOAD_IMAGES = """from torchvision import datasets

    root = "data"  # expects data/$dataset_class/raw/*-ubyte; download=True fetches them once
    train = datasets.$dataset_class(root, train=True, download=False)
    test = datasets.$dataset_class(root, train=False, download=False)
    # Whole uint8 tensors scaled once: no per-image PIL conversion.
    return (train.data.unsqueeze(1).float() / 255.0, train.targets.long(),
            test.data.unsqueeze(1).float() / 255.0, test.targets.long())"""

_MLP = '''class MLP(nn.Module):
    """Flatten, then (linear, activation) blocks, then a linear output layer of logits."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], n_classes: int) -> None:
        super().__init__()
        widths = (in_features, *hidden)
        pairs = zip(widths, widths[1:])
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
$act
        self.out = nn.Linear(widths[-1], n_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(start_dim=1)
        for number, layer in enumerate(self.hidden):
$forward
        return self.out(x)


def build_model(in_features: int, n_classes: int) -> nn.Module:
    return MLP(in_features, $hidden, n_classes)'''

_CNN = """def build_model(in_features: int, n_classes: int) -> nn.Module:
    side = round((in_features) ** 0.5)
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), $norm16nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), $norm32nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (side // 4) ** 2, 64), nn.ReLU(),
        nn.Dropout($dropout), nn.Linear(64, n_classes),
    )"""

_SCRIPT = '''"""Training Loop Lab export: $title.

A standalone PyTorch training script. Install: `uv pip install torch scikit-learn`
(or `pip install torch scikit-learn`; add torchvision for MNIST). Run: `python this_file.py`.
"""

from __future__ import annotations

$extra_stdlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
$extra_torch
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

SEED = $seed
EPOCHS = $epochs
BATCH_SIZE = $batch_size
ACCUMULATE = $accumulate  # micro-batches of BATCH_SIZE per optimizer step$constants
MAX_GRAD_NORM = $max_grad_norm  # None: no gradient clipping
HAS_OWN_TEST_SPLIT = $has_test


$pick_device


def load_raw() -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    $load_raw


def split_indices(targets: Tensor, n_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Stratified split by SEED: 70% train, 15% val, 15% test of every class."""
    generator = torch.Generator().manual_seed(SEED)
    train, val, test = [], [], []
    for k in range(n_classes):
        group = torch.nonzero(targets == k).flatten()
        group = group[torch.randperm(len(group), generator=generator)]
        n_val = round(len(group) * 0.15)
        n_test = round(len(group) * 0.15) if HAS_OWN_TEST_SPLIT else 0
        val.append(group[:n_val])
        test.append(group[n_val:n_val + n_test])
        train.append(group[n_val + n_test:])
    train_idx = torch.cat(train)
    train_idx = train_idx[torch.randperm(len(train_idx), generator=generator)]
    return train_idx, torch.cat(val), torch.cat(test)


class BatchDataset(Dataset):
    """Indexed with a list of positions, returns a whole batch at once."""

    def __init__(self, inputs: Tensor, targets: Tensor) -> None:
        self.inputs, self.targets = inputs, targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: list[int]) -> tuple[Tensor, Tensor]:
        positions = torch.as_tensor(index)
        return self.inputs[positions], self.targets[positions]


def load_data() -> tuple[tuple[Tensor, Tensor], ...]:
    inputs, targets, test_inputs, test_targets = load_raw()
    n_classes = 10
    train_idx, val_idx, test_idx = split_indices(targets, n_classes)
    x_train, y_train = inputs[train_idx], targets[train_idx]
    x_val, y_val = inputs[val_idx], targets[val_idx]
    if test_inputs is None:
        x_test, y_test = inputs[test_idx], targets[test_idx]
    else:
        x_test, y_test = test_inputs, test_targets
    # Standardise with statistics of the training split only.
    if $per_feature:
        mean, std = x_train.mean(dim=0), x_train.std(dim=0)
    else:
        mean, std = x_train.mean(), x_train.std()
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    $standardise
    $prepare_train$one_hot
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


$model


# The training step and evaluation: Training Loop Lab's own code, as the app runs it.
$lesson_code$scheduler


def main() -> None:
    torch.set_num_threads($threads)
    device = pick_device()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_data()
    x_train, y_train = x_train.to(device), y_train.to(device)
    x_val, y_val = x_val.to(device), y_val.to(device)
    x_test, y_test = x_test.to(device), y_test.to(device)
    n_classes = 10
    in_features = x_train[0].numel()

    torch.manual_seed(SEED)  # the same starting weights every run
    model = build_model(in_features, n_classes)
    $init
    model.to(device)
    loss_fn = $loss_fn
    optimizer = $optimizer$make_scheduler$make_scaler$make_stopper

    train_set = BatchDataset(x_train, y_train)
    shuffle_generator = torch.Generator().manual_seed(SEED)
    if $shuffle:
        order = RandomSampler(train_set, generator=shuffle_generator)
    else:
        order = SequentialSampler(train_set)
    batches = BatchSampler(order, batch_size=BATCH_SIZE * ACCUMULATE, drop_last=False)
    loader = DataLoader(train_set, sampler=batches, batch_size=None)
    train_split, val_split = Split(x_train, y_train), Split(x_val, y_val)
    test_split = Split(x_test, y_test)

    history: list[float] = []
    diverged = False
    for epoch in range(1, EPOCHS + 1):
        for inputs, targets in loader:$augment_batch
            loss = $step_call
            history.append(loss.item())$scheduler_step
            if not torch.isfinite(loss):
                diverged = True  # a NaN or infinite loss never recovers: stop here
                break
        on_train = evaluate(model, train_split, loss_fn)
        on_val = evaluate(model, val_split, loss_fn)
        print(f"epoch {epoch:3d}  train_loss {on_train.loss:.6f}  train_acc {on_train.acc:.4f}  "
              f"val_loss {on_val.loss:.6f}  val_acc {on_val.acc:.4f}")
        if diverged:
            print(f"loss became {loss.item()} at step {len(history)}: diverged")
            return$scheduler_epoch$early_stop$resume$restore_best
    on_test = evaluate(model, test_split, loss_fn)
    print(f"test  loss {on_test.loss:.6f}  acc {on_test.acc:.4f}")


if __name__ == "__main__":
    main()
'''
