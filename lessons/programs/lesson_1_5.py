"""Lesson 1.5: check autograd's gradient against finite differences, in float64.

A small network (4 -> 8 -> 1, tanh) and an MSE loss on one batch. For every one of its
49 weights the program nudges the weight up and down by h, takes the central difference
of the two losses, and compares it with what loss.backward() put in .grad, as a
relative error. Then it shows why the check runs in float64 (the same check in float32),
how the error depends on h, that a hand gradient missing its factor 2 stands out, what
torch.autograd.gradcheck says in float64 and in float32, and what each method costs.

Run it with: python lesson_1_5.py   (needs torch)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

SEED = 0
H = 1e-6  # the nudge: gradcheck's default too
EPSILON = 1e-12  # keeps the relative error finite when both gradients are 0

LossFn = Callable[[], torch.Tensor]


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(device: torch.device) -> torch.device:
    """Where float64 work can run: Apple's mps has no float64, so it falls back to cpu."""
    return torch.device("cpu") if device.type == "mps" else device


def make_problem(
    device: torch.device, dtype: torch.dtype = torch.float64
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The same starting weights and batch every run, in the dtype asked for."""
    torch.manual_seed(SEED)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    inputs = torch.randn(32, 4)
    targets = torch.randn(32, 1)
    return model.to(device, dtype), inputs.to(device, dtype), targets.to(device, dtype)


def numerical_gradient(loss_fn: LossFn, param: torch.Tensor, h: float = H) -> torch.Tensor:
    """Central difference (L(theta + h e_j) - L(theta - h e_j)) / 2h for every entry j."""
    grad = torch.zeros_like(param)
    flat_param, flat_grad = param.data.view(-1), grad.view(-1)
    for j in range(flat_param.numel()):
        original = flat_param[j].item()
        flat_param[j] = original + h
        up = loss_fn().item()  # forward with weight j nudged up
        flat_param[j] = original - h
        down = loss_fn().item()  # forward with weight j nudged down
        flat_param[j] = original  # put the weight back exactly
        flat_grad[j] = (up - down) / (2 * h)
    return grad


def relative_error(analytical: torch.Tensor, numerical: torch.Tensor) -> float:
    """The largest |g_a - g_n| / max(|g_a|, |g_n|, epsilon) over all entries."""
    scale = torch.maximum(analytical.abs(), numerical.abs()).clamp_min(EPSILON)
    return ((analytical - numerical).abs() / scale).max().item()


def worst_error(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, h: float) -> float:
    """Autograd against the central difference over every weight of the model."""

    def loss_fn() -> torch.Tensor:
        return nn.functional.mse_loss(model(inputs), targets)  # forward and loss

    model.zero_grad()
    loss_fn().backward()  # backward: the analytical gradient, into every .grad
    return max(
        relative_error(param.grad, numerical_gradient(loss_fn, param, h))
        for param in model.parameters()
    )


def check_every_weight(device: torch.device) -> None:
    """The check itself in float64, then the same check in float32."""
    model, inputs, targets = make_problem(device)
    print(f"{sum(p.numel() for p in model.parameters())} weights, h = {H:g}")
    print(f"float64: largest relative error {worst_error(model, inputs, targets, H):.1e}")
    model, inputs, targets = make_problem(device, torch.float32)
    print(f"float32: largest relative error {worst_error(model, inputs, targets, H):.1e}")


def error_against_h(device: torch.device) -> None:
    """Shrink h: the central difference improves like h^2 until rounding takes over."""
    model, inputs, targets = make_problem(device)
    print("h        relative error (float64)")
    for h in (1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10):
        print(f"{h:<8g} {worst_error(model, inputs, targets, h):.1e}")


def catch_the_missing_two(device: torch.device) -> None:
    """A hand gradient of the output bias: dL/db = 2 mean(r); the slip forgets the 2."""
    model, inputs, targets = make_problem(device)
    bias = model[2].bias

    def loss_fn() -> torch.Tensor:
        return nn.functional.mse_loss(model(inputs), targets)

    with torch.no_grad():
        residual = model(inputs) - targets
    right, wrong = 2 * residual.mean(dim=0), residual.mean(dim=0)
    numerical = numerical_gradient(loss_fn, bias)
    print(
        f"output bias: relative error {relative_error(right, numerical):.1e} with the 2, "
        f"{relative_error(wrong, numerical):.2f} without it"
    )


def loss_of_first_weight(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The loss as a function of the first layer's weight: the form gradcheck takes."""

    def loss_of(w: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(inputs @ w.T + model[0].bias)  # forward, with w swapped in
        return nn.functional.mse_loss(model[2](hidden), targets)

    return loss_of


def ask_gradcheck(device: torch.device) -> None:
    """torch.autograd.gradcheck on that function, in float64 and in float32."""
    for dtype in (torch.float64, torch.float32):
        model, inputs, targets = make_problem(device, dtype)
        weight = model[0].weight.detach().clone().requires_grad_(True)
        loss_of = loss_of_first_weight(model, inputs, targets)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            passed = torch.autograd.gradcheck(loss_of, (weight,), raise_exception=False)
        name = str(dtype).removeprefix("torch.")
        warned = str(caught[0].message).split(". ")[0] if caught else "no warning"
        print(f"gradcheck in {name}: {'passes' if passed else 'fails'} ({warned})")


def count_the_cost(device: torch.device) -> None:
    """Forward passes for the numerical gradient; matrix-multiply FLOPs for autograd's."""
    model, inputs, targets = make_problem(device)
    weights = sum(p.numel() for p in model.parameters())
    print(f"numerical gradient: 2 x {weights} weights = {2 * weights} forward passes")
    # Two wide layers, where matrix multiplies are nearly all the work. The backward of
    # each one does two multiplies of the forward's size: one for the weight's gradient,
    # one for its input's (the batch asks for its gradient too, so none is skipped).
    wide = nn.Sequential(nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 256)).to(device)
    batch = torch.randn(64, 256, device=device, requires_grad=True)
    with FlopCounterMode(display=False) as forward:
        loss = wide(batch).pow(2).mean()
    with FlopCounterMode(display=False) as backward:
        loss.backward()
    ratio = backward.get_total_flops() / forward.get_total_flops()
    print(
        f"autograd: forward {forward.get_total_flops():,} FLOPs, "
        f"backward {backward.get_total_flops():,} FLOPs ({ratio:.2f}x the forward)"
    )


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = check_device(pick_device())
    print(f"device: {device.type}")
    check_every_weight(device)
    error_against_h(device)
    catch_the_missing_two(device)
    ask_gradcheck(device)
    count_the_cost(device)


if __name__ == "__main__":
    main()
