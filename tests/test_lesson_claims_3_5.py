"""Lesson 3.5: every number and formula the text states, checked by running code.

The lesson's program (lessons/programs/lesson_3_5.py, which spawns 2 gloo processes) starts
in the background when this module begins and is collected by the tests at the end; the
other claims are computed here directly, or with the exercise solutions' own functions.
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

from engine.variants import apply_variant
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
PROGRAM = ROOT / "lessons" / "programs" / "lesson_3_5.py"
SOLUTIONS = ROOT / "lessons" / "solutions"
RAW = lesson_text("3.5")
TEXT = flat_lesson_text("3.5")
section = partial(lesson_section, "3.5")
_runs: list[BackgroundPrograms] = []


@pytest.fixture(scope="module", autouse=True)
def program_running_in_the_background() -> Iterator[None]:
    _runs.append(BackgroundPrograms({"3.5": PROGRAM}, 120))
    yield
    _runs.pop().stop()


def program_output() -> str:
    return _runs[-1].output("3.5")


says = partial(assert_says, TEXT)


def code_block(starting: str) -> str:
    """The In depth fragment whose first line starts with this text."""
    blocks = re.findall(r"```python\n(.*?)```", section("In depth"), re.S)
    found = [block for block in blocks if block.startswith(starting)]
    assert len(found) == 1, starting
    return found[0]


def flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


# --- front matter and the demo ------------------------------------------------------------


def test_front_matter_names_the_briefed_variants_and_baseline() -> None:
    meta = tomllib.loads(RAW.split("+++")[1])
    assert meta["variants"] == ["accumulation_not_divided", "lr_too_high"]
    assert meta["baseline"] == {
        "dataset": "digits",
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "accumulate": 4,
    }


def test_try_it_describes_the_baseline_and_asks_for_a_prediction_without_numbers() -> None:
    baseline = load_lesson(lesson_path("3.5")).baseline
    assert (baseline.optimizer, baseline.lr, baseline.momentum) == ("sgd", 0.1, 0.9)
    assert (baseline.accumulate, baseline.batch_size) == (4, 32)
    text = " ".join(section("Try it").split())
    assert "SGD at lr 0.1 and momentum 0.9, accumulating 4 micro-batches of 32" in text
    assert "each loss divided by 4" in text
    for variant in ("accumulation_not_divided", "lr_too_high"):
        assert f"- `{variant}`:" in section("Try it")
    assert "predict each one's fate" in text and "?" in text
    # the only numbers are the baseline's settings, none from the demo's runs
    assert set(re.findall(r"\d+\.\d+", text)) <= {"0.1", "0.9"}
    # "a learning rate far above the baseline's"
    assert apply_variant(baseline, "lr_too_high").lr >= 10 * baseline.lr


# --- the math -----------------------------------------------------------------------------


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).double()


def _grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int, divide: bool) -> torch.Tensor:
    model.zero_grad()
    for xb, yb in zip(x.chunk(k), y.chunk(k), strict=True):
        loss = nn.functional.cross_entropy(model(xb), yb)
        (loss / k if divide else loss).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_k_divided_micro_batch_gradients_sum_to_the_big_batch_gradient() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(96, 64, dtype=torch.float64), torch.randint(0, 10, (96,))
    model = _mlp()
    big = _grad(model, x, y, 1, True)
    for k in (2, 3, 4, 8):
        assert torch.allclose(_grad(model, x, y, k, True), big, atol=1e-12)
        assert torch.allclose(_grad(model, x, y, k, False), k * big, atol=1e-12)  # K times
    # DDP's g = (1/W) sum_r g_r: each rank's mean-loss gradient, averaged, is the same
    ranks = [_grad(model, x[r::2], y[r::2], 1, True) for r in range(2)]
    assert torch.allclose((ranks[0] + ranks[1]) / 2, big, atol=1e-12)
    says("With $K = 4$ and $\\eta = 0.05$ that is $0.2$.")


def test_sgd_without_the_division_is_sgd_with_k_times_the_learning_rate() -> None:
    # "in exercise 2, SGD without the division at lr 0.05 ends on exactly the weights of SGD
    # with it at lr 0.2"
    ex2 = load_module(SOLUTIONS / "lesson_3_5_ex2.py", "lesson_3_5_ex2")
    torch.manual_seed(1)
    n = ex2.STEPS * ex2.K * ex2.MICRO
    x, y = torch.randn(n, 64), torch.randint(0, 10, (n,))
    undivided = ex2.train(x, y, "sgd", 0.05, divide=False)
    assert torch.allclose(undivided, ex2.train(x, y, "sgd", 0.2, divide=True), atol=1e-6)
    assert not torch.allclose(undivided, ex2.train(x, y, "sgd", 0.05, divide=True), atol=1e-3)
    assert (ex2.K, ex2.STEPS, ex2.LR) == (4, 20, 0.05)
    says("SGD without the division at lr 0.05 ends on exactly the weights of SGD with it at lr 0.2")


def test_adam_cancels_the_factor_except_through_epsilon() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 64, dtype=torch.float64), torch.randint(0, 10, (64,))
    for eps, tolerance in ((0.0, 1e-12), (1e-8, 0.05)):  # exact, then "almost"
        weights = []
        for scale in (1.0, 4.0):
            model = _mlp()
            adam = torch.optim.Adam(model.parameters(), lr=1e-3, eps=eps)
            for _ in range(5):
                adam.zero_grad()
                (scale * nn.functional.cross_entropy(model(x), y)).backward()
                adam.step()
            weights.append(flat(model))
        moved = (weights[0] - flat(_mlp())).abs().max()
        assert (weights[0] - weights[1]).abs().max() <= tolerance * moved
    assert torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults["eps"] == 1e-8
    says("a small constant ($10^{-8}$ in PyTorch)")


def test_the_number_formats_as_the_lesson_states_them() -> None:
    f32, f16, bf16 = (torch.finfo(t) for t in (torch.float32, torch.float16, torch.bfloat16))
    for info, bits, shown in ((f32, 23, 1.2e-7), (f16, 10, 9.8e-4), (bf16, 7, 7.8e-3)):
        assert info.eps == 2.0**-bits and f"{info.eps:.1e}" == f"{shown:.1e}"
    assert round(-math.log10(f32.eps)) == 7  # "float32's 7 significant digits"
    # 8 exponent bits in bfloat16 as in float32: the same smallest normal, similar largest
    assert bf16.tiny == f32.tiny and f"{bf16.max:.2e}" == "3.39e+38" and bf16.bits == 16
    # float16: 5 exponent bits, bias 2^4 - 1 = 15: largest (2 - 2^-10) 2^15 = 65,504
    assert f16.max == (2 - 2**-10) * 2**15 == 65_504
    smallest = 2.0**-24
    assert f"{smallest:.1e}" == "6.0e-08"
    half = torch.tensor([smallest, smallest / 2, smallest * 0.51], dtype=torch.float64)
    assert half.to(torch.float16).tolist() == [smallest, 0.0, smallest]  # half rounds to 0
    says(
        "23 for float32, 10 for float16, 7 for bfloat16, so eps is about $1.2 \\cdot 10^{-7}$, "
        "$9.8 \\cdot 10^{-4}$ and $7.8 \\cdot 10^{-3}$",
        "its largest number is about $3.39 \\cdot 10^{38}$",
        "its largest is 65,504 and its smallest positive one $2^{-24} \\approx 6.0 \\cdot 10^{-8}$",
    )


def test_loss_scaling_scales_every_gradient_and_the_scaler_defaults() -> None:
    model = _mlp()
    torch.manual_seed(0)
    x, y = torch.randn(16, 64, dtype=torch.float64), torch.randint(0, 10, (16,))
    plain = _grad(model, x, y, 1, True)
    model.zero_grad()
    (65_536 * nn.functional.cross_entropy(model(x), y)).backward()
    assert torch.allclose(flat_grad(model), 65_536 * plain)
    assert f"{1e-8 * 2**16:.1e}" == "6.6e-04" and 2**16 == 65_536
    scaler = torch.amp.GradScaler("cpu")
    assert scaler.get_scale() == 65_536.0
    assert (scaler._growth_factor, scaler._backoff_factor, scaler._growth_interval) == (
        2,
        0.5,
        2000,
    )
    says("$2^{16} = 65{,}536$ at the start", "about $6.6 \\cdot 10^{-4}$")
    says("halves the scale after a skipped step, doubles it after 2,000 good ones")


def flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_the_cost_formulas_and_every_number_the_calculator_gives() -> None:
    assert 4 + 4 + 8 == 2 + 2 + 4 + 8 == 16 and 24 * 3600 == 86_400
    n_mlp = sum(
        p.numel() for p in load_module(PROGRAM, "lesson_3_5_program").make_mlp().parameters()
    )
    assert n_mlp == 17_226 and 16 * n_mlp == 275_616
    assert f"{6 * n_mlp * 5 * 1280:.1e}" == "6.6e+08"
    n, tokens = 7e9, 2e12
    assert 16 * n == 112e9 and 16 * n / 80e9 == 1.4 and 16 * n / 8 == 14e9
    assert (8 + 8 / 8) * n == 63e9  # ZeRO 1 over 8 GPUs: weights and gradients whole
    assert math.isclose(6 * n * tokens, 8.4e22) and 4e14 == 0.4 * 1e15
    assert f"{6 * n * tokens / (8 * 4e14) / 86_400:.1f}" == "303.8"
    assert f"{6 * n * tokens / (1024 * 4e14) / 86_400:.1f}" == "2.4"
    says(
        "17,226 parameters, 275,616 bytes of training state",
        "5 epochs of 1,280 digits cost about $6.6 \\cdot 10^{8}$ FLOPs",
        "$16 \\times 7 \\cdot 10^9$ bytes = 112 GB before activations, 1.4 times an 80 GB GPU",
        "Fully sharded over 8 GPUs the model needs 14 GB each",
        "$8 + 8/8 = 9$ bytes per parameter, 63 GB each",
        "needs $8.4 \\cdot 10^{22}$ FLOPs",
        "303.8 days on 8 GPUs or 2.4 days on 1,024",
        "$16 \\times 7 \\cdot 10^9 = 112$ GB",
    )


def test_a_counted_training_step_is_about_5n_per_example_because_of_the_input_layer() -> None:
    ex3 = load_module(SOLUTIONS / "lesson_3_5_ex3.py", "lesson_3_5_ex3")
    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    n = sum(p.numel() for p in mlp.parameters())
    per_example = ex3.measured_flops_per_example(mlp, 128)
    assert round(per_example / n) == 5
    # "because nothing needs the gradient of the first layer's input": ask for it, and the
    # count comes close to 6N
    x, y = torch.randn(128, 64, requires_grad=True), torch.randint(0, 10, (128,))
    with ex3.FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(mlp(x), y).backward()
    assert round(counter.get_total_flops() / 128 / n) == 6
    says("for this shallow MLP it is about $5N$ per example, not $6N$")


# --- the code fragments ---------------------------------------------------------------------


def test_to_moves_a_module_in_place_and_returns_a_new_tensor() -> None:
    model = nn.Linear(3, 2)
    assert model.to(torch.float64) is model and model.weight.dtype == torch.float64
    x = torch.ones(2)
    moved = x.to(torch.float64)
    assert moved is not x and x.dtype == torch.float32
    assert x.to("cpu", torch.float32) is x  # "comes back as itself"
    program = load_module(PROGRAM, "lesson_3_5_program")
    space = {"pick_device": program.pick_device, "make_mlp": program.make_mlp}
    loader = [(torch.randn(4, 64), torch.randint(0, 10, (4,)))]
    space |= {"loader": loader, "loss_fn": nn.CrossEntropyLoss()}
    exec(code_block("device = pick_device()"), space)
    assert space["loss"].device.type == space["device"].type


def test_the_autocast_fragment_keeps_the_loss_weights_and_grads_in_float32() -> None:
    model = nn.Linear(64, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.randn(8, 64), torch.randint(0, 10, (8,))
    space = {"torch": torch, "model": model, "optimizer": optimizer}
    space |= {"inputs": inputs, "targets": targets, "loss_fn": nn.CrossEntropyLoss()}
    exec(code_block('with torch.autocast("cpu"'), space)
    assert space["loss"].dtype == torch.float32
    assert model.weight.dtype == model.weight.grad.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(inputs).dtype == torch.bfloat16  # the matrix product in bfloat16


def test_the_grad_scaler_fragment_trains_when_run_on_the_cpu() -> None:
    fragment = code_block("scaler = torch.amp.GradScaler(")
    torch.manual_seed(0)
    model = nn.Linear(64, 10)
    before = flat(model)
    loader = [(torch.randn(8, 64), torch.randint(0, 10, (8,))) for _ in range(3)]
    space = {"torch": torch, "model": model, "loader": loader, "loss_fn": nn.CrossEntropyLoss()}
    space["optimizer"] = torch.optim.SGD(model.parameters(), lr=0.1)
    exec(fragment.replace('"cuda"', '"cpu"'), space)
    assert not torch.equal(before, flat(model)) and space["scaler"].get_scale() == 65_536.0


def test_the_accumulation_fragment_steps_like_the_big_batches() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(256, 64), torch.randint(0, 10, (256,))
    results = []
    for fragment_loop in (True, False):
        model = _mlp().float()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        if fragment_loop:
            loader = list(zip(x.split(32), y.split(32), strict=True))  # 8 micro-batches
            space = {"model": model, "optimizer": optimizer, "loss_fn": loss_fn, "loader": loader}
            exec(code_block("K = 4"), space)
        else:
            for xb, yb in zip(x.split(128), y.split(128), strict=True):  # 2 big batches
                optimizer.zero_grad()
                loss_fn(model(xb), yb).backward()
                optimizer.step()
        results.append(flat(model))
    assert torch.allclose(results[0], results[1], atol=1e-6)


def test_torchrun_takes_the_flags_and_sets_the_variables_the_lesson_names() -> None:
    from torch.distributed import run

    args = run.get_args_parser().parse_args(
        [
            "--nproc-per-node=8",
            "--nnodes=2",
            "--node-rank=0",
            "--master-addr=10.0.0.1",
            "--master-port=29500",
            "train.py",
        ]
    )
    assert (args.nproc_per_node, args.nnodes, args.node_rank) == ("8", "2", 0)
    source = Path(run.__file__).parent / "elastic" / "agent" / "server" / "local_elastic_agent.py"
    env_code = source.read_text(encoding="utf-8")
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        assert f'"{name}"' in env_code, name
        assert f"`{name}`" in TEXT
    says("`torchrun --nproc-per-node=8 train.py`")
    compile(code_block("local_rank = "), "torchrun fragment", "exec")


def test_the_lesson_quotes_the_device_mismatch_error() -> None:
    # The error itself needs a GPU: benchmarks/bench_cuda.py raises it and prints it there.
    says("`RuntimeError: Expected all tensors to be on the same device`")


# --- what the program prints ---------------------------------------------------------------


def test_program_is_typed_standalone_and_shown_in_depth() -> None:
    imported = check_stands_alone(PROGRAM)
    assert imported <= {"__future__", "os", "socket", "tempfile", "time", "torch", "sklearn"}
    source = PROGRAM.read_text(encoding="utf-8")
    assert '"gloo"' in source and "mp.spawn(" in source and "DistributedSampler(" in source
    assert '"127.0.0.1"' in source and "free_port()" in source
    lesson = load_lesson(lesson_path("3.5"))
    assert lesson.programs == (PROGRAM,)
    assert source.rstrip() in lesson.sections["In depth"]


def test_program_settings_are_the_ones_the_lesson_states() -> None:
    program = load_module(PROGRAM, "lesson_3_5_program")
    assert (program.LR, program.MOMENTUM, program.ADAM_LR) == (0.05, 0.9, 1e-3)
    assert (program.EPOCHS, program.STEP_BATCH, program.N_TRAIN) == (5, 128, 1280)
    assert (program.WORLD_SIZE, program.GLOBAL_BATCH, program.DDP_EPOCHS) == (2, 64, 2)
    assert program.DDP_EPOCHS * program.N_TRAIN // program.GLOBAL_BATCH == 40  # steps
    says(
        "trains the baseline (SGD, lr 0.05, momentum 0.9, 4 micro-batches of 32) for 5 epochs",
        "with 2 CPU processes and the `gloo` backend",
        "Each process takes 32 digits a step; one process with batches of 64",
    )


def test_distributed_sampler_gives_each_rank_every_wth_example_of_one_shuffle() -> None:
    from torch.utils.data import DistributedSampler

    data = list(range(12))
    plain = [
        list(DistributedSampler(data, num_replicas=3, rank=r, shuffle=False)) for r in range(3)
    ]
    assert plain == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]
    shuffled = [DistributedSampler(data, num_replicas=2, rank=r, seed=0) for r in range(2)]
    whole = list(DistributedSampler(data, num_replicas=1, rank=0, seed=0))
    assert [list(s) for s in shuffled] == [whole[0::2], whole[1::2]]  # one shared order
    for sampler in shuffled:
        sampler.set_epoch(1)
    assert list(shuffled[0]) != whole[0::2]  # set_epoch: a new shuffle, on every rank
    says("gives rank $r$ every $W$-th example from position $r$")


def _line(output: str, start: str) -> str:
    found = [line.strip() for line in output.splitlines() if line.strip().startswith(start)]
    assert len(found) == 1, start
    return found[0]


def _losses(output: str, label: str) -> list[float]:
    """The numbers of the one line that is this label and then plain decimals only."""
    pattern = rf"^ *{re.escape(label)} +((?:\d+\.\d+ *)+)$"
    found = re.findall(pattern, output, re.M)
    assert len(found) == 1, label
    return [float(v) for v in found[0].split()]


def test_program_shows_what_to_moves_and_what_it_copies() -> None:
    output = program_output()
    assert "model.to(device) returns the same module: True" in output
    assert "x.to(float64) is a new tensor: True; x is still torch.float32" in output
    assert "x.to(the device and dtype it has) is x itself: True" in output


def test_program_accumulation_numbers_are_the_quoted_ones() -> None:
    output = program_output()
    assert "each loss / K: largest gradient difference 1.5e-08" in output
    assert "not divided: gradient norm 4.0000 times the batch's" in output
    says("to within $1.5 \\cdot 10^{-8}$", "the gradient's norm is 4.0000 times as large")
    baseline = _losses(output, "sgd, K=4, loss / K")
    assert len(baseline) == 5 and f"{baseline[-1]:.3f}" == "0.198"
    says("The baseline ends its 5 epochs at a mean train loss of 0.198")
    broken = _losses(output, "sgd, K=16, not divided")
    assert (broken[0], broken[1], broken[-1]) == (1.278, 6.772, 2.346)
    assert abs(broken[-1] - math.log(10)) < 0.1 and f"{math.log(10):.3f}" == "2.303"
    assert 16 * 0.05 == 0.8 and 16 * 8 == 128
    says(
        "16 undivided micro-batches of 8 mean an effective lr of 0.8",
        "the loss jumps from 1.278 to 6.772 in the second epoch and ends at 2.346, near "
        "$\\ln 10 = 2.303$",
    )
    adam = _losses(output, "adam, K=4, loss / K"), _losses(output, "adam, K=4, not divided")
    assert adam[0] == adam[1]  # the same losses to three decimals
    assert "adam with and without / K: largest loss difference 1.8e-05" in output
    says("(at most $1.8 \\cdot 10^{-5}$ apart)")


def test_program_data_parallel_matches_one_process() -> None:
    output = program_output()
    assert "2 gloo processes x 32 vs 1 process x 64, 40 steps:" in output
    assert _line(output, "2 processes:").endswith("loss 2.3225 at step 1, 0.4313 at step 40")
    assert _line(output, "1 process:").endswith("loss 2.3225 at step 1, 0.4313 at step 40")
    line = _line(output, "largest loss difference")
    assert line == "largest loss difference 2.4e-07, largest weight difference 8.9e-08"
    says(
        "Over 40 steps both went from a loss of 2.3225 to 0.4313, never more than "
        "$2.4 \\cdot 10^{-7}$ apart, and the largest weight difference was $8.9 \\cdot 10^{-8}$"
    )


def test_program_number_formats_and_loss_scaling() -> None:
    output = program_output()
    table = re.findall(r"^ *(float32|float16|bfloat16)((?: +\d\.\d\de[-+]\d\d){4})$", output, re.M)
    rows = {name: values.split() for name, values in table}
    assert len(rows) == len(table) == 3
    assert rows["float16"] == ["1.00e-03", "1.00e-05", "5.96e-08", "0.00e+00"]
    assert rows["bfloat16"][-1] == "1.00e-08"  # bfloat16 keeps it
    assert _line(output, "float16 after x 65536 and back:").split()[-1] == "1.00e-08"
    assert "float16: largest 6.55e+04, eps 0.000977" in output
    assert "bfloat16: largest 3.39e+38, eps 0.00781" in output
    says(
        "in float16 the last becomes 0 and $6 \\cdot 10^{-8}$ becomes $5.96 \\cdot 10^{-8}$",
        "the program's $10^{-8}$ comes back as $1.00 \\cdot 10^{-8}$",
    )


def _has_bfloat16_instructions() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def test_program_bfloat16_curve_matches_and_its_time_is_measured() -> None:
    output = program_output()
    full = _losses(output, "float32")
    half = _losses(output, "bfloat16 autocast")
    assert len(full) == len(half) == 5
    assert full == _losses(output, "sgd, K=4, loss / K")  # the same baseline
    assert "largest difference 0.0002" in output
    says("The mean losses agree to within 0.0002 every epoch")
    ratio = float(re.search(r"bfloat16 takes ([\d.]+) times as long", output).group(1))
    says("bfloat16 took **longer**, about twice the time per epoch")
    if _has_bfloat16_instructions():
        pytest.skip("this CPU has bfloat16 instructions: the lesson's timing is not about it")
    assert 1.3 <= ratio <= 3.5, ratio


def test_program_scale_calculator_prints_the_quoted_numbers() -> None:
    output = program_output()
    for printed in (
        "this MLP: 17,226 parameters",
        "5 epochs of 1,280 digits: 6.61e+08 FLOPs",
        "weights + gradients + Adam: 275,616 bytes",
        "a 7e9-parameter model: 112 GB for weights + gradients + Adam",
        "that is 1.4 GPUs of 80 GB; sharded over 8: 14 GB each",
        "on 2e12 tokens: 8.4e+22 FLOPs",
        "8 GPUs at 4e+14 FLOP/s each: 303.8 days",
        "1024 GPUs at 4e+14 FLOP/s each: 2.4 days",
    ):
        assert printed in output, printed
