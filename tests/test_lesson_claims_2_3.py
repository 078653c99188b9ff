"""Lesson 2.3: every formula and number the text states, checked by running code.

Each test names the claim it checks. The lesson's complete program starts in the background
when this module begins (one process, on the CPU, without the app on its path) and is
collected by the tests at the end, which compare what it prints with what the lesson quotes.
The other tests import the program's functions and check the math with autograd.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import re
import tomllib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from engine.config import default_config
from engine.models import count_parameters
from engine.training import build_parts
from engine.variants import all_variants, apply_variant
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
PROGRAM = ROOT / "lessons" / "programs" / "lesson_2_3.py"
SOLUTIONS = ROOT / "lessons" / "solutions"
PROGRAM_TIMEOUT_S = 120  # about 3 s alone; the margin is for a busy 2-core machine
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def program_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"2.3": PROGRAM}, PROGRAM_TIMEOUT_S))
    yield
    _runs.pop().stop()


def program_output() -> str:
    return _runs[-1].output("2.3")


raw_text = partial(lesson_text, "2.3")
flat_text = partial(flat_lesson_text, "2.3")
section = partial(lesson_section, "2.3")


def code_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", section("In depth"), re.S)


def block_with(marker: str) -> str:
    found = [block for block in code_blocks() if marker in block]
    assert len(found) == 1, marker
    return found[0]


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return load_module(PROGRAM)


def random_params(generator: torch.Generator, dtype: torch.dtype) -> dict[str, Tensor]:
    shapes = {"w1": (32, 64), "b1": (32,), "w2": (10, 32), "b2": (10,)}
    return {
        name: 0.2 * torch.randn(shape, generator=generator, dtype=dtype)
        for name, shape in shapes.items()
    }


def autograd_gradients(params: dict[str, Tensor], x: Tensor, y: Tensor) -> dict[str, Tensor]:
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    logits = torch.relu(x @ leaves["w1"].T + leaves["b1"]) @ leaves["w2"].T + leaves["b2"]
    nn.functional.cross_entropy(logits, y).backward()
    return {name: leaf.grad for name, leaf in leaves.items()}


# --- the math -------------------------------------------------------------------------------


def test_softmax_and_the_loss_formula_are_what_pytorch_computes(program: ModuleType) -> None:
    # p_ik = e^z_ik / sum_j e^z_ij and L = 1/B sum (log sum_j e^z_ij - z_iy): the program's
    # cross_entropy is exactly nn.functional.cross_entropy and softmax, rows summing to 1.
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 10, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (16,), generator=generator)
    loss, probs = program.cross_entropy(logits, labels)
    assert torch.allclose(loss, nn.functional.cross_entropy(logits, labels), atol=1e-14)
    assert torch.allclose(probs, torch.softmax(logits, dim=1), atol=1e-14)
    assert torch.allclose(probs.sum(dim=1), torch.ones(16, dtype=torch.float64))
    minus_log_p = -torch.log(probs[torch.arange(16), labels])  # the bracket is -log p_iy
    assert torch.allclose(loss, minus_log_p.mean(), atol=1e-14)


def test_gradient_of_cross_entropy_is_p_minus_y_over_b_and_rows_sum_to_zero() -> None:
    # dL/dZ2 = (P - Y) / B; each row of P - Y sums to 0; the right class's entry is negative.
    generator = torch.Generator().manual_seed(1)
    for batch_size in (1, 8, 32):
        logits = torch.randn(batch_size, 10, generator=generator, dtype=torch.float64)
        labels = torch.randint(0, 10, (batch_size,), generator=generator)
        leaf = logits.clone().requires_grad_(True)
        nn.functional.cross_entropy(leaf, labels).backward()
        one_hot = nn.functional.one_hot(labels, 10).double()
        formula = (torch.softmax(logits, dim=1) - one_hot) / batch_size
        assert torch.allclose(leaf.grad, formula, atol=1e-15)
        assert leaf.grad.sum(dim=1).abs().max() < 1e-15
        assert (leaf.grad[torch.arange(batch_size), labels] < 0).all()
    assert "\\frac{\\partial L}{\\partial Z_2} = \\frac{1}{B} (P - Y)" in section("The math")


def test_quick_check_gradient_with_respect_to_the_probability_is_minus_1_over_p() -> None:
    # "-1/p_i3 is the gradient with respect to the probability, not the logits."
    p = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    (-torch.log(p)).backward()
    assert p.grad.item() == pytest.approx(-1 / 0.3)


def test_hand_backward_is_the_layer_rules_and_matches_autograd(program: ModuleType) -> None:
    # dL/dW = (dL/dZ)^T A, dL/db = the sum of the rows, dL/dA = dL/dZ W, and through ReLU
    # dL/dZ1 = dL/dH * [Z1 > 0]: the program's backward, against autograd in float64.
    generator = torch.Generator().manual_seed(2)
    for batch_size in (1, 5, 32):
        params = random_params(generator, torch.float64)
        x = torch.randn(batch_size, 64, generator=generator, dtype=torch.float64)
        y = torch.randint(0, 10, (batch_size,), generator=generator)
        z1, h, z2 = program.forward(params, x)
        _, probs = program.cross_entropy(z2, y)
        by_hand = program.backward(params, x, y, z1, h, probs)
        reference = autograd_gradients(params, x, y)
        for name, grad in by_hand.items():
            assert grad.shape == params[name].shape  # each gradient has its tensor's shape
            assert torch.allclose(grad, reference[name], atol=1e-14), name
    raw = section("The math")
    assert "\\frac{\\partial L}{\\partial W} = \\Big(\\frac{\\partial L}{\\partial Z}\\Big)" in raw
    assert "\\frac{\\partial L}{\\partial H} \\odot [Z_1 > 0]" in raw


def test_forgetting_the_relu_mask_breaks_only_the_hidden_layer(program: ModuleType) -> None:
    # "Forget the mask and the hidden layer's gradients go wrong while the output layer's
    # stay right" -- exercise 2 checks it too; here with the program's own functions.
    generator = torch.Generator().manual_seed(3)
    params = random_params(generator, torch.float64)
    x = torch.randn(16, 64, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 10, (16,), generator=generator)
    z1, h, z2 = program.forward(params, x)
    _, probs = program.cross_entropy(z2, y)
    no_mask = program.backward(params, x, y, torch.ones_like(z1), h, probs)  # z1 > 0 always
    reference = autograd_gradients(params, x, y)
    assert torch.allclose(no_mask["w2"], reference["w2"]) and torch.allclose(
        no_mask["b2"], reference["b2"]
    )
    assert not torch.allclose(no_mask["w1"], reference["w1"], atol=1e-3)
    assert not torch.allclose(no_mask["b1"], reference["b1"], atol=1e-3)


def test_relu_slope_at_zero_is_zero_in_pytorch_and_in_the_mask() -> None:
    # "At exactly z = 0 the ReLU has no slope; PyTorch's own ReLU uses 0 there, and so does
    # z1 > 0"; a True/False tensor multiplies as 1/0.
    z = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    torch.relu(z).sum().backward()
    assert z.grad.tolist() == [0.0, 0.0, 1.0]
    mask = z.detach() > 0
    assert mask.dtype == torch.bool
    assert (torch.tensor([5.0, 5.0, 5.0]) * mask).tolist() == [0.0, 0.0, 5.0]
    assert torch.equal(torch.tensor([-3.0, 0.0, 4.0]).clamp(min=0), torch.tensor([0.0, 0, 4]))


def test_update_rule_and_learning_rate(program: ModuleType) -> None:
    # theta <- theta - eta dL/dtheta with eta = 0.1: one hand-written step is what
    # torch.optim.SGD does with the same gradients.
    assert program.LR == 0.1 and "the learning rate, 0.1 in this lesson" in flat_text()
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(32, 64, generator=generator)
    y = torch.randint(0, 10, (32,), generator=generator)
    torch.manual_seed(0)
    model = program.MLP((64, 32), 10)
    start = program.copy_weights(model)
    batches = [[torch.arange(32)]]
    _, after_hand = program.train_by_hand(start, x, y, batches)
    program.train_module(model, x, y, batches)
    for name, tensor in program.copy_weights(model).items():
        assert torch.allclose(after_hand[name], tensor, atol=1e-6)
        assert not torch.equal(tensor, start[name])


def test_parameter_counts_from_the_layer_sizes(program: ModuleType) -> None:
    # n_in n_out + n_out per layer: 64*32+32 = 2080, 32*10+10 = 330, 2,410 in all; the
    # course's MLP 17,226, of which the output layer is 650 (the other 96% hidden).
    def by_formula(widths: tuple[int, ...]) -> int:
        return sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))

    assert 64 * 32 + 32 == 2080 and 32 * 10 + 10 == 330 and by_formula((64, 32, 10)) == 2410
    for widths, total, output in (((64, 32), 2410, 330), ((64, 128, 64), 17_226, 650)):
        registered = program.MLP(widths, 10)
        unregistered = program.MLP(widths, 10, registered=False)
        assert count_parameters(registered) == by_formula((*widths, 10)) == total
        assert count_parameters(unregistered) == output
    assert 650 / 17_226 < 0.04  # "never sees over 96% of the weights"
    shapes = {name: tuple(t.shape) for name, t in program.copy_weights(registered).items()}
    small = {n: tuple(t.shape) for n, t in program.copy_weights(program.MLP((64, 32), 10)).items()}
    assert small == {"w1": (32, 64), "b1": (32,), "w2": (10, 32), "b2": (10,)}
    assert shapes["w1"] == (128, 64)  # copy_weights takes the first hidden layer
    text = flat_text()
    assert "$64 \\cdot 32 + 32 = 2080$" in text and "$32 \\cdot 10 + 10 = 330$" in text


# --- in depth: the code and what it claims ----------------------------------------------------


def test_the_hand_written_fragments_are_the_programs_own_code() -> None:
    # The forward, cross_entropy and backward shown in the text are the program's functions,
    # character for character, so the page cannot drift from the code that ran.
    source = PROGRAM.read_text(encoding="utf-8")
    for marker in ("def forward(params", "def backward("):
        fragment = block_with(marker).strip()
        for function in re.split(r"\n\n\n", fragment):
            assert function in source, function[:60]
    # "The update is `params[name] -= LR * grads[name]` for each tensor."
    assert "for name in params:" in source and "params[name] -= LR * grads[name]" in source
    assert "The update is `params[name] -= LR * grads[name]` for each tensor." in flat_text()


def test_logsumexp_avoids_the_overflow_of_exp(program: ModuleType) -> None:
    # "In float32, e^z is inf for any z above about 88.7, and one inf makes the loss inf and
    # the softmax nan"; logsumexp subtracts the largest logit first, so it stays finite.
    assert math.log(torch.finfo(torch.float32).max) == pytest.approx(88.7, abs=0.05)
    assert torch.isfinite(torch.exp(torch.tensor(88.7)))
    assert torch.isinf(torch.exp(torch.tensor(88.75)))
    logits = torch.tensor([[100.0, 0.0, -5.0], [1.0, 2.0, 3.0]])
    labels = torch.tensor([0, 2])
    naive_total = torch.exp(logits).sum(dim=1).log()
    naive_loss = (naive_total - logits[torch.arange(2), labels]).mean()
    naive_softmax = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    assert torch.isinf(naive_loss) and torch.isnan(naive_softmax).any()
    loss, probs = program.cross_entropy(logits, labels)
    assert torch.isfinite(loss) and torch.isfinite(probs).all()
    assert loss.item() == pytest.approx(nn.functional.cross_entropy(logits, labels).item())
    shift = torch.logsumexp(logits - logits.max(dim=1, keepdim=True).values, dim=1)
    assert torch.allclose(shift + logits.max(dim=1).values, torch.logsumexp(logits, dim=1))


def test_autograd_adds_into_grad_the_hand_backward_does_not(program: ModuleType) -> None:
    # "call loss.backward() twice on one batch and the gradient doubles"; the hand-written
    # backward returns new tensors every step, so it needs no zero_grad().
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(8, 64, generator=generator)
    y = torch.randint(0, 10, (8,), generator=generator)
    torch.manual_seed(0)
    model = program.MLP((64, 32), 10)
    nn.functional.cross_entropy(model(x), y).backward()
    once = model.out.weight.grad.clone()
    nn.functional.cross_entropy(model(x), y).backward()
    assert torch.allclose(model.out.weight.grad, 2 * once)
    params = program.copy_weights(model)
    z1, h, z2 = program.forward(params, x)
    _, probs = program.cross_entropy(z2, y)
    first = program.backward(params, x, y, z1, h, probs)
    second = program.backward(params, x, y, z1, h, probs)
    assert torch.equal(first["w2"], second["w2"]) and first["w2"] is not second["w2"]
    assert torch.allclose(first["w2"], once, atol=1e-6)
    assert "no_zero_grad" in section("In depth")


def test_the_module_fragment_runs_and_trains_the_same_net() -> None:
    # The nn.Module fragment: 2,410 weights, the four steps, and the loss goes down.
    generator = torch.Generator().manual_seed(6)
    x = torch.randn(64, 64, generator=generator)
    y = torch.randint(0, 10, (64,), generator=generator)
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)] * 10
    torch.manual_seed(0)
    namespace: dict[str, Any] = {"batches": batches}
    code = block_with("class MLP(nn.Module)")
    exec(compile(code, "<lesson fragment>", "exec"), namespace)
    model = namespace["model"]
    assert count_parameters(model) == 2410
    assert isinstance(model.hidden, nn.ModuleList)
    final = nn.functional.cross_entropy(model(x), y).item()
    assert final < math.log(10) - 0.5  # well below the untrained ~ln 10


def test_cross_entropy_loss_takes_logits_and_long_labels_via_log_softmax() -> None:
    # "nn.CrossEntropyLoss takes raw logits [B, 10] and integer labels [B] (dtype long)";
    # autograd reaches (P - Y)/B "through the backward of log-softmax".
    logits = torch.randn(4, 10, requires_grad=True)
    labels = torch.tensor([1, 0, 9, 3])
    assert labels.dtype == torch.long
    loss = nn.CrossEntropyLoss()(logits, labels)
    assert loss.shape == ()
    assert type(loss.grad_fn).__name__ == "NllLossBackward0"
    assert type(loss.grad_fn.next_functions[0][0]).__name__ == "LogSoftmaxBackward0"
    assert "through the backward of log-softmax" in flat_text()


def test_registration_fragment_prints_2080_and_0() -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block_with("registered.hidden"), "<fragment>", "exec"), {"nn": nn})
    assert printed.getvalue().split() == ["2080", "0"]


def test_a_plain_list_is_missed_by_everything_that_walks_the_modules_parts(
    program: ModuleType,
) -> None:
    # parameters(), state_dict(), .to() and .double(), even print(model) miss the layers;
    # forward still uses them; an nn.Parameter, nn.ModuleList, nn.Sequential and
    # nn.ModuleDict are registered.
    torch.manual_seed(0)
    model = program.MLP((64, 32), 10, registered=False)
    assert [name for name, _ in model.named_parameters()] == ["out.weight", "out.bias"]
    assert list(model.state_dict()) == ["out.weight", "out.bias"]
    assert "hidden" not in repr(model) and "in_features=64" not in repr(model)
    model.double()
    assert model.hidden[0].weight.dtype == torch.float32 and model.out.weight.dtype == torch.float64
    model.float().to("meta")  # any other device: the plain list's layer stays behind
    assert model.hidden[0].weight.device.type == "cpu" and model.out.weight.device.type == "meta"

    torch.manual_seed(0)
    model = program.MLP((64, 32), 10, registered=False)
    x = torch.randn(4, 64)
    before = model(x).detach().clone()
    with torch.no_grad():
        model.hidden[0].weight.add_(1.0)
    assert not torch.allclose(model(x), before)  # forward still runs the hidden layer

    holder = nn.Module()
    holder.weight = nn.Parameter(torch.zeros(3))
    holder.blocks = nn.Sequential(nn.Linear(2, 2))
    holder.named = nn.ModuleDict({"a": nn.Linear(2, 1)})
    assert count_parameters(holder) == 3 + 6 + 3
    text = flat_text()
    assert (
        "`nn.ModuleList` (or `nn.Sequential`; for a dictionary of layers, `nn.ModuleDict`)" in text
    )


def test_quick_check_a_plain_list_leaves_the_optimizer_the_output_layer_only() -> None:
    # Q2: hidden = [nn.Linear(64, 128), nn.Linear(128, 64)], out registered: SGD gets
    # only out's weight and bias, no error.
    class Listed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = [nn.Linear(64, 128), nn.Linear(128, 64)]
            self.out = nn.Linear(64, 10)

    model = Listed()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    given = optimizer.param_groups[0]["params"]
    assert len(given) == 2
    assert given[0] is model.out.weight and given[1] is model.out.bias
    with pytest.raises(ValueError, match="empty parameter list"):
        torch.optim.SGD(nn.Module().parameters(), lr=0.1)  # the wrong option's error
    assert "- [x] Only the output layer." in section("Quick check")


def test_why_not_exactly_zero_same_forward_different_rounding_in_backward(
    program: ModuleType,
) -> None:
    # "On the CPU the two forward passes start out bit for bit the same"; "on gradient
    # entries up to about 0.1 the first step's gradients already differ by up to about
    # 1e-8"; float32 resolves about 1 part in 1e7 (1.2e-7), float64 2.2e-16.
    torch.set_num_threads(1)
    x, y = program.digits(torch.device("cpu"), torch.float32)
    torch.manual_seed(program.SEED)
    model = program.MLP((64, program.HIDDEN), 10)
    params = program.copy_weights(model)
    z1, h, z2 = program.forward(params, x)
    assert torch.equal(z2, model(x).detach())
    loss, _ = program.cross_entropy(z2, y)
    assert torch.equal(loss, nn.functional.cross_entropy(model(x), y).detach())

    batch = program.batch_orders(len(x))[0][0]
    xb, yb = x[batch], y[batch]
    z1, h, z2 = program.forward(params, xb)
    _, probs = program.cross_entropy(z2, yb)
    by_hand = program.backward(params, xb, yb, z1, h, probs)
    nn.functional.cross_entropy(model(xb), yb).backward()
    reference = autograd_gradients(params, xb, yb)  # the same values as the module's .grad
    assert torch.equal(reference["w2"], model.out.weight.grad)
    gap = max((by_hand[k] - reference[k]).abs().max().item() for k in by_hand)
    largest = max(g.abs().max().item() for g in reference.values())
    assert 0 < gap < 2e-8 and 0.05 < largest < 0.2

    assert torch.finfo(torch.float32).eps == pytest.approx(1.2e-7, rel=0.01)
    assert torch.finfo(torch.float64).eps == pytest.approx(2.2e-16, rel=0.01)
    text = flat_text()
    assert "$1.2 \\cdot 10^{-7}$" in text and "$2.2 \\cdot 10^{-16}$" in text


def test_a_forgotten_relu_mask_parts_the_curves_by_the_third_step(program: ModuleType) -> None:
    # "with the ReLU mask forgotten in backward, the two losses differ by more than 0.01 by
    # the third step" -- while the correct backward stays within 1e-6 over the same steps.
    torch.set_num_threads(1)
    x, y = program.digits(torch.device("cpu"), torch.float32)
    batches = [program.batch_orders(len(x))[0][:3]]

    correct = program.backward

    def without_mask(params: Any, xb: Tensor, yb: Tensor, z1: Tensor, h: Tensor, p: Tensor) -> Any:
        return correct(params, xb, yb, torch.ones_like(z1), h, p)  # as if every z1 > 0

    def losses(backward_fn: Any) -> list[float]:
        torch.manual_seed(program.SEED)
        start = program.copy_weights(program.MLP((64, program.HIDDEN), 10))
        program.backward = backward_fn  # train_by_hand looks the function up by name
        try:
            return program.train_by_hand(start, x, y, batches)[0]
        finally:
            program.backward = correct

    right, wrong = losses(program.backward), losses(without_mask)
    torch.manual_seed(program.SEED)
    module = program.train_module(program.MLP((64, program.HIDDEN), 10), x, y, batches)
    assert max(abs(a - b) for a, b in zip(right, module, strict=True)) < 1e-6
    assert abs(wrong[2] - module[2]) > 0.01
    assert "differ by more than 0.01 by the third step" in flat_text()


# --- try it: the demo's runs ------------------------------------------------------------------


def test_front_matter_baseline_and_variants() -> None:
    meta = tomllib.loads(raw_text().split("+++")[1])
    assert meta["variants"] == ["unregistered_layers", "no_zero_grad"]
    assert meta["baseline"] == {"dataset": "digits"}
    assert set(meta["variants"]) <= set(all_variants())
    assert load_lesson(lesson_path("2.3")).variants == ("unregistered_layers", "no_zero_grad")


def test_try_it_describes_the_baseline_and_the_broken_runs_truly() -> None:
    # "64 inputs, hidden layers of 128 and 64 units with ReLU, 10 classes, Adam with learning
    # rate 0.001, batches of 32, 20 epochs"; unregistered_layers hands the optimizer the
    # output layer only (650 of 17,226 weights).
    baseline = default_config(**tomllib.loads(raw_text().split("+++")[1])["baseline"])
    assert (baseline.dataset, baseline.model, baseline.hidden) == ("digits", "mlp", (128, 64))
    assert (baseline.activation, baseline.optimizer, baseline.lr) == ("relu", "adam", 1e-3)
    assert (baseline.batch_size, baseline.epochs, baseline.variant) == (32, 20, None)
    healthy = build_parts(baseline)
    broken = build_parts(apply_variant(baseline, "unregistered_layers"))
    assert count_parameters(healthy.model) == 17_226 and count_parameters(broken.model) == 650
    assert healthy.data.n_classes == 10 and math.prod(healthy.data.input_shape) == 64
    try_it = " ".join(section("Try it").split())
    assert "hidden layers of 128 and 64 units with ReLU, 10 classes, Adam with learning " in try_it
    assert "rate 0.001, batches of 32, 20 epochs" in try_it
    assert "?" in try_it and "predict" in try_it  # the learner predicts first
    # no numbers from the demo's runs: only the configuration's own
    assert set(re.findall(r"\d[\d.,]*\d|\d", try_it)) <= {"64", "128", "10", "0.001", "32", "20"}


# --- the exercises say what their solutions do --------------------------------------------------


def test_exercise_prompts_match_their_solutions() -> None:
    ex1 = load_module(SOLUTIONS / "lesson_2_3_ex1.py")
    ex2 = load_module(SOLUTIONS / "lesson_2_3_ex2.py")
    ex3 = load_module(SOLUTIONS / "lesson_2_3_ex3.py")
    prompts = [" ".join(e.prompt.split()) for e in load_lesson(lesson_path("2.3")).exercises]
    assert (ex1.B, ex1.K) == (8, 10) and "for 8 digits and 10 classes" in prompts[0]
    assert (ex2.B, ex2.N_IN, ex2.HIDDEN, ex2.K) == (16, 64, 32, 10)
    assert "64 → 32 → 10" in prompts[1] and "one batch of 16" in prompts[1]
    assert ex3.WIDTHS == (64, 128, 64, 10) and ex3.expected_count() == 17_226
    assert "20 SGD steps" in prompts[2]
    assert ex3.layers_that_moved.__defaults__ == (20,)


# --- the program: standalone, and printing what the lesson quotes -------------------------------


def test_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "math", "torch", "sklearn"}
    source = PROGRAM.read_text(encoding="utf-8")
    main = next(
        node for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "main"
    )  # fmt: skip
    assert "pick_device()" in (ast.get_source_segment(source, main) or "")
    assert ".to(device=device" in source and "with device:" in source
    assert "fetch_" not in source and "download=True" not in source
    lesson = load_lesson(lesson_path("2.3"))
    assert lesson.programs == (PROGRAM,)
    assert source.rstrip() in lesson.sections["In depth"]
    before = raw_text()[: raw_text().index("{{program: lessons/programs/lesson_2_3.py}}")]
    assert before.rstrip().endswith(":")
    assert re.findall(r"^## (.+)$", before, flags=re.M)[-1] == "In depth"


# (what the lesson says, what the program prints), white space flattened in both
QUOTED = [
    ("On 1,797 digits with batches of 32", "1797 digits, net 64 -> 32 -> 10 (ReLU)"),
    ("$\\lceil 1797/32 \\rceil = 57$ steps, 285 in five epochs", "57 steps per epoch, 5 epochs"),
    ("285 in five epochs", "largest difference over all 285 steps"),
    ("The first step's loss is 2.3391", "first step's loss: 2.3391 (ln 10 = 2.3026)"),
    ("$\\ln 10 \\approx 2.303$", "(ln 10 = 2.3026)"),
    (
        "falls from 1.4769968 to 0.4290491, 0.2326614, 0.1650255 and 0.1301011",
        " 1 1.4769968 1.4769968 2 0.4290491 0.4290491 3 0.2326614 0.2326614 "
        "4 0.1650255 0.1650255 5 0.1301011 0.1301011 ",
    ),
    (
        "is 2.4e-07 in float32",
        "0.1301011 largest difference over all 285 steps: 2.4e-07 in the loss,",
    ),
    (
        "and 4.4e-16 in float64",
        "torch.float64: largest difference over all 285 steps: 4.4e-16 in the loss,",
    ),
    ("the same mechanism leaves 4.4e-16", "4.4e-16 in the loss"),
    ("differ by at most 2.4e-07 in loss", "2.4e-07 in the loss"),
    (
        "2,410 weights in 4 tensors with `nn.ModuleList` and 330 in 2 tensors",
        "64 -> 32 -> 10 2,410 in 4 tensors 330 in 2 tensors",
    ),
    ("it is 17,226 against 650", "64 -> 128 -> 64 -> 10 17,226 in 6 tensors 650 in 2 tensors"),
    (
        "largest weight change is 0 in the hidden layer and 0.4136 in the output layer",
        "the largest change of any weight is 0 in the hidden layer, 0.4136 in the output layer",
    ),
    ("its `state_dict` holds only `out.weight` and `out.bias`", "['out.weight', 'out.bias']"),
]


def test_program_runs_and_prints_what_the_lesson_quotes() -> None:
    printed, text = " ".join(program_output().split()), flat_text()
    for in_lesson, in_output in QUOTED:
        assert in_lesson in text, f"the lesson no longer says {in_lesson!r}"
        assert in_output in printed, f"the program no longer prints {in_output!r}"


def test_program_curves_agree_to_rounding_and_the_plain_list_never_moves() -> None:
    stdout = program_output()
    rows = re.findall(r"^ +(\d) +([\d.]+) +([\d.]+)$", stdout, re.M)
    assert [int(epoch) for epoch, _, _ in rows] == [1, 2, 3, 4, 5]
    by_hand = [float(a) for _, a, _ in rows]
    assert all(a == b for _, a, b in rows)  # the same seven decimals in both columns
    assert all(later < earlier for earlier, later in zip(by_hand, by_hand[1:], strict=False))
    first = float(re.search(r"first step's loss: ([\d.]+)", stdout).group(1))
    assert abs(first - math.log(10)) < 0.05 and f"{math.log(10):.3f}" == "2.303"
    assert math.ceil(1797 / 32) == 57 and 5 * 57 == 285
    gaps = [float(v) for v in re.findall(r"steps: ([\d.e+-]+) in the loss", stdout)]
    assert len(gaps) == 2 and 0 < gaps[0] < 1e-5 and gaps[1] < 1e-12  # float32, float64
    weights = [float(v) for v in re.findall(r"^ +([\d.e+-]+) in any weight", stdout, re.M)]
    assert len(weights) == 2 and weights[0] < 1e-5 and weights[1] < 1e-12
    moved = re.search(r"is\s+(\S+) in the hidden layer, ([\d.]+) in the output", stdout)
    assert float(moved.group(1)) == 0.0 and float(moved.group(2)) > 0.1
