"""Lesson 2.6: every number and formula the text states, checked by running code.

Each test names the claim it checks. The lesson's program and exercise 3 (whose curves the
text cites) start in the background when this module begins (one process each, on the
CPU, without the app on the path); the tests that read what they print come last.
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
from engine.step import evaluate
from engine.training import build_parts
from engine.variants import apply_variant
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    check_stands_alone,
    lesson_section,
    load_module,
)

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_2_6.py"
EXERCISE_3 = ROOT / "lessons" / "solutions" / "lesson_2_6_ex3.py"
RAW = lesson_path("2.6").read_text(encoding="utf-8")  # as written, program not expanded
TEXT = " ".join(RAW.split())  # line breaks as spaces
PARAMETERS = 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def programs_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"2.6": PROGRAM, "2.6 exercise 3": EXERCISE_3}, 60))
    yield
    _runs.pop().stop()


section = partial(lesson_section, "2.6")


def code_block(starting: str) -> str:
    """The In depth fragment whose first line starts with this text."""
    blocks = re.findall(r"```python\n(.*?)```", section("In depth"), re.S)
    found = [block for block in blocks if block.startswith(starting)]
    assert len(found) == 1, starting
    return found[0]


# --- front matter and the demo ----------------------------------------------------------


def test_front_matter_names_the_briefed_variants_and_baseline() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert meta["variants"] == ["tiny_subset", "dropout_in_eval", "leaky_validation"]
    assert meta["baseline"] == {"dataset": "digits"}
    assert load_lesson(lesson_path("2.6")).variants == tuple(meta["variants"])


def test_try_it_describes_the_apps_baseline() -> None:
    # "the course's digits MLP (64 inputs, hidden layers of 128 and 64 with ReLU, 10
    # classes; Adam at lr 10^-3, batch 32, 20 epochs)"; the MLP has 17,226 weights.
    baseline = default_config(**tomllib.loads(RAW.split("+++")[1])["baseline"])
    assert (baseline.model, baseline.hidden, baseline.activation) == ("mlp", (128, 64), "relu")
    assert (baseline.optimizer, baseline.lr, baseline.batch_size) == ("adam", 1e-3, 32)
    assert baseline.epochs == 20 and baseline.dropout == 0 and baseline.weight_decay == 0
    parts = build_parts(baseline)
    assert parts.data.train.inputs[0].numel() == 64 and parts.data.n_classes == 10
    assert sum(p.numel() for p in parts.model.parameters()) == PARAMETERS == 17_226
    text = " ".join(section("Try it").split())
    assert "(64 inputs, hidden layers of 128 and 64 with ReLU, 10 classes;" in text
    assert "Adam at lr $10^{-3}$, batch 32, 20 epochs)" in text


def test_try_it_describes_each_broken_run_as_the_engine_builds_it() -> None:
    base = default_config("digits")
    tiny = build_parts(apply_variant(base, "tiny_subset"))
    assert 24 <= len(tiny.data.train) < 100  # "only a few dozen examples"
    forgot = build_parts(apply_variant(base, "dropout_in_eval"))
    assert any(isinstance(m, nn.Dropout) for m in forgot.model.modules())  # "has dropout"
    val = forgot.data.val
    first, second = (forgot.evaluate(forgot.model, val, forgot.loss_fn) for _ in range(2))
    assert first.loss != second.loss  # validation in train mode: dropout on, two numbers
    healthy = [evaluate(forgot.model, val, forgot.loss_fn) for _ in range(2)]
    assert healthy[0] == healthy[1]  # with model.eval(): the same number twice
    leaky = build_parts(apply_variant(base, "leaky_validation"))
    assert torch.equal(leaky.data.val.inputs, leaky.data.train.inputs)  # "the training set"
    assert torch.equal(leaky.data.val.targets, leaky.data.train.targets)
    for variant in ("tiny_subset", "dropout_in_eval", "leaky_validation"):
        assert f"- `{variant}`:" in section("Try it")
    assert not re.search(r"\d\.\d", section("Try it"))  # no numbers from the demo's runs


# --- the math -----------------------------------------------------------------------------


def test_the_gradient_of_the_l2_penalty_is_lambda_theta() -> None:
    torch.manual_seed(0)
    for lam in (0.01, 0.5, 3.0):
        theta = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
        (lam / 2 * theta.pow(2).sum()).backward()
        assert torch.allclose(theta.grad, lam * theta.detach())
    formula = r"\nabla_\theta \left( \frac{\lambda}{2} \lVert \theta \rVert^2 \right)"
    assert formula + r" = \lambda \, \theta" in RAW


def test_sgd_weight_decay_shrinks_by_one_minus_lr_lambda_then_steps() -> None:
    # theta <- theta - lr (grad L + lambda theta) = (1 - lr lambda) theta - lr grad L
    torch.manual_seed(0)
    x, y = torch.randn(32, 6), torch.randn(32)
    for lr, lam in ((0.1, 0.01), (0.05, 0.3)):
        theta0 = torch.randn(6)
        theta = theta0.clone().requires_grad_(True)
        optimizer = torch.optim.SGD([theta], lr=lr, weight_decay=lam)
        ((x @ theta - y) ** 2).mean().backward()
        grad = theta.grad.clone()
        optimizer.step()
        assert torch.allclose(theta.detach(), (1 - lr * lam) * theta0 - lr * grad, atol=1e-6)
        assert torch.allclose(theta.detach(), theta0 - lr * (grad + lam * theta0), atol=1e-6)


def test_a_weight_with_no_gradient_keeps_0_368_after_1000_steps() -> None:
    # "With eta = 0.1 and lambda = 0.01 it is 0.999; ... keeps 0.999^1000 ~ 0.368 of itself
    # after 1,000 steps, about 1/e"; the quick check's answer is the same 0.999.
    assert math.isclose(1 - 0.1 * 0.01, 0.999)
    assert f"{0.999**1000:.3f}" == "0.368" and abs(0.999**1000 - math.exp(-1)) < 1e-3
    theta = torch.tensor([2.0, -0.5, 1e-3], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.1, weight_decay=0.01)
    for _ in range(1000):
        optimizer.zero_grad()
        (0 * theta).sum().backward()
        optimizer.step()
    kept = theta.detach() / torch.tensor([2.0, -0.5, 1e-3], dtype=torch.float64)
    assert torch.allclose(kept, torch.full((3,), 0.999**1000, dtype=torch.float64))
    assert "$0.999^{1000} \\approx 0.368$ of itself after 1,000 steps, about $1/e$" in TEXT
    assert "$(1 - 0.1 \\cdot 0.01)\\theta = 0.999\\,\\theta$" in TEXT
    assert "- [x] It is multiplied by 0.999." in RAW


def test_the_weight_decay_fragment_and_the_hand_written_penalty_take_the_same_step() -> None:
    fragment = code_block("optimizer = torch.optim.SGD(")
    torch.manual_seed(0)
    inputs, targets = torch.randn(16, 5), torch.randint(0, 3, (16,))
    start = nn.Linear(5, 3)
    stepped = []
    for use in ("weight_decay", "penalty"):
        model = nn.Linear(5, 3)
        model.load_state_dict(start.state_dict())
        space = {"torch": torch, "model": model, "loss_fn": nn.CrossEntropyLoss()}
        space |= {"inputs": inputs, "targets": targets}
        exec(fragment, space)
        if use == "weight_decay":
            nn.CrossEntropyLoss()(model(inputs), targets).backward()
            space["optimizer"].step()
        else:
            plain = torch.optim.SGD(model.parameters(), lr=0.1)
            space["loss"].backward()
            plain.step()
        stepped.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.allclose(stepped[0], stepped[1], atol=1e-6)


def _three_steps(optimizer: type[torch.optim.Optimizer], decay: float) -> torch.Tensor:
    """The weights after three steps of `optimizer` with this weight_decay, on a fixed loss."""
    torch.manual_seed(0)
    x, y = torch.randn(32, 4), torch.randn(32)
    theta = torch.randn(4).requires_grad_(True)
    opt = optimizer([theta], lr=0.01, weight_decay=decay)
    for _ in range(3):
        opt.zero_grad()
        ((x @ theta - y) ** 2).mean().backward()
        opt.step()
    return theta.detach()


def test_adam_weight_decay_adds_lambda_theta_to_the_gradient_before_its_scaling() -> None:
    lam = 0.1
    with_decay = _three_steps(torch.optim.Adam, lam)
    torch.manual_seed(0)
    x, y = torch.randn(32, 4), torch.randn(32)
    theta = torch.randn(4).requires_grad_(True)
    plain = torch.optim.Adam([theta], lr=0.01)  # no weight_decay: add lambda theta by hand
    for _ in range(3):
        plain.zero_grad()
        ((x @ theta - y) ** 2).mean().backward()
        theta.grad += lam * theta.detach()
        plain.step()
    assert torch.allclose(with_decay, theta.detach(), atol=1e-7)
    # "so the clean (1 - eta lambda) is lost": with no pull from the data, one Adam step
    # moves every weight by about lr whatever its size, not by lr * lambda * theta.
    theta = torch.tensor([5.0, 0.5, -0.05], requires_grad=True)
    adam = torch.optim.Adam([theta], lr=0.01, weight_decay=lam)
    (0 * theta).sum().backward()
    adam.step()
    moved = torch.tensor([5.0, 0.5, -0.05]) - theta.detach()
    assert torch.allclose(moved.abs(), torch.full((3,), 0.01), rtol=1e-3)
    assert not torch.allclose(moved, 0.01 * lam * torch.tensor([5.0, 0.5, -0.05]))


def test_adamw_multiplies_by_one_minus_lr_lambda_and_runs_adam_on_the_loss_alone() -> None:
    lam = 0.1
    decoupled = _three_steps(torch.optim.AdamW, lam)
    torch.manual_seed(0)
    x, y = torch.randn(32, 4), torch.randn(32)
    theta = torch.randn(4).requires_grad_(True)
    plain = torch.optim.Adam([theta], lr=0.01)
    for _ in range(3):
        plain.zero_grad()
        ((x @ theta - y) ** 2).mean().backward()
        with torch.no_grad():
            theta.mul_(1 - 0.01 * lam)  # the decay, outside Adam's scaling
        plain.step()
    assert torch.allclose(decoupled, theta.detach(), atol=1e-7)


def test_dropout_zeroes_with_probability_p_and_scales_survivors_by_one_over_one_minus_p() -> None:
    torch.manual_seed(0)
    h = torch.rand(200_000) + 0.5  # positive hidden values, as after a ReLU
    for p in (0.2, 0.5, 0.8):
        drop = nn.Dropout(p)
        out = drop(h)  # a fresh module is in train mode
        kept = out != 0
        assert abs((~kept).float().mean().item() - p) < 0.005
        assert torch.allclose(out[kept], h[kept] / (1 - p))
        # E[h~] = p * 0 + (1 - p) * h / (1 - p) = h: the average over 4,000 masks is h to
        # within 5 standard errors, sqrt(p / (1 - p) / 4000) of h, for every entry
        average = drop(h[:500].expand(4000, 500)).mean(dim=0)  # 4,000 masks at once
        assert torch.allclose(average, h[:500], rtol=5 * math.sqrt(p / (1 - p) / 4000))
        drop.eval()
        assert torch.equal(drop(h), h)  # eval mode: the identity


def test_dropout_of_3_is_0_or_6_each_about_half_the_time() -> None:
    torch.manual_seed(0)
    out = nn.Dropout(0.5)(torch.full((100_000,), 3.0))
    assert set(out.unique().tolist()) == {0.0, 6.0}
    assert abs((out == 6.0).float().mean().item() - 0.5) < 0.01
    assert abs(out.mean().item() - 3.0) < 0.03
    assert "- [x] 0 or 6.0, each with probability one half" in RAW


def test_train_and_eval_flags_and_no_grad_leaving_dropout_on() -> None:
    # "a new model starts in train mode"; model.train() / eval() reach every layer inside;
    # "torch.no_grad() ... leaves dropout alone"; eval mode returns the input untouched.
    model = load_module(PROGRAM, "lesson_2_6_program").make_mlp(0.5)
    assert all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    torch.manual_seed(0)
    x = torch.randn(8, 64)
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))  # still dropping units
        model.eval()
        assert torch.equal(model(x), model(x))
    drop = [m for m in model.modules() if isinstance(m, nn.Dropout)][0]
    assert torch.equal(drop(x), x) and not any(p.numel() for p in drop.parameters())


def test_the_norm_is_over_all_17226_weights_and_biases() -> None:
    program = load_module(PROGRAM, "lesson_2_6_program")
    torch.manual_seed(0)
    model = program.make_mlp(0.0)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert len(flat) == PARAMETERS == 17_226
    assert math.isclose(program.weight_norm(model), flat.norm().item(), rel_tol=1e-6)
    shown = {}
    exec(code_block("def weight_norm("), {"torch": torch, "nn": nn}, shown)
    assert math.isclose(shown["weight_norm"](model), flat.norm().item(), rel_tol=1e-6)
    assert "all 17,226 weights and biases" in TEXT and "The digits MLP has 17,226" in TEXT
    assert "$64 \\cdot 128 + 128$, $128 \\cdot 64 + 64$ and $64 \\cdot 10 + 10$" in TEXT


def test_the_accuracy_fragment_measures_in_eval_mode_and_restores_train_mode() -> None:
    space: dict[str, object] = {"torch": torch, "nn": nn}
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.9), nn.Linear(16, 3))
    x, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    space |= {"model": model, "train_x": x, "train_y": y, "val_x": x, "val_y": y}
    exec(code_block("@torch.no_grad()"), space)
    first = space["accuracy"](model, x, y)
    assert first == space["accuracy"](model, x, y) and model.training
    assert space["gap"] == 0.0  # the same data both ways: no gap


def test_every_run_starts_from_the_same_weights() -> None:
    # "Dropout ... holds no weights" and "All three runs start from the same weights".
    program = load_module(PROGRAM, "lesson_2_6_program")
    models = []
    for dropout in (0.0, 0.0, program.DROPOUT):
        torch.manual_seed(program.SEED)
        models.append(program.make_mlp(dropout))
    weights = [torch.cat([p.flatten() for p in m.parameters()]) for m in models]
    assert torch.equal(weights[0], weights[1]) and torch.equal(weights[0], weights[2])


def test_the_programs_settings_are_the_ones_the_lesson_states() -> None:
    program = load_module(PROGRAM, "lesson_2_6_program")
    assert (program.N_SMALL, program.N_MORE, program.EPOCHS) == (100, 300, 60)
    assert (program.LR, program.BATCH_SIZE) == (1e-3, 32)
    assert (program.WEIGHT_DECAY, program.DROPOUT) == (0.01, 0.5)
    assert program.EPOCHS * math.ceil(program.N_SMALL / program.BATCH_SIZE) == 240  # updates
    assert program.EPOCHS * program.N_SMALL // program.N_MORE == 20  # "20 epochs of 300"
    assert 20 * 300 == 60 * 100  # "as many examples seen"
    assert "for 60 epochs on 100 training digits" in TEXT
    assert (
        "on 100 examples and 240 updates" in TEXT
        and "(20 epochs of 300: as many examples seen)" in TEXT
    )
    assert "weight decay 0.01, dropout 0.5" in TEXT


# --- the program and exercise 3: what they print ------------------------------------------


def test_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "dataclasses", "torch", "sklearn"}
    source = PROGRAM.read_text(encoding="utf-8")
    assert "pick_device()" in source and "device=device" in source and ".to(device)" in source
    assert "fetch_" not in source and "download=True" not in source  # offline
    lesson = load_lesson(lesson_path("2.6"))
    assert lesson.programs == (PROGRAM,)
    assert source.rstrip() in lesson.sections["In depth"]
    before = RAW[: RAW.index("{{program: lessons/programs/lesson_2_6.py}}")]
    assert before.rstrip().endswith(":")
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"


QUOTED = [  # (what the lesson says, what the program prints)
    ("puts 10,000 ones through `nn.Dropout(0.5)`", "dropout p=0.5 in train mode, on 10,000 ones"),
    ("0.5046 of the ones came out as 0", "zeroed: 0.5046"),
    ("every survivor as 2.0", "survivors are all [2.0]"),
    ("the mean stayed at 0.9908, about 1", "mean: 0.9908"),
    ("In eval mode the output equals the input exactly", "output equals input exactly: True"),
    ("the same 1,497 digits", "1797 digits: validation = 1497 of them, never trained on"),
    ("norm 8.24", "0 8.24 8.24 8.24"),
    ("climbs throughout, to 11.48", "none 1.000 0.854 0.146 11.48"),
    ("(1.000) but only 0.854 of the validation digits: a gap of 0.146", "none 1.000 0.854 0.146"),
    ("shrinks back to 8.07", "weight decay 0.01 1.000 0.862 0.138 8.07"),
    ("nudges validation to 0.862, a gap of 0.138", "weight decay 0.01 1.000 0.862 0.138"),
    ("ending at 10.79", "dropout 0.5 0.990 0.836 0.154 10.79"),
    ("harder to fit (0.990), but validation ends at 0.836", "dropout 0.5 0.990 0.836"),
    ("validation reaches 0.930", "none, 300 digits 1.000 0.930 0.070"),
    ("the gap roughly halves, to 0.070", "none, 300 digits 1.000 0.930 0.070"),
]


def program_output() -> str:
    return _runs[-1].output("2.6")


def test_program_prints_what_the_lesson_quotes() -> None:
    printed = " ".join(program_output().split())
    for in_lesson, in_output in QUOTED:
        assert in_lesson in TEXT, f"the lesson no longer says {in_lesson!r}"
        assert in_output in printed, f"the program no longer prints {in_output!r}"


def _final_rows(stdout: str) -> dict[str, tuple[float, float, float, float]]:
    rows = re.findall(r"^(none|weight decay [\d.]+|dropout [\d.]+|none, \d+ digits) +"
                      r"([\d.]+) +([\d.]+) +(-?[\d.]+) +([\d.]+)$", stdout, re.M)  # fmt: skip
    return {name: tuple(float(v) for v in rest) for name, *rest in rows}


def test_program_gaps_are_train_minus_val_and_the_story_holds() -> None:
    rows = _final_rows(program_output())
    none, decay = rows["none"], rows["weight decay 0.01"]
    dropout, more = rows["dropout 0.5"], rows["none, 300 digits"]
    for train_acc, val_acc, gap, _ in rows.values():
        assert abs(gap - (train_acc - val_acc)) <= 0.0015  # gap = acc_train - acc_val
    assert none[0] == decay[0] == 1.0 and dropout[0] < 1.0  # "harder to fit"
    assert decay[1] > none[1] and decay[2] < none[2]  # "nudges validation", smaller gap
    assert dropout[1] < none[1]  # "it did not help"
    assert 0.4 < more[2] / none[2] < 0.6  # "the gap roughly halves"
    assert more[1] - none[1] > 0.05  # far more than either regulariser moved it
    # the summary: "weight decay cut the final norm by about 30% but moved validation
    # accuracy by less than 0.01"
    assert 0.27 < (none[3] - decay[3]) / none[3] < 0.33 and abs(decay[1] - none[1]) < 0.01
    assert "cut the final norm by about 30% but moved validation accuracy by less than 0.01" in TEXT


def test_program_norms_climb_without_decay_and_come_back_with_it() -> None:
    table = {
        int(epoch): (float(a), float(b), float(c))
        for epoch, a, b, c in re.findall(
            r"^ *(\d+) +([\d.]+) +([\d.]+) +([\d.]+)$", program_output(), re.M
        )
    }
    assert sorted(table) == list(range(0, 61, 10))
    start = table[0][0]
    assert table[0] == (start, start, start) == (8.24, 8.24, 8.24)  # the same weights
    none = [table[e][0] for e in sorted(table)]
    assert all(b > a for a, b in zip(none, none[1:], strict=False))  # "climbs throughout"
    decay = [table[e][1] for e in sorted(table)]
    assert max(decay) == table[30][1] == 8.82 and "rises to 8.82 at epoch 30" in TEXT
    assert decay[-1] < start  # "below where it started"
    dropout = [table[e][2] for e in sorted(table)]
    assert all(d < n for d, n in zip(dropout[1:], none[1:], strict=True))  # "slows the climb"
    assert dropout[-1] > start


def test_exercise_3_validation_stalls_once_training_accuracy_reaches_1() -> None:
    # "Early on they rise together; once training accuracy reaches 1, validation stalls
    # (exercise 3 draws both curves)".
    stdout = _runs[-1].output("2.6 exercise 3")
    rows = [
        (float(leaky), float(held_out))
        for leaky, held_out in re.findall(r"^ *\d+ +([\d.]+) +([\d.]+)$", stdout, re.M)
    ]
    assert len(rows) == 6 and "0 in both" in stdout
    assert rows[1][0] > rows[0][0] and rows[1][1] > rows[0][1]  # rise together
    first_perfect = next(i for i, (leaky, _) in enumerate(rows) if leaky == 1.0)
    after = [held_out for _, held_out in rows[first_perfect:]]
    assert len(after) >= 2 and max(after) - min(after) < 0.01  # stalls
    assert rows[-1][0] - rows[-1][1] > 0.1  # the gap the leaky number hides
    assert "once training accuracy reaches 1, validation stalls" in TEXT
