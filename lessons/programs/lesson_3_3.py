"""Lesson 3.3: how the starting weights decide whether a deep network can learn at all.

Part 1 draws one 128 x 128 layer with each of PyTorch's initialisers and compares the
spread of its weights with the formula behind it.
Part 2 sends 500 digits through a deep MLP (15 hidden layers of 128 units) at
initialisation, with tanh and with ReLU, for six ways of drawing the weights: zeros, the
activation's own init scaled by 0.1, PyTorch's default, Xavier, Kaiming, and the own init
scaled by 3. It prints the activations' spread and the loss's gradient at a few depths.
Nothing is trained in parts 1 and 2.
Part 3 trains a smaller deep MLP (10 hidden layers of 32 units, full batch, Adam) from six
of those starts and looks inside the zero-initialised one: did its units ever differ?

Run it with: python lesson_3_3.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
N_TRAIN = 500  # training digits, also the batch part 2 measures; the other 1,297 validate
DEPTH, WIDTH = 15, 128  # part 2: the deep MLP measured at initialisation
SHOW_STD, SHOW_GRAD = (1, 5, 10, 15), (1, 8, 15)  # the layers whose numbers are printed
TRAIN_DEPTH, TRAIN_WIDTH = 10, 32  # part 3: a smaller deep MLP, quick to train
STEPS, LR = 40, 3e-3  # full-batch Adam steps: every step sees all 500 training digits
SMALL, LARGE = 0.1, 3.0  # too small, too large: factors on the activation's own init
RUNS = (  # part 3: (activation, start); zeros gives the same numbers with tanh or ReLU
    ("relu", "zeros"),
    ("tanh", f"{SMALL:g}x xavier"),
    ("tanh", "xavier"),
    ("tanh", f"{LARGE:g}x xavier"),
    ("relu", "kaiming"),
    ("relu", f"{LARGE:g}x kaiming"),
)
Init = Callable[[torch.Tensor], object]  # fills a weight tensor in place


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def kaiming(weight: torch.Tensor) -> object:
    """Kaiming (He) uniform for ReLU: variance 2 / fan_in."""
    return nn.init.kaiming_uniform_(weight, nonlinearity="relu")


def kaiming_normal(weight: torch.Tensor) -> object:
    """Kaiming (He) normal for ReLU: variance 2 / fan_in."""
    return nn.init.kaiming_normal_(weight, nonlinearity="relu")


def scaled(init: Init, factor: float) -> Init:
    """The same init with every weight multiplied by factor (too small, too large)."""

    def draw(weight: torch.Tensor) -> object:
        init(weight)
        return weight.mul_(factor)

    return draw


def starts(activation: str) -> dict[str, Init | None]:
    """Six ways to draw the weights; None keeps PyTorch's default (random biases too).

    The scaled starts scale the activation's own init: Xavier for tanh, Kaiming for ReLU.
    """
    own = "xavier" if activation == "tanh" else "kaiming"
    own_init = nn.init.xavier_uniform_ if activation == "tanh" else kaiming
    return {
        "zeros": nn.init.zeros_,
        f"{SMALL:g}x {own}": scaled(own_init, SMALL),
        "default": None,
        "xavier": nn.init.xavier_uniform_,
        "kaiming": kaiming,
        f"{LARGE:g}x {own}": scaled(own_init, LARGE),
    }


def deep_mlp(depth: int, width: int, activation: str, init: Init | None) -> nn.Sequential:
    """64 inputs, `depth` hidden layers of `width` units, 10 outputs. `init` redraws every
    weight and zeroes every bias; None keeps PyTorch's default."""
    torch.manual_seed(SEED)  # every start draws from the same random numbers
    sizes = [64] + [width] * depth
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(n_in, n_out), nn.Tanh() if activation == "tanh" else nn.ReLU()]
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)
    if init is not None:
        with torch.no_grad():
            for layer in model:
                if isinstance(layer, nn.Linear):
                    init(layer.weight)
                    nn.init.zeros_(layer.bias)
    return model


def show_init_formulas() -> None:
    """Part 1: each initialiser's std from its formula against the std of a drawn layer."""
    fan_in = fan_out = WIDTH
    xavier_std = math.sqrt(2 / (fan_in + fan_out))
    kaiming_std = math.sqrt(2 / fan_in)
    rows: list[tuple[str, Init | None, float, float | None]] = [
        # name, how to draw, the formula's std, the uniform bound sqrt(3) * std
        ("default", None, 1 / math.sqrt(3 * fan_in), 1 / math.sqrt(fan_in)),
        ("xavier_uniform_", nn.init.xavier_uniform_, xavier_std, math.sqrt(3) * xavier_std),
        ("xavier_normal_", nn.init.xavier_normal_, xavier_std, None),
        ("kaiming_uniform_", kaiming, kaiming_std, math.sqrt(3) * kaiming_std),
        ("kaiming_normal_", kaiming_normal, kaiming_std, None),
    ]
    print(f"part 1: one {fan_in} x {fan_out} layer ({fan_in * fan_out:,} weights)")
    print(f"{'init':<17} {'formula std':>11} {'drawn std':>9} {'bound':>7} {'max |w|':>8}")
    for name, init, std, bound in rows:
        torch.manual_seed(SEED)
        weight = nn.Linear(fan_in, fan_out).weight.detach()
        if init is not None:
            init(weight)
        drawn, largest = weight.std().item(), weight.abs().max().item()
        shown = f"{bound:7.4f}" if bound is not None else f"{'-':>7}"
        print(f"{name:<17} {std:11.4f} {drawn:9.4f} {shown} {largest:8.4f}")


def probe(
    model: nn.Sequential, x: torch.Tensor, y: torch.Tensor
) -> tuple[list[float], list[float], torch.Tensor]:
    """One forward and one backward, no step: each hidden layer's activation std, each
    linear layer's weight-gradient norm, and the last hidden layer's activations."""
    stds, h, last_hidden = [], x, x
    for layer in model:
        h = layer(h)
        if not isinstance(layer, nn.Linear):  # after each activation
            stds.append(h.std().item())
            last_hidden = h
    nn.functional.cross_entropy(h, y).backward()
    grads = [layer.weight.grad.norm().item() for layer in model if isinstance(layer, nn.Linear)]
    return stds, grads, last_hidden.detach()


def show_signal_through_depth(x: torch.Tensor, y: torch.Tensor) -> None:
    """Part 2: activation spread and gradient size through DEPTH layers, nothing trained."""
    print(f"\npart 2: {DEPTH} hidden layers of {WIDTH}, {len(y)} digits, at initialisation")
    std_head = " ".join(f"{'std ' + str(n):>8}" for n in SHOW_STD)
    grad_head = " ".join(f"{'grad ' + str(n):>8}" for n in SHOW_GRAD)
    for activation in ("tanh", "relu"):
        print(f"{activation:<13} {std_head}  {grad_head}")
        for name, init in starts(activation).items():
            model = deep_mlp(DEPTH, WIDTH, activation, init).to(x.device)
            stds, grads, last = probe(model, x, y)
            row = " ".join(f"{stds[n - 1]:8.2e}" for n in SHOW_STD)
            row += "  " + " ".join(f"{grads[n - 1]:8.2e}" for n in SHOW_GRAD)
            print(f"{name:<13} {row}")
            if activation == "tanh" and name in ("xavier", f"{LARGE:g}x xavier"):
                saturated = (last.abs() > 0.99).float().mean().item()
                slope = (1 - last**2).mean().item()  # tanh'(z) = 1 - tanh(z)^2
                print(f"{'':13} layer {DEPTH}: {saturated:.1%} of values at |a| > 0.99, "
                      f"mean slope {slope:.3f}")  # fmt: skip


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of correct predictions."""
    return (model(x).argmax(dim=1) == y).float().mean().item()


def train(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """STEPS full-batch Adam steps; returns the loss before the first step and after the last."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)  # forward, loss
        loss.backward()  # backward
        optimizer.step()  # step
        losses.append(loss.item())
    with torch.no_grad():
        final = nn.functional.cross_entropy(model(x), y).item()
    return losses[0], final


def show_symmetry(model: nn.Sequential, val_x: torch.Tensor, val_y: torch.Tensor) -> None:
    """Look inside a zero-initialised model after training, unit by unit."""
    linears = [layer for layer in model if isinstance(layer, nn.Linear)]
    largest = max(layer.weight.abs().max().item() for layer in linears)
    # Row j of a weight matrix holds unit j's incoming weights: compare every row with row 0.
    apart = max((layer.weight - layer.weight[0]).abs().max().item() for layer in linears[:-1])
    print(f"{'':18} after training: largest |w| of any layer {largest:.1f}; "
          f"hidden units differ by at most {apart:.1f}")  # fmt: skip
    with torch.no_grad():
        predicted = model(val_x).argmax(dim=1)
    same = (predicted == predicted[0]).float().mean().item()
    share = (val_y == predicted[0]).float().mean().item()
    bias, label = linears[-1].bias.norm().item(), predicted[0].item()
    print(f"{'':18} output bias norm {bias:.3f}; class {label} predicted for {same:.0%} "
          f"of val digits ({share:.3f} are)")  # fmt: skip


def show_training(data: tuple[torch.Tensor, ...]) -> None:
    """Part 3: train from six starts; look inside the zero-initialised one afterwards."""
    train_x, train_y, val_x, val_y = data
    print(f"\npart 3: {TRAIN_DEPTH} hidden layers of {TRAIN_WIDTH}, {STEPS} full-batch Adam "
          f"steps (lr {LR:g}), {len(val_y)} validation digits")  # fmt: skip
    print(f"{'run':<18} {'loss before':>11} {'after':>9} {'train acc':>9} {'val acc':>7}")
    for activation, name in RUNS:
        init = starts(activation)[name]
        model = deep_mlp(TRAIN_DEPTH, TRAIN_WIDTH, activation, init).to(train_x.device)
        before, after = train(model, train_x, train_y)
        train_acc, val_acc = accuracy(model, train_x, train_y), accuracy(model, val_x, val_y)
        run = f"{activation} {name}"
        print(f"{run:<18} {before:11.3f} {after:9.3f} {train_acc:9.3f} {val_acc:7.3f}")
        if name == "zeros":
            show_symmetry(model, val_x, val_y)


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    print(f"device: {device.type}")
    show_init_formulas()

    digits = load_digits()  # bundled with scikit-learn: no download
    x = torch.tensor(digits.data, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    train_idx, val_idx = order[:N_TRAIN], order[N_TRAIN:]
    mean, std = x[train_idx].mean(dim=0), x[train_idx].std(dim=0)  # training digits only
    x = (x - mean) / torch.where(std > 1e-6, std, torch.ones_like(std))
    x, y = x.to(device), y.to(device)
    train_x, train_y = x[train_idx.to(device)], y[train_idx.to(device)]
    val_x, val_y = x[val_idx.to(device)], y[val_idx.to(device)]
    show_signal_through_depth(train_x, train_y)
    show_training((train_x, train_y, val_x, val_y))


if __name__ == "__main__":
    main()
