"""Lesson 3.4: every number and formula the text states, checked by running code.

Each test names the claim it checks. The lesson's program starts in the background when
this module begins (one process, on the CPU, without the app on the path); the tests that
read what it prints come last. Exercises 1 and 2, whose numbers the text quotes, are
imported and run once in this process (they are small; a process each would cost more).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import tomllib
from collections.abc import Iterator
from functools import cache, partial
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.autograd.functional import jacobian
from torch.nn import functional as F

from engine.config import default_config
from engine.variants import apply_variant, get_variant, healthy_reference
from lessons.lesson_file import lesson_path, load_lesson
from tests.lesson_programs import (
    BackgroundPrograms,
    check_stands_alone,
    lesson_section,
    load_module,
)

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "lessons" / "programs" / "lesson_3_4.py"
SOLUTIONS = ROOT / "lessons" / "solutions"
RAW = lesson_path("3.4").read_text(encoding="utf-8")  # as written, program not expanded
TEXT = " ".join(RAW.split())  # line breaks as spaces
KINDS = ("plain sigmoid", "plain relu", "residual relu", "layer norm relu", "batch norm relu")
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def program_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"3.4": PROGRAM}, 90))
    yield
    _runs.pop().stop()


section = partial(lesson_section, "3.4")


def flat(text: str) -> str:
    return " ".join(text.split())


def code_block(starting: str) -> str:
    """The In depth fragment whose first line starts with this text."""
    blocks = re.findall(r"```python\n(.*?)```", section("In depth"), re.S)
    found = [block for block in blocks if block.startswith(starting)]
    assert len(found) == 1, starting
    return found[0]


def tex(value: float) -> str:
    """A printed 2-digit value as the lesson writes it: 8.1e-17 -> 8.1 \\cdot 10^{-17}."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return mantissa if int(exponent) == 0 else f"{mantissa} \\cdot 10^{{{int(exponent)}}}"


def program() -> object:
    return load_module(PROGRAM, "lesson_3_4_program")


# --- front matter and the demo ----------------------------------------------------------


def test_front_matter_names_the_briefed_variants_and_baseline() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert meta["variants"] == ["vanishing_gradients", "exploding_gradients"]
    assert meta["baseline"] == {"dataset": "digits"}
    lesson = load_lesson(lesson_path("3.4"))
    assert lesson.variants == tuple(meta["variants"]) and lesson.baseline == default_config(
        "digits"
    )


def test_try_it_describes_the_baseline_and_the_broken_runs_as_the_engine_builds_them() -> None:
    base = default_config("digits")
    assert (base.model, base.hidden, base.activation) == ("mlp", (128, 64), "relu")
    assert (base.optimizer, base.lr, base.batch_size, base.epochs) == ("adam", 1e-3, 32, 20)
    text = flat(section("Try it"))
    assert (
        "(two hidden layers of 128 and 64 with ReLU; Adam at lr $10^{-3}$, batch 32, 20 epochs)"
        in text
    )

    vanishing = apply_variant(base, "vanishing_gradients")
    assert vanishing.hidden == (32,) * 11 and len(vanishing.hidden) + 1 == 12  # linear layers
    assert (vanishing.activation, vanishing.optimizer, vanishing.lr) == ("sigmoid", "sgd", 0.1)
    assert "a 12-layer MLP (11 hidden layers of 32 units) with sigmoid activations" in text
    assert "plain SGD at lr 0.1" in text and vanishing.momentum == 0

    exploding = apply_variant(base, "exploding_gradients")
    assert exploding.hidden == (128,) * 8 and exploding.activation == "relu"
    assert (exploding.init, exploding.optimizer, exploding.lr, exploding.momentum) == (
        "kaiming",
        "sgd",
        0.1,
        0.9,
    )
    twin = healthy_reference(base, get_variant("exploding_gradients"))
    assert twin.grad_clip == 1.0 and twin.hidden == exploding.hidden  # "clips ... to 1.0"
    assert get_variant("exploding_gradients").broken_step is not None  # "leaves that line out"
    assert "8 hidden ReLU layers of 128 units and Kaiming init" in text
    assert "SGD at lr 0.1 and momentum 0.9. Its healthy twin clips the gradient norm to 1.0" in text

    # no numbers from the demo's runs: every number in Try it is a setting named above
    settings = {"128", "64", "10^{-3}", "32", "20", "12", "11", "0.1", "8", "0.9", "1.0", "1"}
    assert set(re.findall(r"\d+(?:\.\d+)?(?:\^\{-?\d+\})?", text)) <= settings
    for variant in ("vanishing_gradients", "exploding_gradients"):
        assert f"- `{variant}`:" in section("Try it")
    for fate in ("stay flat", "explode", "learn fine", "overfit"):
        assert fate in text  # the prediction question


# --- the math -----------------------------------------------------------------------------


def test_the_input_gradient_is_the_product_of_the_layers_jacobians() -> None:
    # dL/dh0 = J1^T ... JL^T dL/dhL with J_l = diag(phi'(z_l)) W_l, and
    # dL/dW_l = (phi'(z_l) * dL/dh_l) h_{l-1}^T
    torch.manual_seed(0)
    layers = [nn.Linear(6, 6, dtype=torch.float64) for _ in range(5)]
    h0 = torch.randn(6, dtype=torch.float64, requires_grad=True)
    hs, zs = [h0], []
    for layer in layers:
        zs.append(layer(hs[-1]))
        zs[-1].retain_grad()
        hs.append(torch.sigmoid(zs[-1]))
        hs[-1].retain_grad()
    upstream = torch.randn(6, dtype=torch.float64)
    (hs[-1] * upstream).sum().backward()  # dL/dh_L = upstream
    product = upstream
    for layer, z in reversed(list(zip(layers, zs, strict=True))):
        slope = torch.sigmoid(z) * (1 - torch.sigmoid(z))
        product = (torch.diag(slope.detach()) @ layer.weight).T @ product
    assert torch.allclose(h0.grad, product.detach())
    for index, layer in enumerate(layers):
        slope = (torch.sigmoid(zs[index]) * (1 - torch.sigmoid(zs[index]))).detach()
        expected = torch.outer(slope * hs[index + 1].grad, hs[index].detach())
        assert torch.allclose(layer.weight.grad, expected)
    jacobian_tex = r"J_l = \frac{\partial h_l}{\partial h_{l-1}} = \operatorname{diag}"
    assert jacobian_tex + r"\big(\varphi'(z_l)\big)\, W_l" in RAW


def test_powers_of_the_per_layer_factor() -> None:
    assert (
        f"{0.25**20:.1e}" == "9.1e-13"
        and "$a = 0.25$ and $L = 20$, $a^L \\approx 9.1 \\cdot 10^{-13}$" in TEXT
    )
    assert math.isclose(math.sqrt(2) ** 20, 1024) and "$a^L = 1024$" in TEXT
    assert f"{math.sqrt(2):.2f}" == "1.41" and "$a = \\sqrt{2} \\approx 1.41$" in TEXT
    assert f"{1.1**20:.1f}" == "6.7" and f"{0.9**20:.2f}" == "0.12"
    assert "$1.1^{20} \\approx 6.7$, $0.9^{20} \\approx 0.12$" in TEXT
    assert "$0.25^{20}$, about $9 \\cdot 10^{-13}$" in TEXT
    assert "$0.25^{20} \\approx 9.1 \\cdot 10^{-13}$" in TEXT


def test_slopes_of_sigmoid_tanh_and_relu() -> None:
    z = torch.linspace(-10, 10, 20_001, dtype=torch.float64, requires_grad=True)
    for fn in (torch.sigmoid, torch.tanh, torch.relu):
        z.grad = None
        fn(z).sum().backward()
        slope = z.grad.clone()
        if fn is torch.sigmoid:
            s = torch.sigmoid(z.detach())
            assert torch.allclose(slope, s * (1 - s))  # sigma' = sigma (1 - sigma)
            assert slope.max().item() == 0.25 and abs(z[slope.argmax()].item()) < 1e-12  # 1/4 at 0
            assert (slope[z.detach().abs() > 1e-6] < 0.25).all()  # smaller everywhere else
        elif fn is torch.tanh:
            assert torch.allclose(slope, 1 - torch.tanh(z.detach()) ** 2) and slope.max() <= 1
        else:
            assert set(slope.unique().tolist()) <= {0.0, 1.0}
    assert "\\sigma'(z) = \\sigma(z)\\,\\big(1 - \\sigma(z)\\big) \\le \\tfrac{1}{4}" in RAW


def test_default_init_and_the_sigmoid_layers_factor() -> None:
    # uniform in +-1/sqrt(n), variance 1/(3n); a square layer scales a vector by ~1/sqrt(3)
    torch.manual_seed(0)
    n = 64
    weights = torch.stack([nn.Linear(n, n).weight.detach() for _ in range(200)])
    assert weights.abs().max() <= 1 / math.sqrt(n)
    assert math.isclose(weights.var().item(), 1 / (3 * n), rel_tol=0.02)
    v = torch.randn(200, n)
    scale = (torch.einsum("kij,ki->kj", weights, v).norm(dim=1) / v.norm(dim=1)).mean()
    assert abs(scale.item() - 1 / math.sqrt(3)) < 0.01 and f"{1 / math.sqrt(3):.3f}" == "0.577"
    assert f"{0.25 / math.sqrt(3):.3f}" == "0.144" and f"{0.25 * 0.577:.3f}" == "0.144"
    assert "$\\pm 1/\\sqrt{n}$ ($n$ inputs), a variance of $\\frac{1}{3n}$" in TEXT
    assert "about $1/\\sqrt{3} \\approx 0.577$" in TEXT
    assert "about $0.25 \\times 0.577 \\approx 0.144$" in TEXT


def test_a_residual_blocks_jacobian_is_identity_plus_f_prime() -> None:
    space: dict[str, object] = {"nn": nn, "torch": torch}
    exec(code_block("class Residual("), space)
    torch.manual_seed(0)
    block, x = space["Residual"](8), torch.randn(8)
    assert torch.allclose(jacobian(block, x), torch.eye(8) + jacobian(block.f, x))
    assert "\\frac{\\partial h_l}{\\partial h_{l-1}} = I + f_l'(h_{l-1})" in RAW
    # (I + A1)(I + A2) = I + A1 + A2 + A1 A2: the identity term survives any product
    a1, a2 = torch.randn(4, 4), torch.randn(4, 4)
    product = (torch.eye(4) + a1) @ (torch.eye(4) + a2)
    assert torch.allclose(product, torch.eye(4) + a1 + a2 + a1 @ a2, atol=1e-5)


def test_layer_norm_is_blind_to_scale_and_divides_the_gradient_by_it() -> None:
    torch.manual_seed(0)
    norm = nn.LayerNorm(16, dtype=torch.float64)
    h = torch.randn(16, dtype=torch.float64)
    for c in (0.5, 1.0, 10.0, 100.0):
        assert torch.allclose(norm(c * h), norm(h), atol=1e-3)  # LN(c h) = LN(h)
        assert torch.allclose(jacobian(norm, c * h), jacobian(norm, h) / c, rtol=1e-3, atol=1e-6)
    # ... "while c times the spread stays large next to epsilon": not at c = 1e-4
    assert not torch.allclose(norm(1e-4 * h), norm(h), atol=1e-2)
    batch_norm = nn.BatchNorm1d(5, dtype=torch.float64)  # "the same per feature"
    x = torch.randn(32, 5, dtype=torch.float64)
    assert torch.allclose(
        batch_norm(x * torch.tensor([0.5, 2, 3, 7, 9.0])), batch_norm(x), atol=1e-3
    )
    assert (
        "\\operatorname{LN}(c\\,h) = \\operatorname{LN}(h) \\quad \\text{for every } c > 0" in RAW
    )
    block = {}
    exec(code_block("block = nn.Sequential("), {"nn": nn}, block)
    names = [type(m).__name__ for m in block["block"]]
    assert names == ["Linear", "LayerNorm", "ReLU"]  # between the linear layer and activation


def test_clipping_formula_matches_clip_grad_norm() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    for size, c in ((8.0, 1.0), (0.3, 1.0), (50.0, 2.5)):
        model.zero_grad()
        model(torch.randn(4, 5)).pow(2).sum().backward()
        g = torch.cat([p.grad.flatten() for p in model.parameters()])
        for p in model.parameters():
            p.grad *= size / g.norm()
        g = g * size / g.norm()
        total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=c)
        clipped = torch.cat([p.grad.flatten() for p in model.parameters()])
        assert math.isclose(total.item(), size, rel_tol=1e-5)  # returns the norm before
        assert torch.allclose(clipped, g * min(1, c / size), rtol=1e-5)
        assert F.cosine_similarity(clipped, g, dim=0).item() > 0.9999
    # quick check: norm 8, max_norm 1 -> every entry times 1/8
    assert "- [x] Every entry is multiplied by $1/8$" in RAW
    # "PyTorch adds 10^-6 to ||g||": a gradient of norm 1e-3 clipped at 1e-3 shrinks a bit
    weight = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    weight.grad = torch.tensor([1e-3], dtype=torch.float64)
    nn.utils.clip_grad_norm_([weight], max_norm=1e-3)
    assert math.isclose(weight.grad.item(), 1e-3 * 1e-3 / (1e-3 + 1e-6), rel_tol=1e-9)
    assert "PyTorch adds $10^{-6}$ to $\\lVert g \\rVert$" in TEXT
    assert "g \\leftarrow g \\cdot \\min\\left(1, \\frac{c}{\\lVert g \\rVert}\\right)" in RAW


def test_the_clipping_fragment_clips_between_backward_and_step() -> None:
    fragment = code_block("optimizer.zero_grad()")
    lines = [line.split("#")[0].strip() for line in fragment.splitlines()]
    order = [next(i for i, line in enumerate(lines) if key in line) for key in
             ("backward()", "clip_grad_norm_", "optimizer.step()")]  # fmt: skip
    assert order == sorted(order)
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    space = {"nn": nn, "model": model, "loss_fn": lambda out, t: 100 * F.cross_entropy(out, t)}
    space |= {"optimizer": torch.optim.SGD(model.parameters(), lr=0.0)}
    space |= {"inputs": torch.randn(8, 4), "targets": torch.randint(0, 3, (8,))}
    exec(fragment, space)
    after = torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item()
    assert space["total_norm"].item() > 1 and math.isclose(after, 1.0, rel_tol=1e-4)


def test_the_layer_norms_fragment_lists_every_weights_gradient() -> None:
    space: dict[str, object] = {"nn": nn}
    exec(code_block("def layer_grad_norms("), space)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 2))
    model(torch.randn(5, 4)).sum().backward()
    norms = space["layer_grad_norms"](model)
    expected = [p.grad.norm().item() for name, p in model.named_parameters() if "weight" in name]
    assert norms == expected and len(norms) == 3  # the norm's gamma is named weight too


# --- the program's settings -----------------------------------------------------------------


def test_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "copy", "torch", "sklearn"}
    source = PROGRAM.read_text(encoding="utf-8")
    assert "pick_device()" in source and ".to(device)" in source
    lesson = load_lesson(lesson_path("3.4"))
    assert lesson.programs == (PROGRAM,)
    assert source.rstrip() in lesson.sections["In depth"]
    before = RAW[: RAW.index("{{program: lessons/programs/lesson_3_4.py}}")]
    assert before.rstrip().endswith(":")


def test_the_programs_settings_are_the_ones_the_lesson_states() -> None:
    p = program()
    assert (p.DEPTH, p.WIDTH, p.N_TRAIN, p.EPOCHS, p.BATCH_SIZE) == (20, 64, 1297, 3, 64)
    assert (p.LR, p.MOMENTUM, p.MAX_NORM, p.STEPS) == (0.003, 0.9, 1.0, 5)
    assert p.KINDS == KINDS and p.SHOWN == (1, 5, 10, 15, 20)
    assert p.EPOCHS * math.ceil(p.N_TRAIN / p.BATCH_SIZE) == 63
    assert "(63 steps of SGD, lr 0.003, momentum 0.9, batch 64) on 1,297 digits" in TEXT
    assert "500 validation digits" in TEXT and 1797 - p.N_TRAIN == 500
    assert f"{p.KAIMING_STD:.3f}" == "0.177" and math.isclose(p.KAIMING_STD, math.sqrt(2 / 64))
    assert math.isclose(p.BIG_STD, math.sqrt(2) * p.KAIMING_STD)  # "sqrt(2) times larger"
    assert "for $n = 64$ that is 0.177. Make it 0.25, $\\sqrt{2}$ times larger" in TEXT
    model = p.DeepMLP("plain relu")
    assert len(model.linears()) == 20 and model.linears()[0].in_features == 64


def test_all_five_nets_start_from_the_same_linear_weights() -> None:
    p = program()
    weights = []
    for kind in KINDS:
        torch.manual_seed(p.SEED)
        weights.append(torch.cat([layer.weight.flatten() for layer in p.DeepMLP(kind).linears()]))
    assert all(torch.equal(weights[0], w) for w in weights[1:])


def test_every_digit_reaches_layer_20_of_the_untrained_sigmoid_net_as_the_same_numbers() -> None:
    p = program()
    train_x = p.load_split(torch.device("cpu"))[0]
    torch.manual_seed(p.SEED)
    model = p.DeepMLP("plain sigmoid")
    with torch.no_grad():
        h = model.act(model.first(train_x))
        for linear in model.middle:
            h = model.act(linear(h))  # the input of layer 20
    assert h.shape == (1297, 64) and (h == h[0]).all() and h.std(dim=0).max() == 0
    assert "every digit reaches layer 20 as exactly the same 64 numbers" in TEXT


# --- exercises 1 and 2: what they print (run once, in this process) -----------------------


@cache
def exercise_output(number: int) -> str:
    threads = torch.get_num_threads()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        load_module(SOLUTIONS / f"lesson_3_4_ex{number}.py").main()
    torch.set_num_threads(threads)  # exercise 2 sets 1 thread; leave the suite as it was
    return printed.getvalue()


def test_exercise_1_fifty_residual_blocks_against_fifty_plain_layers() -> None:
    found = re.search(
        r"residual blocks: ([\d.e+-]+) +plain layers: ([\d.e+-]+)", exercise_output(1)
    )
    assert found
    with_skip, without = float(found.group(1)), float(found.group(2))
    assert round(with_skip, -1) == 30 and "about 30 times larger" in TEXT
    assert round(math.log10(1 / without)) == 21 and "by a factor of about $10^{21}$" in TEXT
    assert "f = 0: the gradient comes back times 1.0000" in exercise_output(1)


def test_exercise_2_fits_the_factor_per_sigmoid_layer() -> None:
    found = re.search(r"= ([\d.]+); 0.25 / sqrt\(3\) = ([\d.]+)", exercise_output(2))
    assert found and found.group(2) == "0.144"
    assert (
        f"multiplies the first layer's gradient by {found.group(1)}, close to the $0.144$" in TEXT
    )
    assert found.group(1) == "0.140"
    assert float(re.search(r"R\^2 = ([\d.]+)", exercise_output(2)).group(1)) > 0.99


# --- the program: what it prints -------------------------------------------------------------


def program_output() -> str:
    return _runs[-1].output("3.4")


def init_table() -> dict[str, list[float]]:
    rows = re.findall(r"^(plain sigmoid|plain relu|residual relu|layer norm relu|batch norm relu)"
                      r"((?: +-?[\d.]+e[+-]\d+){5})$", program_output(), re.M)  # fmt: skip
    return {kind: [float(v) for v in values.split()] for kind, values in rows}


def trained_table() -> dict[str, tuple[float, ...]]:
    number = r"([\d.]+e[+-]\d+)"
    rows = re.findall(rf"^({'|'.join(KINDS)}) +{number} -> {number} +{number} -> {number}"
                      r" +([\d.]+) +([\d.]+)$", program_output(), re.M)  # fmt: skip
    return {kind: tuple(float(v) for v in rest) for kind, *rest in rows}


def test_program_per_layer_gradients_at_initialisation() -> None:
    table = init_table()
    assert list(table) == list(KINDS)
    sigmoid, relu = table["plain sigmoid"], table["plain relu"]
    assert (
        f"layer 20's gradient is ${tex(sigmoid[4])}$ and layer 1's is ${tex(sigmoid[0])}$" in TEXT
    )
    assert round(sigmoid[4] / sigmoid[0] / 1e15) == 3 and "about $3 \\cdot 10^{15}$ times" in TEXT
    assert all(a / b > 1e4 for a, b in zip(sigmoid[2:][::-1], sigmoid[1:4][::-1], strict=True))
    assert "From layer 20 down to layer 5 it falls more than ten thousand times" in TEXT
    assert f"layer 1 gets ${tex(relu[0])}$ against layer 20's ${tex(relu[4])}$" in TEXT
    for plain in (sigmoid, relu):  # "the numbers fall with every column" (right to left)
        assert all(right > left for left, right in zip(plain, plain[1:], strict=False))
    for kind in ("residual relu", "layer norm relu", "batch norm relu"):
        assert max(table[kind]) / min(table[kind]) < 14.5  # "within a factor of about 14"
    assert "they stay within a factor of about 14" in TEXT
    residual, layer, batch = (table[k] for k in KINDS[2:])
    assert (
        f"gradient is ${tex(residual[0])}$ at layer 1 and ${tex(residual[4])}$ at layer 20" in TEXT
    )
    assert (
        f"net the gradient is ${tex(layer[0])}$ at layer 1 and ${tex(layer[4])}$ at layer 20"
        in TEXT
    )
    assert f"With batch norm it is ${tex(batch[0])}$ at layer 1 and ${tex(batch[4])}$" in TEXT
    assert batch[0] > batch[4]  # "it grows towards the input"
    assert round(math.log10(sigmoid[4] / sigmoid[0])) == 15  # "15 powers of ten"
    assert "the sigmoid net's 15 powers of ten" in TEXT


def test_program_training_results() -> None:
    rows = trained_table()
    assert list(rows) == list(KINDS)
    for kind in ("plain sigmoid", "plain relu"):
        first_before, first_after, _, _, loss, _ = rows[kind]
        assert abs(loss - math.log(10)) < 0.01  # "a training loss of about 2.30"
        assert abs(math.log10(first_after / first_before)) < 0.05  # unchanged
    assert "training loss of about 2.30, the $\\ln 10 = 2.303$" in TEXT
    acc = {kind: f"{row[5]:.3f}" for kind, row in rows.items()}
    assert f"at chance: {acc['plain sigmoid']} and {acc['plain relu']}" in TEXT
    assert all(float(acc[k]) < 0.15 for k in ("plain sigmoid", "plain relu"))  # chance: 0.1
    residual = rows["residual relu"]
    assert f"its training loss is {residual[4]:.3f} and it gets {acc['residual relu']}" in TEXT
    assert (
        f"validation accuracy {acc['layer norm relu']} with layer norm and "
        f"{acc['batch norm relu']} with batch norm, against {acc['residual relu']}" in TEXT
    )
    assert 0.2 < float(acc["batch norm relu"]) < float(acc["residual relu"])  # "learned ...
    assert 0.2 < float(acc["layer norm relu"]) < float(acc["residual relu"])  # more slowly"
    # quick check: "in the program the first layer's gradient was 8.1e-17"; summary ~1e-16
    sigmoid_first = rows["plain sigmoid"][0]
    assert f"the first layer's gradient was ${tex(sigmoid_first)}$" in TEXT
    assert round(math.log10(sigmoid_first)) == -16 and "was about $10^{-16}$" in TEXT


def test_program_explodes_and_clips() -> None:
    out = program_output()
    losses = re.findall(r"std ([\d.]+): loss +([\d.]+), gradient norm +([\d.]+)", out)
    (kaiming, loss_k, norm_k), (big, loss_b, norm_b) = losses
    assert (kaiming, big) == ("0.177", "0.250")
    assert f"loss goes from {float(loss_k):.3f} to {float(loss_b):.0f}" in TEXT
    assert f"norm from {float(norm_k):.2f} to about {float(norm_b):,.0f}" in TEXT
    assert 500 < float(norm_b) / float(norm_k) < 2000 and "about a thousand times larger" in TEXT
    returned = float(
        re.search(r"returns ([\d.]+), the norm before; after it: 1.0000", out).group(1)
    )
    assert f"it returns {returned:,.0f} and leaves a gradient of norm 1.0000" in TEXT
    low, high, ratio = (
        float(v)
        for v in re.search(
            r"times ([\d.e-]+) to ([\d.e-]+); c / \|\|g\|\| = ([\d.e-]+)", out
        ).groups()
    )
    assert math.isclose(low, high, rel_tol=1e-4) and math.isclose(low, 1 / returned, rel_tol=1e-4)
    assert f"{ratio:.2e}" == "8.53e-05" and "multiplied by the same $8.53 \\cdot 10^{-5}$" in TEXT
    assert "cosine similarity 1.0000" in out and "(cosine 1.0000)" in TEXT

    steps = {
        name: row.split()
        for name, row in re.findall(r"^  (no clipping|with clipping) +(.+)$", out, re.M)
    }
    plain, clipped = steps["no clipping"], steps["with clipping"]
    assert plain[0] == clipped[0] == "2093" and plain[2] == "nan"
    assert (
        plain[1] == "1.819e+06" and "about 1.8 million at the second and `nan` at the third" in TEXT
    )
    assert all(math.isfinite(float(v)) for v in clipped) and clipped[-1] == "1532"
    assert "(2093 down to 1532)" in TEXT and "from 2093 at the first step" in TEXT
