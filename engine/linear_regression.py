"""Linear regression by hand and with autograd: the numbers Module 1's visuals draw.

Everything here is computed, never drawn from a formula for the picture: a gradient
derived on paper next to the one `loss.backward()` fills in, gradient-descent paths over
the MSE bowl, one dataset trained with three batch sizes, a finite-difference check that
catches a wrongly derived gradient, and one real `train_step` taken apart. The model is
y_hat = w * x + b with one input feature, so every weight has a name a learner can follow.
No Streamlit here: `ui/demos/` turns these tensors and DataFrames into charts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

import pandas as pd
import torch
from torch import Tensor, nn

from engine.config import default_config
from engine.data import load_data, make_loader
from engine.loop import make_optimizer
from engine.models import build_model
from engine.step import Split, make_loss_fn, train_step

TRUE_W = 3.0  # the line the data is drawn from: y = 3x + 2 + noise
TRUE_B = 2.0
NOISE_STD = 0.5
CHECK_TOLERANCE = 1e-4  # relative error above this means "the two gradients disagree"

Point = tuple[float, float]
LossOfParameters = Callable[..., Tensor]


class FitStep(NamedTuple):
    """Where gradient descent stands after `step` updates, and the loss over all examples."""

    step: int
    w: float
    b: float
    loss: float


# --- data and the loss -----------------------------------------------------------------


def linear_data(seed: int = 42, n: int = 100, x_shift: float = 0.0) -> tuple[Tensor, Tensor]:
    """N examples of y = 3x + 2 + noise (std 0.5) as two 1-D float32 tensors of shape [N].

    x is drawn from a standard normal, so it is standardised (mean 0, std 1) up to
    sampling noise; `x_shift` moves it off zero, which stretches the round MSE bowl
    into a long diagonal valley. Raises ValueError if n < 2.
    """
    if n < 2:
        raise ValueError(f"n = {n!r} is not allowed: expected at least 2 examples")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=generator) + x_shift
    y = TRUE_W * x + TRUE_B + NOISE_STD * torch.randn(n, generator=generator)
    return x, y


def mse(x: Tensor, y: Tensor, w: float, b: float) -> float:
    """Mean squared error of the line w * x + b over all examples."""
    return float(nn.functional.mse_loss(w * x + b, y))


def least_squares(x: Tensor, y: Tensor) -> FitStep:
    """The exact bottom of the MSE bowl (closed form), as step 0 of a 'perfect' fit."""
    design = torch.stack([x, torch.ones_like(x)], dim=1).double()
    solution = torch.linalg.lstsq(design, y.double()[:, None]).solution.flatten()
    w, b = float(solution[0]), float(solution[1])
    return FitStep(0, w, b, mse(x.double(), y.double(), w, b))


# --- gradients: on paper and from autograd ---------------------------------------------


def mse_gradients_by_hand(x: Tensor, y: Tensor, w: float, b: float) -> tuple[float, float]:
    """dL/dw and dL/db of L = mean((y - (w x + b))^2), from the formulas derived on paper.

    dL/dw = -2/N * sum(x * (y - y_hat)),  dL/db = -2/N * sum(y - y_hat).
    """
    error = y - (w * x + b)  # how far each prediction falls short of its target
    return float(-2 * (x * error).mean()), float(-2 * error.mean())


def mse_gradients_autograd(x: Tensor, y: Tensor, w: float, b: float) -> tuple[float, float]:
    """The same two gradients, filled in by `loss.backward()` instead of by hand."""
    w_t = torch.tensor(w, dtype=x.dtype, requires_grad=True)
    b_t = torch.tensor(b, dtype=x.dtype, requires_grad=True)
    loss = nn.functional.mse_loss(w_t * x + b_t, y)
    loss.backward()  # autograd applies the chain rule for us
    assert w_t.grad is not None and b_t.grad is not None
    return float(w_t.grad), float(b_t.grad)


def wrong_mse_gradients(x: Tensor, y: Tensor, w: float, b: float) -> tuple[float, float]:
    """A classic slip on paper: dL/dw without the 2 that the chain rule brings down.

    dL/db is left correct on purpose, so a check must point at w and only at w.
    """
    error = y - (w * x + b)
    return float(-(x * error).mean()), float(-2 * error.mean())


# --- gradient descent: by hand and with the engine's train_step ------------------------


def fit_by_hand(
    x: Tensor, y: Tensor, lr: float, steps: int, start: Point = (0.0, 0.0)
) -> list[FitStep]:
    """Gradient descent with hand-derived gradients: steps + 1 rows, step 0 the start.

    Row k holds (w, b) after k updates and the MSE over all examples there. A too-large
    lr makes the numbers grow without bound (eventually inf/nan); nothing is raised.
    """
    w, b = start
    path = []
    for step in range(steps):
        path.append(FitStep(step, w, b, mse(x, y, w, b)))
        dw, db = mse_gradients_by_hand(x, y, w, b)
        w, b = w - lr * dw, b - lr * db  # step: move against the gradient
    path.append(FitStep(steps, w, b, mse(x, y, w, b)))
    return path


def fit_with_autograd(
    x: Tensor, y: Tensor, lr: float, steps: int, start: Point = (0.0, 0.0)
) -> list[FitStep]:
    """The same descent as `fit_by_hand`, run by the engine's `train_step` on nn.Linear.

    forward, loss, backward and step are PyTorch's; the rows must match the hand fit.
    """
    model, optimizer = _linear_model(start, lr)
    inputs, targets = x[:, None], y[:, None]  # [N, 1]: N examples of one feature each
    loss_fn = nn.MSELoss()
    path = []
    for step in range(steps):
        w, b = _weight_and_bias(model)
        loss = train_step(model, inputs, targets, loss_fn, optimizer)  # loss before the step
        path.append(FitStep(step, w, b, loss.item()))
    w, b = _weight_and_bias(model)
    path.append(FitStep(steps, w, b, mse(x, y, w, b)))
    return path


def _linear_model(start: Point, lr: float) -> tuple[nn.Linear, torch.optim.SGD]:
    model = nn.Linear(1, 1)
    with torch.no_grad():  # set the starting point; this is not a training step
        model.weight.fill_(start[0])
        model.bias.fill_(start[1])
    return model, torch.optim.SGD(model.parameters(), lr=lr)


def _weight_and_bias(model: nn.Linear) -> Point:
    return float(model.weight.detach()[0, 0]), float(model.bias.detach()[0])


def path_frame(path: Sequence[FitStep]) -> pd.DataFrame:
    """A fit's rows as a DataFrame with columns step, w, b, loss."""
    return pd.DataFrame(list(path), columns=list(FitStep._fields))


# --- the loss landscape ----------------------------------------------------------------


def loss_surface(
    x: Tensor, y: Tensor, w_range: Point, b_range: Point, resolution: int = 60
) -> pd.DataFrame:
    """MSE at every point of a resolution x resolution grid over (w, b): columns w, b, loss.

    Raises ValueError if resolution is not between 2 and 200.
    """
    if not 2 <= resolution <= 200:
        raise ValueError(f"resolution = {resolution!r} is not allowed: expected 2 to 200")
    ws = torch.linspace(w_range[0], w_range[1], resolution)
    bs = torch.linspace(b_range[0], b_range[1], resolution)
    grid_w, grid_b = torch.meshgrid(ws, bs, indexing="ij")
    # One forward pass for every grid point at once: predictions have shape [R, R, N].
    predictions = grid_w[..., None] * x + grid_b[..., None]
    loss = ((y - predictions) ** 2).mean(dim=-1)
    return pd.DataFrame(
        {
            "w": grid_w.flatten().numpy(),
            "b": grid_b.flatten().numpy(),
            "loss": loss.flatten().numpy(),
        }
    )


def descent_path(
    x: Tensor, y: Tensor, lr: float, steps: int, start: Point = (0.0, 0.0)
) -> pd.DataFrame:
    """The hand fit's path over the landscape (step, w, b, loss), cut at the first inf/nan."""
    frame = path_frame(fit_by_hand(x, y, lr, steps, start))
    finite = frame[["w", "b", "loss"]].map(math.isfinite).all(axis=1)
    broken = (~finite).to_numpy().nonzero()[0]
    return frame.iloc[: broken[0]] if len(broken) else frame


def hessian(x: Tensor) -> Tensor:
    """Second derivatives of the MSE over (w, b): 2/N X^T X with X = [x, 1] (float64, 2x2).

    It does not depend on y or on (w, b): the MSE bowl has the same shape everywhere.
    """
    design = torch.stack([x, torch.ones_like(x)], dim=1).double()
    return 2.0 / len(x) * design.T @ design


def largest_stable_lr(x: Tensor) -> float:
    """The learning rate above which gradient descent on this MSE diverges: 2 / lambda_max.

    Along the Hessian's steepest direction each step multiplies the distance to the
    minimum by (1 - lr * lambda_max); past 2 / lambda_max that factor is below -1.
    """
    return 2.0 / float(torch.linalg.eigvalsh(hessian(x)).max())


def lr_regime(x: Tensor, lr: float) -> str:
    """'smooth' (no overshoot), 'zig-zag' (overshoots but converges) or 'diverges'."""
    curvature = lr * float(torch.linalg.eigvalsh(hessian(x)).max())
    if curvature <= 1.0:
        return "smooth"
    return "zig-zag" if curvature < 2.0 else "diverges"


# --- batch size: full batch vs stochastic vs mini-batch --------------------------------


def batch_mode(batch_size: int, n_examples: int) -> str:
    """How a batch size is called: full batch, stochastic (B=1) or mini-batch."""
    if batch_size >= n_examples:
        return f"full batch (B={n_examples})"
    return "stochastic (B=1)" if batch_size == 1 else f"mini-batch (B={batch_size})"


def batch_size_curves(
    x: Tensor,
    y: Tensor,
    lr: float,
    epochs: int,
    batch_sizes: Sequence[int] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Train the same line with each batch size and record the loss after every update.

    Columns: mode, batch_size, update (0 = the start), epoch (updates / updates per
    epoch, so modes line up on one axis), loss (MSE over all examples after the update)
    and batch_loss (the loss of the batch the update used; None at the start). Every mode
    starts from (0, 0) and shuffles with the same seed. Default sizes: N, 1 and 16.
    """
    sizes = batch_sizes or (len(x), 1, 16)
    frames = [_train_with_batch_size(x, y, lr, epochs, size, seed) for size in sizes]
    return pd.concat(frames, ignore_index=True)


def _train_with_batch_size(
    x: Tensor, y: Tensor, lr: float, epochs: int, batch_size: int, seed: int
) -> pd.DataFrame:
    model, optimizer = _linear_model((0.0, 0.0), lr)
    loss_fn = nn.MSELoss()
    inputs, targets = x[:, None], y[:, None]
    loader = make_loader(
        Split(inputs, targets),
        batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    per_epoch = math.ceil(len(x) / batch_size)
    mode = batch_mode(batch_size, len(x))
    rows: list[dict[str, Any]] = [
        {"update": 0, "loss": _full_loss(model, inputs, targets), "batch_loss": None}
    ]
    for _ in range(epochs):
        for batch_inputs, batch_targets in loader:
            batch_loss = train_step(model, batch_inputs, batch_targets, loss_fn, optimizer)
            rows.append(
                {
                    "update": len(rows),
                    "batch_loss": batch_loss.item(),
                    "loss": _full_loss(model, inputs, targets),
                }
            )
    frame = pd.DataFrame(rows)
    frame.insert(0, "batch_size", batch_size)
    frame.insert(0, "mode", mode)
    frame.insert(3, "epoch", frame["update"] / per_epoch)
    return frame


@torch.no_grad()
def _full_loss(model: nn.Module, inputs: Tensor, targets: Tensor) -> float:
    # The whole dataset's loss, so the three modes are measured with the same ruler.
    return float(nn.functional.mse_loss(model(inputs), targets))


# --- numerical vs analytical gradients -------------------------------------------------


def mse_of_parameters(x: Tensor, y: Tensor) -> LossOfParameters:
    """L(w, b) for fixed data, computed in the dtype of w (float64 for precise checks)."""

    def loss(w: Tensor, b: Tensor) -> Tensor:
        return nn.functional.mse_loss(w * x.to(w.dtype) + b, y.to(w.dtype))

    return loss


def finite_difference_check(
    f: LossOfParameters,
    params: Sequence[Tensor],
    eps: float = 1e-3,
    analytical: Sequence[Tensor | float] | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Central differences (f(p + eps) - f(p - eps)) / 2 eps against an analytical gradient.

    f takes the parameters in order and returns a scalar loss. It is evaluated in
    float64, where rounding error stays far below the difference a wrong gradient makes.
    `analytical` defaults to autograd's gradient; pass hand-derived gradients to check
    them instead. One row per parameter entry: parameter, index, numerical, analytical,
    abs_error, rel_error, passes (rel_error < CHECK_TOLERANCE).
    """
    values = [p.detach().to(torch.float64).clone() for p in params]
    grads = (
        _autograd_gradients(f, values)
        if analytical is None
        else [torch.as_tensor(g, dtype=torch.float64) for g in analytical]
    )
    labels = list(names) if names is not None else [f"param {i}" for i in range(len(values))]
    rows = []
    for position, (label, grad) in enumerate(zip(labels, grads, strict=True)):
        for index in range(values[position].numel()):
            numerical = _central_difference(f, values, position, index, eps)
            exact = float(grad.reshape(-1)[index])
            error = abs(numerical - exact)
            relative = error / max(abs(numerical), abs(exact), 1e-12)
            rows.append(
                {
                    "parameter": label,
                    "index": index,
                    "numerical": numerical,
                    "analytical": exact,
                    "abs_error": error,
                    "rel_error": relative,
                    "passes": relative < CHECK_TOLERANCE,
                }
            )
    return pd.DataFrame(rows)


def _autograd_gradients(f: LossOfParameters, values: list[Tensor]) -> list[Tensor]:
    leaves = [v.clone().requires_grad_(True) for v in values]
    return list(torch.autograd.grad(f(*leaves), leaves))


def _central_difference(
    f: LossOfParameters, values: list[Tensor], position: int, index: int, eps: float
) -> float:
    # Nudge one number up and down, leave every other parameter where it is.
    plus = [v.clone() for v in values]
    minus = [v.clone() for v in values]
    plus[position].view(-1)[index] += eps
    minus[position].view(-1)[index] -= eps
    with torch.no_grad():
        return float(f(*plus) - f(*minus)) / (2 * eps)


class _MseWithHandBackward(torch.autograd.Function):
    """MSE whose backward is written by hand, so gradcheck can test the derivation."""

    @staticmethod
    def forward(ctx: Any, w: Tensor, b: Tensor, x: Tensor, y: Tensor, factor: float) -> Tensor:
        ctx.save_for_backward(w, b, x, y)
        ctx.factor = factor  # 2.0 is the right derivative; 1.0 forgets the chain rule's 2
        return ((y - (w * x + b)) ** 2).mean()

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        w, b, x, y = ctx.saved_tensors
        error = y - (w * x + b)
        dw = -ctx.factor * (x * error).mean()
        db = -2.0 * error.mean()
        return grad_output * dw, grad_output * db, None, None, None


def gradcheck_results(x: Tensor, y: Tensor, w: float, b: float) -> dict[str, bool]:
    """torch.autograd.gradcheck (float64) on autograd's MSE and on two hand-written backwards.

    Expected: autograd's and the correct hand backward pass; the one missing the 2 fails.
    """
    x64, y64 = x.double(), y.double()
    point = (
        torch.tensor(w, dtype=torch.float64, requires_grad=True),
        torch.tensor(b, dtype=torch.float64, requires_grad=True),
    )

    def hand(factor: float) -> LossOfParameters:
        return lambda w_t, b_t: _MseWithHandBackward.apply(w_t, b_t, x64, y64, factor)

    checks = {
        "autograd's own backward": mse_of_parameters(x64, y64),
        "hand-written backward (correct)": hand(2.0),
        "hand-written backward (forgot the 2)": hand(1.0),
    }
    return {
        name: bool(torch.autograd.gradcheck(f, point, raise_exception=False))
        for name, f in checks.items()
    }


@dataclass(frozen=True)
class GradientCheckExample:
    """Finite differences against three gradients at one (w, b), plus gradcheck's verdicts.

    table: finite_difference_check rows with a `gradient` column naming which gradient
    was checked: "autograd", "by hand (correct)" or "by hand (forgot the 2)".
    """

    w: float
    b: float
    table: pd.DataFrame
    gradcheck: dict[str, bool]


def wrong_gradient_example(
    w: float = 0.5, b: float = -1.0, seed: int = 42, eps: float = 1e-3
) -> GradientCheckExample:
    """Check autograd, the right hand gradient and a wrong one against finite differences.

    The wrong one forgets the factor 2 in dL/dw: its w row fails (relative error 0.5)
    while its b row and both other gradients pass.
    """
    x, y = linear_data(seed)
    x64, y64 = x.double(), y.double()
    f = mse_of_parameters(x64, y64)
    point = [torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)]
    candidates: dict[str, Sequence[float] | None] = {
        "autograd": None,
        "by hand (correct)": mse_gradients_by_hand(x64, y64, w, b),
        "by hand (forgot the 2)": wrong_mse_gradients(x64, y64, w, b),
    }
    frames = []
    for label, gradient in candidates.items():
        frame = finite_difference_check(f, point, eps, gradient, names=("w", "b"))
        frame.insert(0, "gradient", label)
        frames.append(frame)
    return GradientCheckExample(
        w, b, pd.concat(frames, ignore_index=True), gradcheck_results(x, y, w, b)
    )


# --- epochs, batches, iterations -------------------------------------------------------


def iterations(n_examples: int, batch_size: int, epochs: int) -> tuple[int, int]:
    """(iterations per epoch, total iterations) = (ceil(N / B), epochs * ceil(N / B)).

    The ceiling counts the last, smaller batch (a DataLoader with drop_last=False).
    Raises ValueError naming the first argument that is not a whole number >= 1.
    """
    for name, value in (("n_examples", n_examples), ("batch_size", batch_size), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} = {value!r} is not allowed: expected a whole number >= 1")
    per_epoch = math.ceil(n_examples / batch_size)
    return per_epoch, epochs * per_epoch


# --- one training step, taken apart ----------------------------------------------------


class Walkthrough(TypedDict):
    """What one call of the engine's `train_step` did to a batch of four digits."""

    inputs_shape: list[int]
    outputs_shape: list[int]
    targets_shape: list[int]
    labels: list[int]
    predictions: list[int]  # argmax of the outputs the forward pass produced
    loss: float
    chance_loss: float  # ln K: the loss of a model that has learnt nothing yet
    weight_name: str
    weight_before: float
    weight_after: float
    grad: float
    lr: float
    update: float  # weight_after - weight_before
    expected_update: float  # -lr * grad: what plain SGD promises


def one_step_walkthrough(seed: int = 0, batch_size: int = 4, lr: float = 0.1) -> Walkthrough:
    """Run the engine's `train_step` once on a tiny digits batch and report what happened.

    The model is the course's digits MLP (seeded by `seed`) trained with plain SGD, so
    the reported weight obeys after - before == -lr * grad. The weight shown is the
    output-layer weight with the largest gradient, so the change is visible.
    """
    config = default_config("digits", seed=seed, optimizer="sgd", lr=lr)
    data = load_data(config)
    inputs, targets = data.train.inputs[:batch_size], data.train.targets[:batch_size]
    model = build_model(config, data.input_shape, data.n_classes)
    optimizer = make_optimizer(config, model, torch.device("cpu"))
    outputs: list[Tensor] = []  # the forward pass inside train_step, seen through a hook
    hook = model.register_forward_hook(lambda module, args, out: outputs.append(out.detach()))
    weight = dict(model.named_parameters())["out.weight"]
    before = weight.detach().clone()
    loss = train_step(model, inputs, targets, make_loss_fn(config, data), optimizer)
    hook.remove()
    assert weight.grad is not None
    row, column = divmod(int(weight.grad.abs().argmax()), weight.shape[1])
    grad = float(weight.grad[row, column])
    after = float(weight.detach()[row, column])
    return Walkthrough(
        inputs_shape=list(inputs.shape),
        outputs_shape=list(outputs[0].shape),
        targets_shape=list(targets.shape),
        labels=targets.tolist(),
        predictions=outputs[0].argmax(dim=1).tolist(),
        loss=loss.item(),
        chance_loss=math.log(data.n_classes),
        weight_name=f"out.weight[{row}, {column}]",
        weight_before=float(before[row, column]),
        weight_after=after,
        grad=grad,
        lr=lr,
        update=after - float(before[row, column]),
        expected_update=-lr * grad,
    )
