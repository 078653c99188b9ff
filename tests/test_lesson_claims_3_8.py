"""Lesson 3.8: every number and formula the text states, checked by running code.

The lesson's program (lessons/programs/lesson_3_8.py) starts in the background when this
module begins (its own process, on the CPU, without the app on the path), and the tests
that read what it prints come last. The formulas and the scale arithmetic are checked
directly with torch.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import textwrap
import tomllib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    assert_says,
    check_stands_alone,
    flat_lesson_text,
    lesson_section,
    lesson_text,
    load_module,
)

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_3_8.py"
RAW = lesson_text("3.8")  # as written, program not expanded
TEXT = flat_lesson_text("3.8")  # line breaks as spaces
LESSON = load_lesson(lesson_path("3.8"))
PARAMETERS = 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def program_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"3.8": PROGRAM}, 180))
    yield
    _runs.pop().stop()


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return load_module(PROGRAM, "lesson_3_8_program")


in_text = partial(assert_says, TEXT)


def fragments() -> list[str]:
    return re.findall(r"```python\n(.*?)```", lesson_section("3.8", "In depth"), re.S)


# ---------------------------------------------------------------- the page


def test_front_matter_is_the_one_the_brief_gives() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert meta["variants"] == ["resume_without_optimizer_state", "schedule_restarted_on_resume"]
    assert meta["baseline"] == {
        "dataset": "digits",
        "lr": 0.003,
        "schedule": "cosine",
        "resume_at": 10,
    }
    assert load_lesson(lesson_path("3.8")).baseline.epochs == 2 * 10  # resumed halfway
    assert (meta["id"], meta["module"], meta["title"]) == (
        "3.8",
        3,
        "The training loop in practice",
    )


def test_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    allowed = {"__future__", "math", "os", "tempfile", "collections", "dataclasses", "pathlib"}
    assert imported <= allowed | {"torch", "sklearn"}
    assert LESSON.programs == (PROGRAM,)
    assert PROGRAM.read_text(encoding="utf-8").rstrip() in LESSON.sections["In depth"]
    before = RAW[: RAW.index("{{program: lessons/programs/lesson_3_8.py}}")]
    assert before.rstrip().endswith(":")
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"


def test_try_it_asks_for_a_prediction_and_quotes_no_numbers() -> None:
    try_it = LESSON.sections["Try it"]
    assert "`resume_without_optimizer_state`" in try_it
    assert "`schedule_restarted_on_resume`" in try_it
    assert try_it.index("Before **Train**") < try_it.index("**One checkpoint, resumed three ways**")
    assert "predict" in try_it and "Decide first" in try_it
    assert not re.search(r"\d[.,]\d", try_it)  # the demo's numbers are not measured yet


def test_summary_is_one_short_paragraph() -> None:
    assert "\n\n" not in LESSON.summary.strip() and len(LESSON.summary.split()) <= 80


def test_the_shown_fragments_are_the_programs_own_lines() -> None:
    # the save and resume fragments are excerpts of the program, so they cannot drift
    program_lines = [line.strip() for line in PROGRAM.read_text(encoding="utf-8").splitlines()]
    joined = "\n".join(program_lines)
    shown = [f for f in fragments() if f.startswith(("handle, temporary", "state = torch.load"))]
    assert len(shown) == 2
    for fragment in shown:
        lines = "\n".join(line.strip() for line in textwrap.dedent(fragment).strip().splitlines())
        assert lines in joined, fragment


def test_the_adam_state_fragment_prints_what_its_comment_says() -> None:
    fragment = next(f for f in fragments() if f.startswith("model = nn.Linear(3, 2)"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(fragment, {"torch": torch, "nn": nn})
    assert printed.getvalue().strip() == "2 ['exp_avg', 'exp_avg_sq', 'step']"
    assert "# 2 ['exp_avg', 'exp_avg_sq', 'step']" in fragment


# ---------------------------------------------------------------- The math


def adam_by_formula(
    theta: torch.Tensor,
    grads: list[torch.Tensor],
    lr: float,
    betas: tuple[float, float],
    eps: float,
) -> torch.Tensor:
    m, v, theta = torch.zeros_like(theta), torch.zeros_like(theta), theta.clone()
    for t, g in enumerate(grads, start=1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g**2
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        theta = theta - lr * m_hat / (v_hat.sqrt() + eps)
    return theta


def test_adams_formulas_are_what_torch_optim_adam_computes() -> None:
    defaults = torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults
    assert defaults["betas"] == (0.9, 0.999) and defaults["eps"] == 1e-8
    in_text("$\\beta_1 = 0.9$, $\\beta_2 = 0.999$: PyTorch's defaults", "$\\epsilon = 10^{-8}$")
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(50, generator=generator)
    grads = [torch.randn(50, generator=generator) for _ in range(30)]
    theta = start.clone().requires_grad_(True)
    adam = torch.optim.Adam([theta], lr=1e-2)
    for g in grads:
        theta.grad = g.clone()
        adam.step()
    by_formula = adam_by_formula(start, grads, 1e-2, (0.9, 0.999), 1e-8)
    assert torch.allclose(theta.detach(), by_formula, atol=1e-6)
    state = adam.state_dict()["state"][0]  # the names the bullets give
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"} and int(state["step"]) == 30


def test_bias_correction_factors_at_step_1_and_226() -> None:
    assert math.isclose(1 - 0.999, 0.001, rel_tol=1e-9)
    assert f"{1 - 0.999**226:.2f}" == "0.20"
    in_text("by $1 - 0.999 = 0.001$", "$1 - 0.999^{226} = 0.20$")


def test_a_fresh_adams_first_step_is_lr_times_the_sign_of_the_gradient() -> None:
    generator = torch.Generator().manual_seed(1)
    g = torch.randn(1000, generator=generator) * torch.logspace(-2, 2, 1000)  # all sizes
    theta = torch.zeros(1000, requires_grad=True)
    theta.grad = g.clone()
    torch.optim.Adam([theta], lr=0.01).step()
    assert torch.allclose(-theta.detach(), 0.01 * g / (g.abs() + 1e-8), atol=1e-9)
    assert torch.allclose(-theta.detach(), 0.01 * torch.sign(g), rtol=1e-3)
    assert "[x] It moves every weight that has a gradient by about the learning rate." in RAW


def test_the_cosine_formula_is_the_programs_schedule(program: ModuleType) -> None:
    factor = program.cosine(450)
    for s in range(450):
        assert factor(s) == pytest.approx(0.5 * (1 + math.cos(math.pi * s / 450)))
    assert factor(0) == 1.0 and factor(225) == pytest.approx(0.5)  # eta_max / 2 halfway
    assert f"{0.01 * factor(449):.2e}" == "1.22e-07"  # the last step, never stopped
    assert f"{0.01 * factor(449 - 225):.2e}" == "5.03e-03"  # restarted: still about half
    assert f"{0.01 * factor(226):.2e}" == "4.97e-03" and f"{0.01 * factor(1):.2e}" == "1.00e-02"
    # the quick check: 1,000 steps, peak 0.01, restarted at step 500
    quick = program.cosine(1000)
    assert abs(0.01 * quick(1) - 0.01) < 1e-6 and abs(0.01 * quick(499) - 0.005) < 5e-5
    assert "[x] It jumps back to about 0.01 and ends the run near 0.005." in RAW


def test_a_fresh_scheduler_after_loading_the_optimizer_uses_the_saved_lr_once(
    program: ModuleType,
) -> None:
    # "The first resumed step still uses the learning rate saved in the optimizer's state;
    # the fresh scheduler's first step() then sets it from its own count"
    model = nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, program.cosine(450))
    for _ in range(225):
        optimizer.step()
        scheduler.step()
    saved = optimizer.state_dict()
    fresh_optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    fresh = torch.optim.lr_scheduler.LambdaLR(fresh_optimizer, program.cosine(450))
    fresh_optimizer.load_state_dict(saved)
    assert fresh_optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    fresh_optimizer.step()
    fresh.step()
    assert fresh_optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * program.cosine(450)(1))


def test_bytes_per_value_and_adams_state_per_parameter() -> None:
    assert torch.tensor(0.0, dtype=torch.bfloat16).element_size() == 2
    assert torch.tensor(0.0, dtype=torch.float32).element_size() == 4
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 64)).sum().backward()
    optimizer.step()
    n = sum(p.numel() for p in model.parameters())
    moments = sum(
        s[k].numel() * s[k].element_size()
        for s in optimizer.state.values()
        for k in ("exp_avg", "exp_avg_sq")
    )
    assert moments == 8 * n  # two float32 moments per parameter
    assert 2 + 4 + 8 == 14 and 14 + 2 == 16
    in_text("$b = 14$ in a full checkpoint, 16 in memory while training")


def test_the_70_billion_parameter_checkpoint_arithmetic() -> None:
    n = 70e9
    assert 2 * n == 140e9 and 12 * n == 840e9 and 14 * n == 980e9 and 16 * n == 1.12e12
    assert f"{16 * n / 1024 / 1e9:.2f}" == "1.09"
    in_text(
        "the bfloat16 weights alone take $2 \\cdot N$ = 140 GB",
        "$12 \\cdot N$ = 840 GB",
        "$14 \\cdot N$ = 980 GB, about 1 TB",
        "$16 \\cdot N$ = 1.12 TB",
        "over 1,024 GPUs, 1.12 TB becomes 1.09 GB each",
        "about 1 TB for 70 billion parameters",
    )
    # the quick check: 7e9 parameters at 14 bytes, and the weights alone at 2
    assert 14 * 7e9 == 9.8e10 == 98e9 and 2 * 7e9 == 14e9
    assert "- [x] 98 GB" in RAW and "The weights alone are 14 GB." in TEXT
    expect = [e.expect for e in LESSON.exercises][2]
    assert expect == "70e9 parameters: 140 GB of bfloat16 weights, 980 GB with Adam"


def test_training_compute_and_the_calendar() -> None:
    c = 6 * 7e10 * 2e12
    assert math.isclose(c, 8.4e23)
    seconds = c / (1024 * 4e14)
    assert f"{seconds:.2e}" == "2.05e+06" and round(seconds / 86400) == 24
    in_text(
        "$6 \\cdot 7 \\cdot 10^{10} \\cdot 2 \\cdot 10^{12} = 8.4 \\cdot 10^{23}$",
        "$2.05 \\cdot 10^{6}$ seconds: about 24 days",
    )
    # the typical public ranges the table gives, and the example inside them
    assert 1e9 <= 7e10 <= 1e12 and 1e9 <= 70e9 <= 1e12
    assert 1e12 <= 2e12 <= 1e13 and 1e3 <= 1024 <= 1e4 and 7 <= seconds / 86400 <= 60
    in_text(
        "| parameters | 17,226 | $10^{9}$ to $10^{12}$ |",
        "| training examples | 1,437 digits | $10^{12}$ to $10^{13}$ tokens |",
        "| hardware | one CPU core | $10^{3}$ to $10^{4}$ GPUs |",
        "| time | seconds | weeks to months |",
        "Typical public figures, as orders of magnitude",
    )


def test_six_n_d_two_per_parameter_forward_and_twice_that_backward() -> None:
    # "about 2 operations per parameter per token forward, and about twice that backward"
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    weights = sum(m.weight.numel() for m in model if isinstance(m, nn.Linear))
    batch = torch.randn(32, 64, requires_grad=True)  # a layer inside a deep net needs both
    with FlopCounterMode(display=False) as forward:
        out = model(batch).sum()
    with FlopCounterMode(display=False) as backward:
        out.backward()
    assert forward.get_total_flops() == 2 * 32 * weights
    assert backward.get_total_flops() == 2 * forward.get_total_flops()
    assert weights / PARAMETERS > 0.98  # the biases barely count
    in_text("$6$: about 2 operations per parameter per token forward")


# ---------------------------------------------------------------- saving and loading


def test_an_atomic_save_that_crashes_leaves_the_old_checkpoint(
    program: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = program.Config()
    loop = program.new_loop(config, 450, torch.device("cpu"))
    path = tmp_path / "checkpoint.pt"
    program.save_checkpoint(loop, config, path)
    saved = torch.load(path, weights_only=True)
    assert list(saved) == [
        "model",
        "optimizer",
        "scheduler",
        "epoch",
        "step",
        "shuffle_rng",
        "torch_rng",
        "config",
    ]

    def power_cut(state: Any, target: Any) -> None:
        Path(target).write_bytes(b"half a file")
        raise OSError("power cut")

    monkeypatch.setattr(program.torch, "save", power_cut)
    loop.step = 999
    with pytest.raises(OSError, match="power cut"):
        program.save_checkpoint(loop, config, path)
    assert torch.load(path, weights_only=True)["step"] == 0  # the old one, whole
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary left


class _CallsOnLoad:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("this ran while loading",))


def test_weights_only_refuses_a_pickle_that_calls_a_function(tmp_path: Path) -> None:
    path = tmp_path / "upload.pt"
    torch.save({"weights": torch.ones(2), "gift": _CallsOnLoad()}, path)
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(path, weights_only=True)
    torch.save({"weights": torch.ones(2), "step": 3, "names": ["a"]}, path)
    assert torch.load(path, weights_only=True)["names"] == ["a"]  # plain data is fine


# ---------------------------------------------------------------- the program's output


def program_output() -> str:
    return _runs[-1].output("3.8")


def rows(output: str, title: str) -> dict[str, list[str]]:
    """The named rows printed under the line that starts with title."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    found = {}
    for line in lines[start + 1 :]:
        match = re.match(r"^  (never stopped|everything|weights only|schedule at 0) +(.*)$", line)
        if not match:
            break
        found[match.group(1)] = match.group(2).split()
    return found


def test_program_prints_the_setup_and_the_checkpoint_the_lesson_describes() -> None:
    out = program_output()
    assert "1437 train / 360 val digits, 45 steps per epoch, 450 steps in 10 epochs" in out
    assert math.ceil(1437 / 32) == 45 and 10 * 45 == 450 and 5 * 45 == 225
    assert "model: 17,226 weights and biases in 6 tensors" in out and PARAMETERS == 17_226
    assert "= 34,452 values (2x the weights), step count [225]" in out
    assert "scheduler: last_epoch 225" in out and "epoch 5, step 225, seed 0" in out
    assert "checkpoint keys: model, optimizer, scheduler, epoch, step, shuffle_rng" in out
    in_text(
        "for 10 epochs of 45 batches of up to 32, 450 steps",
        "a peak learning rate of 0.01",
        "at the end of epoch 5, step 225 of 450",
        "17,226 weights and biases in 6 tensors",
        "34,452 values, 2x the weights, with step count 225",
    )


def test_program_the_full_resume_matches_to_the_last_bit() -> None:
    found = rows(program_output(), "steps 225 to 449")
    assert found["everything"][:4] == ["largest", "loss", "difference", "0,"]
    assert found["everything"][-1] == "True"
    assert found["weights only"][-1] == "False" and found["schedule at 0"][-1] == "False"
    in_text(
        "the largest loss difference from the uninterrupted run is 0, and the final weights "
        "are identical"
    )
    end = rows(program_output(), "at the end")
    assert end["everything"] == end["never stopped"]


def test_program_learning_rates_before_and_after_the_resume() -> None:
    out = program_output()
    assert "step 0 1.00e-02, step 224 5.03e-03" in out
    lrs = rows(out, "learning rate at steps 225, 226, 227 and 449")
    assert lrs["never stopped"] == ["5.00e-03", "4.97e-03", "4.93e-03", "1.22e-07"]
    assert lrs["everything"] == lrs["weights only"] == lrs["never stopped"]
    assert lrs["schedule at 0"] == ["5.00e-03", "1.00e-02", "1.00e-02", "5.03e-03"]
    in_text(
        "the learning rate is set right, 5.00e-03,",
        "the learning rate saved in the optimizer's state, 5.00e-03;",
        "at step 226 it is back at the peak, 1.00e-02, where the uninterrupted run has 4.97e-03",
        "its last step uses 5.03e-03 instead of 1.22e-07",
    )


def test_program_a_fresh_adam_moves_each_weight_by_about_the_lr() -> None:
    found = rows(program_output(), "first step after the resume")
    assert found["everything"][:7] == ["0.069", "over", "all", "weights,", "0.090", "over", "the"]
    assert found["weights only"][:7] == ["0.747", "over", "all", "weights,", "0.979", "over", "the"]
    pushed = int(found["weights only"][7].replace(",", ""))
    assert pushed == int(found["everything"][7].replace(",", "")) == 13_154
    assert PARAMETERS - pushed == 4_072
    assert pytest.approx(0.979 * pushed / PARAMETERS, abs=0.001) == 0.747  # the rest don't move
    assert abs(0.979 - 1) < 0.05 and 0.979 / 0.090 > 10
    in_text(
        "0.979 of the learning rate on average, against 0.090 for the run that kept its state",
        "The other 4,072 of the 17,226 weights get a gradient of exactly 0",
        "over all weights the means are 0.747 and 0.069",
    )


def test_program_loss_windows_after_the_resume() -> None:
    windows = rows(program_output(), "mean batch loss over windows of 15 steps from step 225")
    never, weights_only, restarted = (
        [float(v) for v in windows[name][:3]]
        for name in ("never stopped", "weights only", "schedule at 0")
    )
    assert windows["everything"] == windows["never stopped"]
    for steps, a, b in zip(("225-239", "240-254", "255-269"), never, weights_only, strict=True):
        assert f"| {steps} | {a:.4f} | {b:.4f} |" in TEXT
    assert all(1.8 < b / a < 2.5 for a, b in zip(never[1:], weights_only[1:], strict=True))
    in_text("Within a few dozen steps the loss is about twice the uninterrupted run's")
    assert all(b > a for a, b in zip(never, restarted, strict=True))  # "The loss climbs"
    assert restarted == sorted(restarted) and 5.5 < restarted[2] / never[2] < 6.5
    in_text(
        f"The loss climbs: {restarted[0]:.4f}, {restarted[1]:.4f}, {restarted[2]:.4f}",
        f"about six times the uninterrupted run's {never[2]:.4f}",
    )


def test_program_how_each_run_ends() -> None:
    end = {
        name: [float(v) for v in values]
        for name, values in rows(program_output(), "at the end").items()
    }
    never, weights_only, restarted = end["never stopped"], end["weights only"], end["schedule at 0"]
    assert never == [0.0025, 0.0761, 0.983]
    assert weights_only[2] == never[2] == 0.983 and weights_only[1] == 0.0904 > never[1]
    assert restarted == [0.0171, 0.1319, 0.969]
    in_text(
        "the run ends at the same val accuracy, 0.983, with a slightly higher val loss "
        "(0.0904 against 0.0761)",
        "It ends with train loss 0.0171 against 0.0025, and val accuracy 0.969 against 0.983",
    )
