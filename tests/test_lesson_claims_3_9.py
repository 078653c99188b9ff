"""Lesson 3.9: every number and formula the text states, checked by running code.

The lesson's program and exercise 3 (whose table the text cites) start in the background
when this module begins (one process each, on the CPU, without the app on the path) and
are each run once; the tests that read what they print come last.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.config import default_config
from engine.training import build_parts
from engine.variants import apply_variant
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    check_stands_alone,
    flat_lesson_text,
    lesson_section,
    lesson_text,
    load_module,
)

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_3_9.py"
EXERCISE_3 = ROOT / "lessons" / "solutions" / "lesson_3_9_ex3.py"
RAW = lesson_text("3.9")  # as written, program not expanded
TEXT = flat_lesson_text("3.9")  # line breaks as spaces
TRUNK, HEAD = 64 * 128 + 128 + 128 * 64 + 64, 64 * 5 + 5
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def programs_running_in_the_background() -> Iterator[None]:
    # generous limit: the lesson quotes a run of a few seconds, but a busy machine is slower
    _runs.append(BackgroundPrograms({"3.9": PROGRAM, "3.9 exercise 3": EXERCISE_3}, 120))
    yield
    _runs.pop().stop()


section = partial(lesson_section, "3.9")


def program() -> object:
    return load_module(PROGRAM, "lesson_3_9_program")


def code_block(starting: str) -> str:
    """The In depth fragment whose first line starts with this text."""
    blocks = re.findall(r"```python\n(.*?)```", section("In depth"), re.S)
    found = [block for block in blocks if block.startswith(starting)]
    assert len(found) == 1, starting
    return found[0]


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()]).clone()


# --- front matter, Try it and the shape of the page ------------------------------------


def test_front_matter_names_the_briefed_variants_and_baseline() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert (meta["id"], meta["module"], meta["title"]) == ("3.9", 3, "What's next")
    assert meta["variants"] == ["tiny_subset"]
    assert meta["baseline"] == {"dataset": "digits"}
    lesson = load_lesson(lesson_path("3.9"))
    assert lesson.variants == ("tiny_subset",) and lesson.baseline == default_config("digits")


def test_try_it_poses_the_predictions_without_the_demos_numbers() -> None:
    text = " ".join(section("Try it").split())
    assert "`tiny_subset`" in text and "only a few dozen of those digits" in text
    tiny = build_parts(apply_variant(default_config("digits"), "tiny_subset"))
    assert 24 <= len(tiny.data.train) < 100  # "a few dozen"
    assert "predict the broken run: does it stay flat, explode, learn fine, or overfit?" in text
    assert "Guess before you train: which ends highest, which rises fastest" in text
    for way in ("a frozen trunk with a new head", "smaller learning rate", "from scratch"):
        assert way in text
    assert not re.search(r"\d\.\d", text)  # no numbers from the app's runs
    assert text.index("Before you press **Train**") < text.index("Commit, then compare")


def test_summary_is_one_paragraph_and_takeaways_are_bullets() -> None:
    lesson = load_lesson(lesson_path("3.9"))
    assert "\n\n" not in lesson.summary.strip() and 3 <= len(lesson.takeaways) <= 6
    assert len(lesson.exercises) == 3 and 3 <= len(lesson.questions) <= 4


# --- the math -----------------------------------------------------------------------------


def test_trunk_head_and_probe_sizes() -> None:
    trunk = program().make_trunk()
    assert sum(p.numel() for p in trunk.parameters()) == TRUNK == 16_576
    assert sum(p.numel() for p in nn.Linear(64, 5).parameters()) == HEAD == 325
    assert TRUNK + HEAD == 16_901
    assert sum(p.numel() for p in nn.Linear(64, 10).parameters()) == 650
    assert "$64 \\cdot 128 + 128 + 128 \\cdot 64 + 64 = 16{,}576$" in TEXT
    assert "$64 \\cdot 5 + 5 = 325$" in TEXT and "so $650$ numbers" in TEXT
    assert "Only 325 numbers are learned from the data, instead of all 16,901" in TEXT
    assert "check that 325 of the 16,901 weights are trainable" in TEXT.replace("Check", "check")
    assert "not one of the 16,576 trunk weights has changed" in TEXT
    assert 224 * 224 * 3 == 150_528 and "colour photo has 150,528 values" in TEXT


def test_the_freezing_fragment_leaves_the_trunk_untouched_and_trains_the_head() -> None:
    torch.manual_seed(0)
    trunk = program().make_trunk()
    space: dict[str, object] = {"torch": torch, "nn": nn, "trunk": trunk}
    exec(code_block("trunk.requires_grad_(False)"), space)
    head, optimizer = space["head"], space["optimizer"]
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == HEAD
    x, y = torch.rand(25, 64), torch.randint(0, 5, (25,))
    before, head_before = flat(trunk), flat(head)
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(head(trunk(x)), y).backward()
        assert all(p.grad is None for p in trunk.parameters())  # ".grad stays None"
        optimizer.step()
    assert torch.equal(flat(trunk), before) and not torch.equal(flat(head), head_before)


def _steps_move_trunk(setup: str) -> tuple[bool, bool]:
    """Train 3 steps one of the quick check's ways: (trunk moved, trunk got gradients)."""
    torch.manual_seed(0)
    trunk, head = program().make_trunk(), nn.Linear(64, 5)
    model = nn.Sequential(trunk, head)
    if setup == "freeze and head only":
        trunk.requires_grad_(False)
        optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    elif setup == "head only":
        optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    else:  # model.eval(), every parameter in the optimizer
        model.eval()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.rand(25, 64), torch.randint(0, 5, (25,))
    before, got_grad = flat(trunk), False
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        got_grad |= any(p.grad is not None for p in trunk.parameters())
        optimizer.step()
    return not torch.equal(flat(trunk), before), got_grad


def test_quick_check_only_model_eval_fails_to_keep_the_trunk_fixed() -> None:
    assert _steps_move_trunk("freeze and head only") == (False, False)
    assert _steps_move_trunk("head only") == (False, True)  # fixed, gradients wasted
    assert _steps_move_trunk("eval") == (True, True)  # eval() does not stop learning
    assert "- [x] `model.eval()` before training, the optimizer holding every parameter." in RAW


def test_parameter_groups_fragment_and_defaults_from_keyword_arguments() -> None:
    trunk, head = program().make_trunk(), nn.Linear(64, 5)
    space: dict[str, object] = {"torch": torch, "trunk": trunk, "head": head}
    exec(code_block("optimizer = torch.optim.Adam(\n    ["), space)
    assert [group["lr"] for group in space["optimizer"].param_groups] == [1e-4, 1e-3]
    # "A setting a group leaves out comes from the keyword arguments."
    mixed = torch.optim.Adam(
        [{"params": trunk.parameters()}, {"params": head.parameters(), "lr": 1e-3}], lr=1e-2
    )
    assert [group["lr"] for group in mixed.param_groups] == [1e-2, 1e-3]
    assert "A setting a group leaves out comes from the keyword arguments." in TEXT


def test_adams_first_step_moves_every_weight_by_about_lr() -> None:
    # u = m_hat / (sqrt(v_hat) + eps) = g / (|g| + eps), eps = 1e-8 by default
    assert torch.optim.Adam([nn.Parameter(torch.zeros(1))]).defaults["eps"] == 1e-8
    torch.manual_seed(0)
    for lr in (1e-4, 1e-3):
        theta = nn.Parameter(torch.randn(1000, dtype=torch.float64))  # exact differences
        start = theta.detach().clone()
        scale = torch.logspace(
            -4, 2, 1000, dtype=torch.float64
        )  # gradients of very different sizes
        optimizer = torch.optim.Adam([theta], lr=lr)
        (theta * scale * torch.randn(1000, dtype=torch.float64).sign()).sum().backward()
        g = theta.grad.clone()
        optimizer.step()
        moved = theta.detach() - start
        assert torch.allclose(moved, -lr * g / (g.abs() + 1e-8), rtol=1e-4, atol=1e-12)
        assert torch.allclose(moved.abs(), torch.full_like(moved, lr), rtol=1e-3)
    assert "$\\eta_{\\text{trunk}} = 10^{-4}$ and about $10^{-3}$" in TEXT


def test_the_hidden_quarter_is_one_4x4_block_set_to_0() -> None:
    module = program()
    torch.manual_seed(0)
    x = torch.rand(200, 64) + 0.1  # no pixel is 0 before hiding
    seen, hidden = module.hide_quadrant(x, torch.Generator().manual_seed(0))
    assert hidden.shape == (200, 64) and (hidden.sum(dim=1) == 16).all()  # |M| = 16
    blocks = set()
    for mask in hidden.reshape(200, 8, 8):
        rows, cols = mask.nonzero(as_tuple=True)
        top, left = rows.min().item(), cols.min().item()
        assert top in (0, 4) and left in (0, 4)
        assert mask[top : top + 4, left : left + 4].all()  # one 4x4 quarter
        blocks.add((top, left))
    assert blocks == {(0, 0), (0, 4), (4, 0), (4, 4)}  # chosen at random: all four occur
    assert (seen[hidden] == 0).all() and torch.equal(seen[~hidden], x[~hidden])
    assert "one $4 \\times 4$ quarter chosen at random for each digit; $|M| = 16$" in TEXT


def test_the_pretext_loss_fragment_grades_only_hidden_pixels() -> None:
    source = PROGRAM.read_text(encoding="utf-8")
    fragment = code_block("seen, hidden = hide_quadrant(")
    for line in fragment.strip().splitlines():
        assert line.strip() in source  # the fragment is the program's own lines
    guess, x = torch.zeros(3, 64), torch.rand(3, 64)
    hidden = torch.zeros(3, 64, dtype=torch.bool)
    hidden[:, :16] = True
    expected = ((guess - x)[:, :16] ** 2).mean()  # 1/|M| sum over M of (x_hat - x)^2
    assert torch.isclose((guess - x)[hidden].pow(2).mean(), expected)


def test_guessing_each_pixels_average_scores_the_mean_pixel_variance() -> None:
    # for a random quarter, the expected error of guessing each pixel's average is the
    # average over all 64 pixels of each pixel's variance, the number the program prints
    torch.manual_seed(0)
    x = torch.rand(400, 64) ** 3
    variance = x.var(dim=0, unbiased=False)
    per_quarter = [
        variance.reshape(8, 8)[r : r + 4, c : c + 4].mean() for r in (0, 4) for c in (0, 4)
    ]
    assert math.isclose(sum(per_quarter) / 4, variance.mean().item(), rel_tol=1e-5)


def test_the_programs_settings_are_the_ones_the_lesson_states() -> None:
    module = program()
    assert (module.PRETRAIN_EPOCHS, module.BATCH_SIZE, module.LR) == (10, 64, 1e-3)
    assert "(10 epochs, batch 64, Adam at $10^{-3}$)" in TEXT
    assert (module.FEW_SHOT_STEPS, module.SHOTS, module.DRAWS) == (100, 5, 3)
    assert "takes only 100 full-batch steps" in TEXT and "5 labelled examples per class, 25" in TEXT
    assert (module.TRUNK_LR, module.HEAD_LR) == (
        1e-3,
        1e-2,
    ) and module.HEAD_LR / module.TRUNK_LR == 10
    assert "($10^{-3}$ for the trunk, $10^{-2}$ for the head and for the run from scratch)" in TEXT
    assert (module.SSL_EPOCHS, module.SSL_BATCH, module.N_TEST_SSL) == (20, 128, 500)
    assert "20 epochs at batch 128" in TEXT and "keeps 500 digits apart" in TEXT
    assert (module.PROBE_SHOTS, module.PROBE_STEPS) == (10, 200)
    assert "each trained on 10 labelled digits per class" in TEXT


# --- the program and exercise 3: what they print ------------------------------------------


def test_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "torch", "sklearn"}
    lesson = load_lesson(lesson_path("3.9"))
    assert lesson.programs == (PROGRAM,)
    assert PROGRAM.read_text(encoding="utf-8").rstrip() in lesson.sections["In depth"]
    before = RAW[: RAW.index("{{program: lessons/programs/lesson_3_9.py}}")]
    assert before.rstrip().endswith(":")
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"


QUOTED = [  # (what the lesson says, what the program prints)
    ("The 901 digits 0-4", "pretrained on 901 digits 0-4"),
    ("to a training accuracy of 0.989", "train accuracy 0.989"),
    ("the other 871 are the test set", " 871 "),
    (
        "scratch reached a test accuracy of 0.906, fine-tuning 0.802 and the frozen trunk "
        "only 0.638",
        "mean 0.906 0.638 0.802",
    ),  # fmt: skip
    ("trains on the other 1,297 without a single label", "1297 unlabelled digits"),
    ("falls from 0.2166 in the first epoch", "pretext epoch 1: mean hidden-pixel MSE 0.2166"),
    ("to 0.0449 in the twentieth", "pretext epoch 20: mean hidden-pixel MSE 0.0449"),
    ("guessing each pixel's average value would score 0.0734", "scores MSE 0.0734"),
    ("on the raw pixels (no trunk at all): 0.848", "raw pixels (no trunk): test accuracy 0.848"),
    ("sorts all ten digits with an accuracy of 0.848", "test accuracy 0.848"),
    ("its random initial weights: 0.740", "random trunk: test accuracy 0.740"),
    ("on the self-supervised trunk: 0.832", "self-supervised trunk: test accuracy 0.832"),
]


def program_output() -> str:
    return _runs[-1].output("3.9")


def test_program_prints_what_the_lesson_quotes() -> None:
    printed = " ".join(program_output().split())
    for in_lesson, in_output in QUOTED:
        assert in_lesson in TEXT, f"the lesson no longer says {in_lesson!r}"
        assert in_output in printed, f"the program no longer prints {in_output!r}"
    assert 1297 + 500 == 1797 and "trunk: 16576 weights; new head: 325" in printed


def _table(stdout: str, columns: int) -> tuple[list[list[float]], list[float]]:
    rows = re.findall(
        r"^ *\d+ +(?:\d+ +)?" + r" +".join([r"(0\.\d+)"] * columns) + "$", stdout, re.M
    )
    mean = re.search(r"^mean +" + r" +".join([r"(0\.\d+)"] * columns) + "$", stdout, re.M)
    assert rows and mean
    return [[float(v) for v in row] for row in rows], [float(v) for v in mean.groups()]


def test_transfer_lost_to_scratch_on_every_draw_and_fine_tuning_beat_freezing() -> None:
    stdout = program_output()
    rows, (scratch, frozen, fine) = _table(stdout, 3)
    assert len(rows) == 3 and "draw test digits scratch frozen fine-tune" in " ".join(
        stdout.split()
    )
    assert all(s > f > z for s, z, f in rows)  # "in the same order on every draw"
    assert math.isclose(fine - frozen, 0.16, abs_tol=0.02)  # "by about 0.16"
    assert "here it beat the frozen trunk by about 0.16" in TEXT
    assert all(row[1] < row[0] for row in rows) and scratch > fine  # "transfer lost here"
    assert re.search(r"^ +\d +871 ", stdout, re.M)  # 896 digits 5-9 minus 25: 871 test


def test_self_supervision_beat_its_random_start_but_not_the_raw_pixels() -> None:
    stdout = program_output()
    probes = dict(re.findall(r"linear probe on (.+?): +test accuracy (0\.\d+)", stdout))
    raw, random_trunk = float(probes["raw pixels (no trunk)"]), float(probes["random trunk"])
    ssl = float(probes["self-supervised trunk"])
    assert math.isclose(ssl - random_trunk, 0.09, abs_tol=0.01)  # "about 0.09"
    assert raw > ssl and raw - ssl < 0.03  # "a little below the raw pixels"
    mse = [float(v) for v in re.findall(r"mean hidden-pixel MSE (0\.\d+)", stdout)]
    average = float(re.search(r"scores MSE (0\.\d+)", stdout).group(1))
    assert len(mse) == 2 and mse[1] < average < mse[0]  # it learned more than the averages
    assert "raised the probe by about 0.09 without one label, yet ended a little below" in TEXT


def test_exercise_3_the_first_layer_transfers_better_but_trails_scratch() -> None:
    stdout = _runs[-1].output("3.9 exercise 3")
    rows, (whole, first, scratch) = _table(stdout, 3)
    assert len(rows) == 3 and all(f > w for w, f, _ in rows)  # "on every draw"
    assert first < scratch  # "though it still trails scratch"
    assert f"{first:.3f} against {whole:.3f} on average" in TEXT  # 0.840 against 0.638
    # the same pretraining, seeds and draws as the program: the whole frozen trunk scores
    # exactly the program's frozen column, and scratch its scratch column
    program_rows, _ = _table(program_output(), 3)
    assert [row[0] for row in rows] == [row[1] for row in program_rows]
    assert [row[2] for row in rows] == [row[0] for row in program_rows]
