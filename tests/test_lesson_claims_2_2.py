"""Lesson 2.2: every number and formula the text states, checked by running code.

The lesson's program (lessons/programs/lesson_2_2.py) starts in the background when this
module begins (its own process, on the CPU) and is read back by the tests at the end, which
compare what it prints with what the lesson quotes. The other tests recompute each claim:
the worked example's forward values and gradients, the chain-rule formulas on random
networks, the FLOP counts against PyTorch's own counter, and what .detach() does.
"""

from __future__ import annotations

import math
import re
import tomllib
import warnings
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from engine.config import default_config
from lessons.lesson_file import PROGRAM, lesson_path, load_lesson
from tests.lesson_programs import BackgroundPrograms, check_stands_alone, lesson_section
from tests.lesson_programs import load_module as import_file

ROOT = Path(__file__).resolve().parent.parent
PROGRAM_PATH = ROOT / "lessons" / "programs" / "lesson_2_2.py"
SOLUTIONS = ROOT / "lessons" / "solutions"
RAW = lesson_path("2.2").read_text(encoding="utf-8")  # as written, the program not expanded
FLAT = " ".join(RAW.split())
LESSON = load_lesson(lesson_path("2.2"))
SIX = r"-?\d+\.\d{6}"  # a number quoted to 6 decimals


section = partial(lesson_section, "2.2")


PROG = import_file(PROGRAM_PATH, "lesson_2_2_program")


def subsection(heading: str) -> str:
    match = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^##|\Z)", RAW, re.M | re.S)
    assert match, heading
    return match.group(1)


def fragment(marker: str) -> str:
    """The one Python fragment of In depth that contains `marker`."""
    found = [
        b for b in re.findall(r"```python\n(.*?)```", section("In depth"), re.S) if marker in b
    ]
    assert len(found) == 1, marker
    return found[0]


def worked_example(stray_detach: bool = False) -> tuple[Any, Tensor, Tensor]:
    """The program's TinyNet and data in float64, as the program runs them."""
    model = PROG.TinyNet(stray_detach)
    assert model.fc1.weight.dtype == torch.float64
    x = torch.tensor(PROG.X, dtype=torch.float64)
    y = torch.tensor(PROG.Y, dtype=torch.float64)
    return model, x, y


def run_worked_example(stray_detach: bool = False) -> tuple[Any, dict[str, Tensor], Tensor]:
    model, x, y = worked_example(stray_detach)
    nodes, loss = PROG.forward_and_backward(model, x, y)
    return model, nodes, loss


# --- the program runs in the background while the other tests do ------------------------


_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def program_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"2.2": PROGRAM_PATH}, timeout_s=60))
    yield
    _runs.pop().stop()


def program_output() -> str:
    return _runs[-1].output("2.2")


# --- the worked example -------------------------------------------------------------------


def stated_inputs() -> dict[str, list[float]]:
    """The numbers the In depth section gives for x, y, W1, b1, w2, b2."""
    pair = r"\((-?[\d.]+), (-?[\d.]+)\)"
    match = re.search(
        rf"Take \$\\mathbf{{x}} = {pair}\$, \$y = ([\d.]+)\$, \$W_1\$ with rows \${pair}\$ "
        rf"and \${pair}\$, \$\\mathbf{{b}}_1 = {pair}\$, \$\\mathbf{{w}}_2 = {pair}\$ and "
        r"\$b_2 = ([\d.]+)\$",
        FLAT,
    )
    assert match, "the worked example's numbers are not where the test expects them"
    v = [float(g) for g in match.groups()]
    return {"x": v[0:2], "y": [v[2]], "W1": v[3:7], "b1": v[7:9], "w2": v[9:11], "b2": [v[11]]}


def test_the_stated_numbers_are_the_programs() -> None:
    stated = stated_inputs()
    assert stated["x"] == PROG.X[0] and stated["y"] == PROG.Y[0]
    assert stated["W1"] == [*PROG.FC1_WEIGHT[0], *PROG.FC1_WEIGHT[1]]
    assert stated["b1"] == PROG.FC1_BIAS
    assert stated["w2"] == PROG.OUT_WEIGHT[0] and stated["b2"] == PROG.OUT_BIAS


def test_forward_values_by_arithmetic() -> None:
    # "z_1 = 0.4 * 0.5 + (-0.6)(-1) + 0.1 = 0.9 and z_2 = 0.15 - 0.8 - 0.2 = -0.85, so
    # h = (0.710950, 0.299433), y_hat = 0.9 * 0.710950 - 0.5 * 0.299433 + 0.3 = 0.790138
    # and L = (0.790138 - 1)^2 = 0.044042."
    s = stated_inputs()
    x = torch.tensor(s["x"], dtype=torch.float64)
    w1 = torch.tensor(s["W1"], dtype=torch.float64).reshape(2, 2)
    z = w1 @ x + torch.tensor(s["b1"], dtype=torch.float64)
    assert math.isclose(0.4 * 0.5 + (-0.6) * (-1) + 0.1, 0.9) and math.isclose(z[0], 0.9)
    assert math.isclose(0.3 * 0.5 - 0.8 - 0.2, -0.85) and math.isclose(z[1], -0.85)
    h = torch.sigmoid(z)
    y_hat = torch.tensor(s["w2"], dtype=torch.float64) @ h + s["b2"][0]
    loss = (y_hat - s["y"][0]) ** 2
    assert f"{h[0]:.6f}, {h[1]:.6f}" == "0.710950, 0.299433"
    assert f"{y_hat:.6f}" == "0.790138" and f"{loss:.6f}" == "0.044042"
    assert math.isclose(0.9 * 0.710950 - 0.5 * 0.299433 + 0.3, 0.790138, abs_tol=1e-6)
    assert math.isclose((0.790138 - 1) ** 2, 0.044042, abs_tol=1e-6)
    for quoted in (
        "$z_1 = 0.4 \\cdot 0.5 + (-0.6)(-1) + 0.1 = 0.9$",
        "$z_2 = 0.15 - 0.8 - 0.2 = -0.85$",
        "$\\mathbf{h} = (0.710950, 0.299433)$",
        "0.5 \\cdot 0.299433 + 0.3 = 0.790138$",
        "$L = (0.790138 - 1)^2 = 0.044042$",
    ):
        assert quoted in FLAT, quoted


TABLE_ROWS = ("y_hat", "out.weight", "out.bias", "h1", "z1", "fc1.weight", "fc1.bias")


def table_gradients() -> dict[str, list[float]]:
    """The last column of the backward table, row by row."""
    rows = [
        line for line in subsection("Backward, one node at a time").splitlines()
        if line.startswith("| $")
    ]  # fmt: skip
    assert len(rows) == len(TABLE_ROWS)
    return {
        name: [float(v) for v in re.findall(SIX, row.split("|")[-2])]
        for name, row in zip(TABLE_ROWS, rows, strict=True)
    }


def test_backward_table_is_what_autograd_fills_in() -> None:
    model, nodes, loss = run_worked_example()
    auto = PROG.autograd_gradients(model, nodes, loss)
    for name, quoted in table_gradients().items():
        exact = auto[name].flatten().tolist()
        assert len(quoted) == len(exact), name
        for q, e in zip(quoted, exact, strict=True):
            assert abs(q - e) < 5.1e-7, (name, q, e)  # rounded honestly to 6 decimals


def test_hand_gradients_match_autograd_to_rounding() -> None:
    # "The largest difference is 1.4 * 10^-17: rounding in the last digit."
    model, x, y = worked_example()
    nodes, loss = PROG.forward_and_backward(model, x, y)
    hand = PROG.hand_gradients(model, x, y, nodes)
    auto = PROG.autograd_gradients(model, nodes, loss)
    largest = max((hand[k] - auto[k]).abs().max().item() for k in hand)
    assert largest < 1e-15
    assert "The largest difference is $1.4 \\cdot 10^{-17}$" in FLAT


def chain_rule_by_the_formulas(
    x: Tensor, y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor
) -> dict[str, Tensor]:
    """The Math section's backward equations, written out directly."""
    z = w1 @ x + b1
    h = torch.sigmoid(z)
    y_hat = w2 @ h + b2
    d_y_hat = 2 * (y_hat - y)
    d_h = d_y_hat * w2
    d_z = d_h * h * (1 - h)
    return {
        "y_hat": d_y_hat,
        "w2": d_y_hat * h,
        "b2": d_y_hat,
        "h": d_h,
        "z": d_z,
        "W1": torch.outer(d_z, x),
        "b1": d_z,
    }


@pytest.mark.parametrize("seed", range(5))
def test_the_math_sections_backward_equations_on_random_networks(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    tensors = [torch.randn(shape, generator=generator, dtype=torch.float64)
               for shape in ((2,), (), (2, 2), (2,), (2,), ())]  # fmt: skip
    x, y, w1, b1, w2, b2 = tensors
    params = {"W1": w1, "b1": b1, "w2": w2, "b2": b2}
    for p in params.values():
        p.requires_grad_(True)
    z = w1 @ x + b1
    h = torch.sigmoid(z)
    y_hat = w2 @ h + b2
    for node in (z, h, y_hat):
        node.retain_grad()
    ((y_hat - y) ** 2).backward()
    auto = {"y_hat": y_hat.grad, "h": h.grad, "z": z.grad}
    auto |= {name: p.grad for name, p in params.items()}
    with torch.no_grad():
        by_formula = chain_rule_by_the_formulas(x, y, w1, b1, w2, b2)
    for name, value in by_formula.items():
        assert torch.allclose(value, auto[name], rtol=0, atol=1e-14), name
    math_text = " ".join(section("The math").split())
    for formula in (
        "\\frac{\\partial L}{\\partial \\hat y} = 2(\\hat y - y)",
        "\\frac{\\partial L}{\\partial \\mathbf{w}_2} = \\frac{\\partial L}{\\partial \\hat y}\\, "
        "\\mathbf{h}",
        "\\frac{\\partial L}{\\partial b_2} = \\frac{\\partial L}{\\partial \\hat y},",
        "\\frac{\\partial L}{\\partial \\mathbf{h}} = \\frac{\\partial L}{\\partial \\hat y}\\, "
        "\\mathbf{w}_2",
        "\\frac{\\partial L}{\\partial \\mathbf{z}} = \\frac{\\partial L}{\\partial \\mathbf{h}} "
        "\\odot \\mathbf{h} \\odot (1 - \\mathbf{h})",
        "\\frac{\\partial L}{\\partial W_1} = \\frac{\\partial L}{\\partial \\mathbf{z}}\\, "
        "\\mathbf{x}^\\top",
        "\\frac{\\partial L}{\\partial \\mathbf{b}_1} = \\frac{\\partial L}{\\partial \\mathbf{z}}",
    ):
        assert formula in math_text, formula


def test_the_chain_rule_sums_over_every_node_that_uses_u() -> None:
    # dL/du = sum over v that use u of dL/dv * dv/du: a node used twice gets both shares.
    u = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    v1, v2 = torch.sin(u), u**2
    for v in (v1, v2):
        v.retain_grad()
    loss = v1 * v2 + 3 * v2
    loss.backward()
    by_rule = v1.grad * torch.cos(u) + v2.grad * 2 * u
    assert torch.allclose(u.grad, by_rule.detach(), rtol=0, atol=1e-15)
    assert "\\sum_{v \\,\\text{uses}\\, u}" in section("The math")


def test_local_derivatives_of_sigmoid_and_relu() -> None:
    # sigma'(z) = sigma(z)(1 - sigma(z)), never above 0.25; the example's two are 0.205500
    # and 0.209773, "about fivefold" smaller; a ReLU's is 1 where z > 0 and 0 where z < 0.
    z = torch.linspace(-8, 8, 1601, dtype=torch.float64, requires_grad=True)
    torch.sigmoid(z).sum().backward()
    s = torch.sigmoid(z.detach())
    assert torch.allclose(s, 1 / (1 + torch.exp(-z.detach())), rtol=0, atol=1e-15)
    assert "$\\sigma(z) = 1/(1 + e^{-z})$" in FLAT
    assert torch.allclose(z.grad, s * (1 - s), rtol=0, atol=1e-15)
    assert z.grad.max().item() <= 0.25 and math.isclose(z.grad.max().item(), 0.25)
    h = torch.sigmoid(torch.tensor([0.9, -0.85], dtype=torch.float64))
    local = h * (1 - h)
    assert f"{local[0]:.6f}, {local[1]:.6f}" == "0.205500, 0.209773"
    assert f"{1 - h[0]:.6f}, {1 - h[1]:.6f}" == "0.289050, 0.700567"
    assert all(4.5 < 1 / v < 5.5 for v in local.tolist())
    assert "$0.710950 \\cdot 0.289050 = 0.205500$" in FLAT
    assert "$0.299433 \\cdot 0.700567 = 0.209773$" in FLAT
    assert "shrinks the gradient about fivefold" in FLAT and "never exceeds $0.25$" in FLAT
    r = torch.tensor([-2.0, -0.1, 0.1, 3.0], requires_grad=True)
    torch.relu(r).sum().backward()
    assert r.grad.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert "A ReLU's is 1 where $z > 0$, 0 where $z < 0$" in FLAT


# --- what loss.backward() fills in, and the graph -----------------------------------------


def test_only_leaves_keep_grad_unless_retain_grad() -> None:
    model, x, y = worked_example()
    z1 = model.fc1(x)
    loss = nn.functional.mse_loss(model.out(model.act1(z1)), y)
    loss.backward()
    assert model.fc1.weight.is_leaf and model.fc1.weight.grad is not None
    assert not z1.is_leaf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert z1.grad is None
    assert any("not a leaf" in str(w.message) for w in caught)  # "with a warning"
    assert "(`z1.is_leaf` is `False`)" in FLAT and "`z1.grad` is `None`, with a warning" in FLAT


def test_retain_grad_fragment_prints_a_parameter_and_an_in_between_gradient() -> None:
    model, x, y = worked_example()
    printed: list[tuple[Any, ...]] = []
    namespace = {"model": model, "x": x, "y": y, "nn": nn, "print": lambda *a: printed.append(a)}
    exec(fragment("retain_grad()"), namespace)
    fc1_grad, z1_grad = printed[0]
    reference, nodes, loss = run_worked_example()
    assert torch.allclose(fc1_grad, reference.fc1.weight.grad, rtol=0, atol=1e-15)
    assert torch.allclose(z1_grad, nodes["z1"].grad, rtol=0, atol=1e-15)


def test_forward_fragment_is_the_programs_forward() -> None:
    namespace: dict[str, Any] = {"torch": torch}
    exec(fragment("def forward"), namespace)
    model, x, _ = worked_example()
    shown, real = namespace["forward"](model, x), model(x)
    for name in ("z1", "h1", "y_hat"):
        assert torch.equal(shown[name], real[name])
    for line in fragment("def forward").splitlines()[1:4]:
        assert line.strip() in PROGRAM_PATH.read_text(encoding="utf-8")  # same lines


def graph_block(text: str) -> list[str]:
    match = re.search(r"```text\n(.*?)```", text, re.S)
    assert match
    return match.group(1).rstrip().splitlines()


def test_the_graph_shown_is_the_one_autograd_builds() -> None:
    # The text block equals the healthy tree the program prints from loss.grad_fn.
    _, _, loss = run_worked_example()
    model, _, _ = worked_example()
    assert type(loss.grad_fn).__name__ == "MseLossBackward0"
    shown = graph_block(subsection("The graph that backward walks"))
    stdout = program_output()
    tree = stdout.split("the graph from loss.grad_fn:\n")[1].split("with a stray")[0]
    assert [line[2:] for line in tree.rstrip().splitlines()] == shown
    assert sum("(no gradient: stop)" in line for line in shown) == 2  # "The two stops"
    fc1_node = loss.grad_fn.next_functions[0][0].next_functions[1][0].next_functions[0][0]
    assert type(fc1_node).__name__ == "AddmmBackward0"
    assert fc1_node.next_functions[1][0] is None  # x needs no gradient
    assert loss.grad_fn.next_functions[1][0] is None  # nor does the target y


def test_accumulate_grad_adds_into_grad() -> None:
    # "AccumulateGrad adds a leaf's gradient into its .grad": two backward passes, twice.
    model, x, y = worked_example()
    for _ in range(2):
        nn.functional.mse_loss(model(x)["y_hat"], y).backward()
    reference = run_worked_example()
    assert torch.allclose(model.fc1.weight.grad, 2 * reference[0].fc1.weight.grad, atol=1e-15)


def test_a_linear_node_keeps_its_input_and_a_second_backward_raises() -> None:
    model, x, y = worked_example()
    z1 = model.fc1(x)
    assert torch.equal(z1.grad_fn._saved_mat1, x)  # kept for Delta^T X
    loss = nn.functional.mse_loss(model.out(model.act1(z1)), y)
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


# --- the cost -------------------------------------------------------------------------------


def flops(model: nn.Module, inputs: Tensor, labels: Tensor) -> tuple[int, int]:
    with FlopCounterMode(display=False) as forward:
        loss = nn.functional.cross_entropy(model(inputs), labels)
    with FlopCounterMode(display=False) as backward:
        loss.backward()
    return forward.get_total_flops(), backward.get_total_flops()


class DigitsMLP(nn.Module):
    def __init__(self, stray_detach: bool) -> None:
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(64, 128), nn.Linear(128, 64), nn.Linear(64, 10)
        self.stray_detach = stray_detach

    def forward(self, x: Tensor) -> Tensor:
        h1 = torch.relu(self.fc1(x))
        if self.stray_detach:
            h1 = h1.detach()
        return self.out(torch.relu(self.fc2(h1)))


def test_one_layers_backward_is_two_multiplies_of_the_forwards_size() -> None:
    # dL/dW = Delta^T X and dL/dX = Delta W each cost 2 B n_in n_out, like Z = X W^T.
    batch, n_in, n_out = 16, 24, 40
    layer = nn.Linear(n_in, n_out)
    inputs = torch.randn(batch, n_in, requires_grad=True)
    forward, backward = flops(layer, inputs, torch.randint(0, n_out, (batch,)))
    assert forward == 2 * batch * n_in * n_out and backward == 2 * forward
    assert "$2 B\\, n_{\\text{in}} n_{\\text{out}}$" in section("The math")


def test_digits_mlp_flops_match_pytorchs_counter_and_the_text() -> None:
    torch.manual_seed(0)
    inputs, labels = torch.randn(32, 64), torch.randint(0, 10, (32,))
    healthy = flops(DigitsMLP(False), inputs, labels)
    broken = flops(DigitsMLP(True), inputs, labels)
    assert healthy == PROG.count_flops(False) == (1_089_536, 1_654_784)
    assert broken == PROG.count_flops(True) == (1_089_536, 606_208)
    assert 2 * 32 * (64 * 128 + 128 * 64 + 64 * 10) == 1_089_536
    assert f"{healthy[1] / healthy[0]:.2f}" == "1.52" and f"{broken[1] / broken[0]:.2f}" == "0.56"
    share = 64 * 128 / (64 * 128 + 128 * 64 + 64 * 10)
    assert 0.45 < share < 0.5  # "fc1 is almost half this small network's work"
    for quoted in (
        "$2 \\cdot 32 \\cdot (64 \\cdot 128 + 128 \\cdot 64 + 64 \\cdot 10) = 1{,}089{,}536$",
        "That gives 1,654,784 FLOPs, 1.52× the forward",
        "`fc1` is almost half this small network's work",
        "606,208 FLOPs for the digits MLP, 0.56× the forward",
    ):
        assert quoted in FLAT, quoted


def test_in_a_deep_network_the_ratio_nears_two() -> None:
    # "In a deep network the first layer is a small share and the ratio nears 2, so a
    # training step costs about three forward passes."
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(64, 256)]
    for _ in range(10):
        layers += [nn.ReLU(), nn.Linear(256, 256)]
    forward, backward = flops(
        nn.Sequential(*layers), torch.randn(32, 64), torch.randint(0, 256, (32,))
    )
    assert 1.9 < backward / forward < 2.0
    assert 2.9 < 1 + backward / forward <= 3.0
    assert "the ratio nears 2, so a training step costs about three forward passes" in FLAT


# --- detach ----------------------------------------------------------------------------------


def test_detach_shares_memory_and_drops_history() -> None:
    model, x, _ = worked_example()
    h1 = model(x)["h1"]
    d = h1.detach()
    assert d.data_ptr() == h1.data_ptr() and torch.equal(d, h1)
    assert h1.requires_grad and not d.requires_grad and d.grad_fn is None
    assert "(sharing `t`'s memory)" in FLAT
    assert "`requires_grad` is `False`, `grad_fn` is `None`" in FLAT


def test_the_three_good_uses_of_detach() -> None:
    torch.manual_seed(0)
    teacher, frozen_body, head = nn.Linear(3, 2), nn.Linear(3, 4), nn.Linear(4, 2)
    student = nn.Linear(3, 2)
    x = torch.randn(5, 3)
    loss = nn.functional.mse_loss(student(x), teacher(x))
    history: list[Tensor] = []
    namespace = {"teacher": teacher, "frozen_body": frozen_body, "x": x, "loss": loss}
    namespace["history"] = history
    exec(fragment("teacher(x).detach()"), namespace)
    target, features = namespace["target"], namespace["features"]
    assert loss.grad_fn is not None  # the loss kept as is holds on to its graph
    assert history[0].grad_fn is None and math.isclose(history[0].item(), loss.item())
    # a target: the loss moves the student, never the teacher that made the target
    nn.functional.mse_loss(student(x), target).backward()
    assert student.weight.grad is not None and teacher.weight.grad is None
    # frozen features: only the head on top gets gradients
    nn.functional.mse_loss(head(features), torch.zeros(5, 2)).backward()
    assert head.weight.grad is not None and frozen_body.weight.grad is None


def test_a_stray_detach_leaves_fc1_grad_none_and_out_grad_unchanged() -> None:
    healthy, _, _ = run_worked_example()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Nothing crashes or warns"
        broken, nodes, _ = run_worked_example(stray_detach=True)
    assert nodes["h1"].grad_fn is None and not nodes["h1"].requires_grad
    assert broken.fc1.weight.grad is None and broken.fc1.bias.grad is None
    assert torch.equal(broken.out.weight.grad, healthy.out.weight.grad)
    assert torch.equal(broken.out.bias.grad, healthy.out.bias.grad)
    shown = [f"{v:.6f}" for v in broken.out.weight.grad.flatten().tolist()]
    assert f"$({shown[0]}, {shown[1]})$ with or without the detach" in FLAT


@pytest.mark.parametrize("make", [torch.optim.SGD, torch.optim.Adam])
def test_the_optimizer_skips_parameters_whose_grad_is_none(make: type) -> None:
    # "optimizer.step() skips parameters whose .grad is None, so fc1 keeps its random
    # starting weights forever" -- with weight decay too.
    broken, _, _ = run_worked_example(stray_detach=True)
    before = {n: p.detach().clone() for n, p in broken.named_parameters()}
    optimizer = make(broken.parameters(), lr=0.1, weight_decay=0.01)
    for _ in range(3):
        optimizer.step()
    assert torch.equal(broken.fc1.weight, before["fc1.weight"])
    assert torch.equal(broken.fc1.bias, before["fc1.bias"])
    assert not torch.equal(broken.out.weight, before["out.weight"])


# --- Try it, exercises and quick check ---------------------------------------------------------


def test_front_matter_and_the_baseline_described_in_try_it() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert meta["variants"] == ["stray_detach"] and meta["baseline"] == {"dataset": "digits"}
    config = default_config(**meta["baseline"])
    assert (config.model, config.hidden, config.activation) == ("mlp", (128, 64), "relu")
    assert (config.optimizer, config.lr, config.batch_size, config.epochs) == ("adam", 1e-3, 32, 20)
    try_it = " ".join(section("Try it").split())
    assert (
        "hidden layers of 128 and 64 with ReLU, 10 classes, Adam at lr 1e-3, batch 32, " in try_it
    )
    assert "20 epochs" in try_it and "`h1 = self.act1(self.fc1(x)).detach()`" in try_it
    assert f"{math.log(10):.3f}" == "2.303" and "$\\ln 10 \\approx 2.303$" in try_it
    assert not re.search(r"\d+(\.\d+)?%", try_it)  # no numbers from the demo's runs


def test_exercise_1_relu_gradients_and_the_switched_off_unit() -> None:
    ex1 = import_file(SOLUTIONS / "lesson_2_2_ex1.py", "lesson_2_2_ex1")
    x = torch.tensor(stated_inputs()["x"], dtype=torch.float64)
    y = torch.tensor(1.0, dtype=torch.float64)
    params = ex1.parameters()
    nodes = ex1.forward(params, x, y)
    for name in ("z", "h", "y_hat"):
        nodes[name].retain_grad()
    nodes["loss"].backward()
    hand = ex1.by_hand(params, x, y, nodes)
    assert torch.allclose(hand["W1"], params["W1"].grad, rtol=0, atol=1e-15)
    assert torch.allclose(hand["z"], nodes["z"].grad, rtol=0, atol=1e-15)
    assert nodes["z"][1] < 0 and not params["W1"].grad[1].any() and params["w2"].grad[1] == 0


def test_exercise_2_finds_fc1() -> None:
    ex2 = import_file(SOLUTIONS / "lesson_2_2_ex2.py", "lesson_2_2_ex2")
    x, labels = torch.rand(8, 64), torch.randint(0, 10, (8,))
    assert ex2.layers_without_gradient(ex2.one_backward(True, x, labels)) == ["fc1"]
    assert ex2.layers_without_gradient(ex2.one_backward(False, x, labels)) == []


def test_exercise_3_trains_the_setup_its_prompt_states() -> None:
    ex3 = import_file(SOLUTIONS / "lesson_2_2_ex3.py", "lesson_2_2_ex3")
    assert (ex3.EPOCHS, ex3.BATCH, ex3.LR) == (5, 32, 1e-3)
    assert "for 5 epochs" in FLAT and "(Adam, lr 1e-3, batch 32)" in FLAT
    widths = [
        (m.in_features, m.out_features) for m in ex3.MLP().children() if isinstance(m, nn.Linear)
    ]
    assert widths == [(64, 128), (128, 64), (64, 10)]


def test_quick_check_numbers() -> None:
    # dL/dy_hat = -0.42 times w2 = (0.9, -0.5) is (-0.378, 0.210); (-0.298, -0.126) is dL/dw2.
    assert [round(-0.42 * w, 3) for w in (0.9, -0.5)] == [-0.378, 0.21]
    model, _, _ = run_worked_example()
    d_w2 = [round(v, 3) for v in model.out.weight.grad.flatten().tolist()]
    assert d_w2 == [-0.298, -0.126]
    first = LESSON.questions[0]
    assert first.options[first.correct] == "$(-0.378, 0.210)$"
    assert "$(-0.298, -0.126)$" in first.options
    assert f"{table_gradients()['y_hat'][0]:.2f}" == "-0.42"
    fourth = LESSON.questions[3]
    assert fourth.options[fourth.correct] == "`None`"


# --- the program (last: it has been running in the background) ---------------------------------


QUOTED = [  # (what the lesson says, what the program prints)
    ("$\\mathbf{h} = (0.710950, 0.299433)$", "h1     = [0.710950, 0.299433]"),
    ("= 0.790138$", "y_hat  = [0.790138]"),
    ("= 0.044042$", "loss   = 0.044042"),
    ("| $-0.419724$ |", "dL/d y_hat       [-0.419724]"),
    ("$(-0.298402, -0.125679)$", "dL/d out.weight  [-0.298402, -0.125679]"),
    ("$(-0.377751, 0.209862)$", "dL/d h1          [-0.377751, 0.209862]"),
    ("$(-0.077628, 0.044023)$", "dL/d z1          [-0.077628, 0.044023]"),
    (
        "rows $(-0.038814, 0.077628)$ and $(0.022012, -0.044023)$",
        "dL/d fc1.weight  [-0.038814, 0.077628, 0.022012, -0.044023]",
    ),
    ("$1.4 \\cdot 10^{-17}$", "largest difference, hand vs autograd: 1.4e-17"),
    ("`fc1.weight.grad` stays `None`", "fc1.weight .grad = None"),
    ("$(-0.298402, -0.125679)$ with or without", "out.weight .grad = [-0.298402, -0.125679]"),
    ("1{,}089{,}536$ FLOPs", "healthy      forward 1,089,536  backward 1,654,784  (1.52x"),
    ("606,208 FLOPs for the digits MLP, 0.56×", "backward 606,208  (0.56x the forward)"),
]


def test_program_runs_and_prints_what_the_lesson_quotes() -> None:
    stdout = program_output()
    assert "device: cpu" in stdout
    for in_lesson, printed in QUOTED:
        assert in_lesson in FLAT, f"the lesson no longer says {in_lesson!r}"
        assert printed in stdout, f"the program no longer prints {printed!r}"
    hand_and_auto = re.findall(r"^  dL/d (\S+) +(\[.*?\]) +(\[.*?\])$", stdout, re.M)
    assert len(hand_and_auto) == 8 and all(h == a for _, h, a in hand_and_auto)


def test_program_is_shown_in_depth_standalone_and_typed() -> None:
    assert LESSON.programs == (PROGRAM_PATH,)
    in_depth = section("In depth")
    assert PROGRAM.findall(in_depth) == ["lessons/programs/lesson_2_2.py"]
    before = in_depth.split("{{program: lessons/programs/lesson_2_2.py}}")[0].strip()
    assert before.splitlines()[-1].endswith(":")
    assert check_stands_alone(PROGRAM_PATH) <= {"__future__", "torch"}
