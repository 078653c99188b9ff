"""Lesson 3.6: every number and formula the text states, checked by running code.

The lesson quotes its program (lessons/programs/lesson_3_6.py), exercise 4 and the app's
own runs of its broken variants on digits; each quote is compared with what really runs.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from engine.config import default_config
from engine.diagnosis import diagnose
from engine.results import RunResult
from engine.training import train
from engine.training_log import read_training_log
from engine.variants import apply_variant, get_variant, healthy_reference
from lessons.curriculum import CURRICULUM
from lessons.lesson_file import Lesson, has_content, lesson_path, load_lesson
from tests.lesson_programs import load_module as import_file
from tests.warm_python import run_script

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_3_6.py"
EXERCISE_4 = ROOT / "lessons" / "solutions" / "lesson_3_6_ex4.py"
LESSON = load_lesson(lesson_path("3.6"))
TEXT = lesson_path("3.6").read_text(encoding="utf-8")  # the file as written, program unexpanded
LN10 = math.log(10)


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return import_file(PROGRAM, "lesson_3_6_program")


@pytest.fixture(scope="module")
def program_output() -> str:
    """The program run as a learner runs it: its own process, from the repository root."""
    finished = run_script(PROGRAM, ROOT, timeout_s=60)  # on the CPU, as the lesson quotes
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished.stdout


@pytest.fixture(scope="module")
def engine_run() -> Callable[..., RunResult]:
    """The app's digits baseline with one variant (and fewer epochs where that is enough)."""
    cache: dict[str, RunResult] = {}

    def run(variant: str | None, epochs: int = 20, reference: bool = False) -> RunResult:
        base = default_config("digits", epochs=epochs)
        if variant is None:
            config = base
        elif reference:
            config = healthy_reference(base, get_variant(variant))
        else:
            config = apply_variant(base, variant)
        if config.key() not in cache:
            cache[config.key()] = train(config)
        return cache[config.key()]

    return run


def line_starting(output: str, prefix: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(prefix))


def written_words(lesson: Lesson) -> int:
    """In depth's own words: a complete program it includes is a file of its own."""
    text = lesson.sections["In depth"]
    for path in lesson.programs:
        text = text.replace(f"```python\n{path.read_text(encoding='utf-8').rstrip()}\n```", "")
    return len(text.split())


# ---------------------------------------------------------------- the program itself


def test_in_depth_shows_the_program_with_a_sentence_before_it() -> None:
    assert LESSON.programs == (PROGRAM,)
    in_depth = TEXT.split("## In depth")[1].split("## Try it")[0]
    before, _, _ = in_depth.partition("{{program: lessons/programs/lesson_3_6.py}}")
    assert "lesson_3_6.py" in before and len(before.split()) >= 15


def test_program_trains_the_apps_mlp_shape_for_ten_epochs(program: ModuleType) -> None:
    layers = [m for m in program.build_model() if isinstance(m, nn.Linear)]
    assert [layers[0].in_features] + [m.out_features for m in layers] == [64, 128, 64, 10]
    assert program.EPOCHS == 10 and "(64-128-64-10) on the digits for 10 epochs" in TEXT


# What the program prints, and how the lesson quotes it.
QUOTES = [
    ("first step: loss 2.340 (chance level ln 10 = 2.303)", "a loss of 2.340 (chance: 2.303)"),
    ("update ratio 1.5e-02", r"$1.5 \cdot 10^{-2}$ at the first step"),
    ("update ratio 3.1e-03", r"$3.1 \cdot 10^{-3}$ at the last"),
    ("first step, per layer: hidden1 0.311, hidden2 0.406, out 0.301", "0.311, 0.406 and 0.301"),
    ("optimizer.step() forgotten: grad norm 0.6155, update ratio 0.0000", "0.6155 in the program"),
    ("every ReLU dead: grad norm 0.1305, of which out.bias 0.1305", "(0.1305)"),
]


@pytest.mark.parametrize(("printed", "quoted"), QUOTES)
def test_program_prints_what_the_lesson_quotes(
    program_output: str, printed: str, quoted: str
) -> None:
    assert printed in program_output
    assert quoted in TEXT


def test_program_ends_at_the_quoted_accuracy_and_its_first_loss_is_near_chance(
    program_output: str,
) -> None:
    last_epoch = line_starting(program_output, "epoch 10:")
    assert "val_acc 0.972" in last_epoch
    # a model right 97 % of the time, with logits, has a loss far below 0.5
    assert float(re.search(r"val_loss ([\d.]+)", last_epoch).group(1)) < 0.15
    assert "ends at val accuracy 0.972" in TEXT
    first_loss = float(re.search(r"first step: loss ([\d.]+)", program_output).group(1))
    assert abs(first_loss - LN10) < 0.1  # the takeaway: a 10-class loss starts near ln 10


def warnings_after(output: str, title: str) -> list[str]:
    """The "-> ..." lines the program prints under the line that starts with title."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("    -> "):
            break
        found.append(line.removeprefix("    -> "))
    return found


def test_program_checks_name_each_broken_step(program_output: str) -> None:
    zeroed = warnings_after(program_output, "zero_grad() between backward() and step()")
    assert any("gradient norm is exactly 0" in w for w in zeroed)
    forgotten = warnings_after(program_output, "optimizer.step() forgotten")
    assert forgotten == ["update-to-weight ratio is 0: step() did not move any weight"]
    assert any("loss is nan" in w for w in warnings_after(program_output, "one NaN pixel"))
    assert "checks: 0 warnings in 450 steps" in program_output  # the healthy run passes


def test_program_writes_logs_the_curve_doctor_reads(program: ModuleType, tmp_path: Path) -> None:
    run = program.train(tmp_path, torch.device("cpu"))
    steps = (tmp_path / "steps.csv").read_text().splitlines()
    assert steps[0].split(",") == [
        *program.STEP_COLUMNS,
        "grad_hidden1",
        "grad_hidden2",
        "grad_out",
    ]
    assert len(steps) == 1 + len(run.steps) == 1 + 450
    log = read_training_log(tmp_path / "epochs.csv", n_classes=10)
    assert len(log.train_loss) == 10 and diagnose(log).label == "healthy"
    for row in run.epochs:  # the gap is val loss minus train loss, per epoch
        assert row["gap"] == pytest.approx(row["val_loss"] - row["train_loss"])


# ---------------------------------------------------------------- The math


def test_chance_level_and_chance_accuracy() -> None:
    uniform = torch.zeros(1, 10)  # equal logits: probability 1/K for every class
    assert nn.CrossEntropyLoss()(uniform, torch.tensor([3])).item() == pytest.approx(LN10)
    assert f"{LN10:.3f}" == "2.303" and f"{LN10:.2f}" == "2.30" and 1 / 10 == 0.10


def test_gradient_norm_formula_is_the_norm_of_all_gradients_as_one_vector(
    program: ModuleType,
) -> None:
    torch.manual_seed(0)
    model = program.build_model()
    nn.CrossEntropyLoss()(model(torch.randn(16, 64)), torch.randint(0, 10, (16,))).backward()
    by_formula = math.sqrt(sum((p.grad**2).sum().item() for p in model.parameters()))
    total, _ = program.gradient_norms(model)
    assert total == pytest.approx(by_formula, rel=1e-5)
    clipped = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e9)  # returns the norm
    assert clipped.item() == pytest.approx(by_formula, rel=1e-5)


def test_update_ratio_formula_matches_the_program(program: ModuleType) -> None:
    torch.manual_seed(0)
    model = program.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    inputs, targets = torch.randn(32, 64), torch.randint(0, 10, (32,))
    stats = program.monitored_step(model, inputs, targets, nn.CrossEntropyLoss(), optimizer)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    ratio = ((after - before).norm() / before.norm()).item()
    assert stats.update_ratio == pytest.approx(ratio, rel=1e-4) and ratio > 0


def test_confidence_formula_matches_the_program(program: ModuleType) -> None:
    torch.manual_seed(0)
    model = program.build_model()
    inputs, targets = torch.randn(50, 64), torch.randint(0, 10, (50,))
    _, _, confidence, counts = program.evaluate(model, inputs, targets, nn.CrossEntropyLoss())
    with torch.no_grad():
        z = model(inputs)
    by_formula = sum(torch.softmax(z[i], dim=0).max().item() for i in range(50)) / 50
    assert confidence == pytest.approx(by_formula, rel=1e-5) and sum(counts) == 50


def test_double_softmax_floor_and_its_top_probability() -> None:
    perfect = torch.tensor([[1.0] + [0.0] * 9])  # probabilities where logits belong
    floor = nn.CrossEntropyLoss()(perfect, torch.tensor([0])).item()
    assert floor == pytest.approx(math.log(1 + 9 / math.e), rel=1e-6)
    assert floor == pytest.approx(-math.log(math.e / (math.e + 9 * math.exp(0))), rel=1e-6)
    assert f"{floor:.2f}" == "1.46" and f"{math.e:.3f}" == "2.718"
    top = torch.softmax(perfect, dim=1).max().item()
    assert top == pytest.approx(math.e / (math.e + 9)) and f"{top:.2f}" == "0.23"


# ---------------------------------------------------------------- what a zero norm means


def grad_total(model: nn.Module) -> float:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return torch.stack([g.norm() for g in grads]).norm().item() if grads else 0.0


def small_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 10))


BATCH = (torch.randn(64, 8, generator=torch.Generator().manual_seed(1)), torch.arange(64) % 10)


def test_a_forgotten_step_leaves_a_normal_gradient_norm(
    program: ModuleType, engine_run: Callable[..., RunResult]
) -> None:
    model = small_mlp()
    nn.CrossEntropyLoss()(model(BATCH[0]), BATCH[1]).backward()  # and no step()
    assert grad_total(model) > 0.1
    norms = [s.grad_norm for s in engine_run("no_step", epochs=1).steps]
    assert min(norms) > 0.3 and 0.5 < statistics.median(norms) < 0.8  # around 0.6
    torch.manual_seed(0)
    mlp = program.build_model()
    inputs, targets = torch.randn(32, 64), torch.randint(0, 10, (32,))
    optimizer = torch.optim.Adam(mlp.parameters())
    stats = program.monitored_step(
        mlp, inputs, targets, nn.CrossEntropyLoss(), optimizer, mistake="no_step"
    )
    assert stats.grad_norm > 0.1 and stats.update_ratio == 0.0


def test_with_every_relu_dead_the_output_bias_still_gets_a_gradient() -> None:
    model = small_mlp()
    with torch.no_grad():
        model[0].bias.fill_(-100.0)  # every hidden pre-activation below 0
    nn.CrossEntropyLoss()(model(BATCH[0]), BATCH[1]).backward()
    assert torch.count_nonzero(model[0].weight.grad) == 0
    assert torch.count_nonzero(model[2].weight.grad) == 0
    assert model[2].bias.grad.norm().item() > 0.01
    assert grad_total(model) == pytest.approx(model[2].bias.grad.norm().item())


def test_zero_grad_between_backward_and_step_gives_exactly_zero(
    engine_run: Callable[..., RunResult],
) -> None:
    model = small_mlp()
    nn.CrossEntropyLoss()(model(BATCH[0]), BATCH[1]).backward()
    model.zero_grad()  # cleared before anyone reads them
    assert grad_total(model) == 0.0
    assert all(s.grad_norm == 0.0 for s in engine_run("zero_grad_after_backward", 1).steps)


def test_no_backward_at_all_gives_zero() -> None:
    model = small_mlp()
    nn.CrossEntropyLoss()(model(BATCH[0]), BATCH[1])  # loss computed, backward() never called
    assert all(p.grad is None for p in model.parameters()) and grad_total(model) == 0.0


def test_a_loss_through_round_gives_zero_and_detached_outputs_raise() -> None:
    model = small_mlp()
    loss = ((torch.round(model(BATCH[0])) - 1.0) ** 2).mean()
    loss.backward()
    assert all(torch.count_nonzero(p.grad) == 0 for p in model.parameters())
    with pytest.raises(RuntimeError, match="does not require grad"):
        nn.CrossEntropyLoss()(model(BATCH[0]).detach(), BATCH[1]).backward()


def test_the_checks_warn_about_each_problem_and_not_about_a_healthy_step(
    program: ModuleType,
) -> None:
    def stats(loss: float, norm: float, ratio: float) -> object:
        return program.StepStats(loss, norm, {}, ratio)

    assert program.check_step(stats(0.5, 0.6, 1e-3), [0.5] * 20) == []
    assert "exactly 0" in program.check_step(stats(0.5, 0.0, 0.0), [0.5])[0]
    assert "jumped" in program.check_step(stats(0.5, 6.0, 1e-3), [0.5] * 20)[0]
    assert "nan" in program.check_step(stats(math.nan, math.nan, math.nan), [])[0]
    assert "ratio is 0" in program.check_step(stats(0.5, 0.6, 0.0), [0.5])[0]


# ---------------------------------------------------------------- overfit one batch


def test_overfit_one_batch_reaches_the_quoted_loss_and_memorises_random_labels() -> None:
    ex4 = import_file(EXERCISE_4, "lesson_3_6_ex4")
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    inputs, targets = torch.tensor(x[:32], dtype=torch.float32) / 16, torch.tensor(y[:32])
    _, losses = ex4.overfit_one_batch(ex4.healthy_step, inputs, targets)
    assert len(losses) == 200 and len(targets) == 32
    assert f"{losses[0]:.3f}" == "2.315" and f"{losses[-1]:.4f}" == "0.0055"
    assert "from 2.315 to 0.0055 in 200 Adam steps" in TEXT
    random_labels = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(1))
    model, _ = ex4.overfit_one_batch(ex4.healthy_step, inputs, random_labels)
    with torch.no_grad():
        assert torch.equal(model(inputs).argmax(dim=1), random_labels)  # memorised


# ---------------------------------------------------------------- the curves table


def test_swapped_arguments_crash_at_step_one_or_go_below_zero(
    engine_run: Callable[..., RunResult],
) -> None:
    crashed = engine_run("swapped_loss_args", epochs=1)
    assert crashed.status == "crashed" and not crashed.steps
    assert "not implemented for 'Long'" in crashed.error.message
    one_hot = engine_run("swapped_loss_args_one_hot", epochs=2)
    assert one_hot.epochs[0].train_loss < 0
    counts = one_hot.epochs[-1].class_counts  # collapsed: every prediction in one class
    assert max(counts) == sum(counts)


def test_misaligned_labels_stay_near_chance(engine_run: Callable[..., RunResult]) -> None:
    run = engine_run("labels_misaligned")
    assert min(e.val_loss for e in run.epochs) > LN10 - 0.01
    assert all(abs(e.val_acc - 0.1) < 0.05 for e in run.epochs)


def test_softmax_before_the_loss_levels_off_near_the_floor(
    engine_run: Callable[..., RunResult],
) -> None:
    run = engine_run("softmax_before_ce")
    last = run.epochs[-1]
    assert abs(last.train_loss - 1.46) < 0.02 and last.val_acc > 0.95
    # the quick check's numbers: train loss stops at 1.47 while val accuracy reaches 0.97
    assert f"{last.train_loss:.2f}" == "1.47" and f"{last.val_acc:.2f}" == "0.97"
    assert "Train loss stops at 1.47 while val accuracy reaches 0.97" in TEXT
    assert run.epochs[0].val_acc < last.val_acc  # accuracy climbs while the loss cannot
    assert abs(last.mean_confidence - 0.23) < 0.01  # confidence near 0.23, accuracy high


def test_a_tiny_subset_memorises_and_validation_stays_behind(
    engine_run: Callable[..., RunResult],
) -> None:
    last = engine_run("tiny_subset").epochs[-1]
    assert last.train_loss < 0.05 and last.train_acc == 1.0
    assert last.val_acc < last.train_acc - 0.2


def test_no_shuffle_gives_saw_teeth_and_a_weak_first_epoch(
    engine_run: Callable[..., RunResult],
) -> None:
    broken, healthy = engine_run("no_shuffle", epochs=3), engine_run(None, epochs=3)
    assert broken.epochs[0].val_acc < healthy.epochs[0].val_acc - 0.2

    def largest_rise(run: RunResult) -> float:
        losses = [s.loss for s in run.steps if s.epoch > 1]
        return max(b - a for a, b in zip(losses, losses[1:], strict=False))

    assert largest_rise(broken) > 2 * largest_rise(healthy)  # a jump at each new class


def test_validation_in_train_mode_is_jumpy_and_low(engine_run: Callable[..., RunResult]) -> None:
    broken = engine_run("dropout_in_eval")
    reference = engine_run("dropout_in_eval", reference=True)
    assert broken.epochs[-1].val_acc < reference.epochs[-1].val_acc - 0.01

    def jumpiness(run: RunResult) -> float:
        accs = [e.val_acc for e in run.epochs[5:]]
        return statistics.mean(abs(b - a) for a, b in zip(accs, accs[1:], strict=False))

    assert jumpiness(broken) > jumpiness(reference)


def test_validation_needs_no_grad_and_eval_for_different_reasons() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))
    with torch.no_grad():
        first, second = model(BATCH[0]), model(BATCH[0])  # still in training mode
    assert not first.requires_grad and not torch.equal(first, second)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(BATCH[0]), model(BATCH[0]))


# ---------------------------------------------------------------- what to keep


def test_a_checkpoint_holds_adams_moments_and_loads_with_weights_only(tmp_path: Path) -> None:
    model = small_mlp()
    optimizer = torch.optim.Adam(model.parameters())
    nn.CrossEntropyLoss()(model(BATCH[0]), BATCH[1]).backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}
    torch.save(state, tmp_path / "best.pt")
    loaded = torch.load(tmp_path / "best.pt", weights_only=True)
    assert {"exp_avg", "exp_avg_sq"} <= set(loaded["optimizer"]["state"][0])
    assert loaded["epoch"] == 3


# ---------------------------------------------------------------- the page as a whole


def test_in_depth_is_about_as_long_as_the_other_lessons() -> None:
    others = [
        load_lesson(lesson_path(outline.id))
        for outline in CURRICULUM
        if outline.id != "3.6" and has_content(outline.id)
    ]
    assert len(others) >= 3
    median = statistics.median(written_words(other) for other in others)
    assert written_words(LESSON) <= 1.6 * median


def test_try_it_asks_for_the_prediction_before_anything_that_answers_it() -> None:
    try_it = LESSON.sections["Try it"]
    assert "table" not in try_it.lower()
    assert try_it.index("Before **Train**") < try_it.index("After training")


def test_a_zero_norm_is_not_blamed_on_a_missing_step_or_dead_units() -> None:
    assert "a missing `step()` or dead units" not in TEXT
    assert "well below 0.01" not in TEXT


def test_summary_is_one_short_paragraph() -> None:
    assert "\n\n" not in LESSON.summary.strip() and len(LESSON.summary.split()) <= 80
