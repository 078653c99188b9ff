"""Lesson 2.4: what an activation does to the signal going forward and the gradient coming back.

Part 1 puts a forward hook on every activation layer of the course's digits MLP
(64 -> 128 -> 64 -> 10) and prints, at initialisation, each layer's mean, spread,
fraction saturated and dead units, for ReLU, sigmoid and tanh; then sigmoid and tanh
again, fed raw pixels instead of standardised ones.
Part 2 sets every hidden bias of the ReLU net to -3 and counts the dead units again,
over the whole set and per batch of 32, then shows which weights still get a gradient.
Part 3 builds stacks of 11 hidden layers of 32 units and prints each layer's weight
gradient norm after one backward pass: sigmoid against ReLU, each with PyTorch's default
init and with the init made for it.

Run it with: python lesson_2_4.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
HIDDEN = (128, 64)  # the course's digits MLP
DEEP = (32,) * 11  # eleven hidden layers of 32 units
DEAD_BIAS = -3.0
BATCH_SIZE = 32
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}

Hook = Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_pixels(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as [N, 64] raw pixels (0 to 16) and their labels."""
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32)
    return x.to(device), torch.tensor(digits.target).to(device)


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Mean 0 and std 1 for every pixel (three border pixels are always 0: left at 0)."""
    std = x.std(dim=0)
    return (x - x.mean(dim=0)) / torch.where(std > 0, std, torch.ones_like(std))


def make_mlp(hidden: tuple[int, ...], activation: str) -> nn.Sequential:
    """fc1, act1, fc2, act2, ..., out: the same starting weights for the same shape."""
    torch.manual_seed(SEED)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    width_in = 64
    for number, width in enumerate(hidden, start=1):
        layers[f"fc{number}"] = nn.Linear(width_in, width)
        layers[f"act{number}"] = ACTIVATIONS[activation]()
        width_in = width
    layers["out"] = nn.Linear(width_in, 10)
    return nn.Sequential(layers)


def keep_outputs(store: list[torch.Tensor]) -> Hook:
    """A forward hook: PyTorch calls it after the layer's forward with (layer, inputs, output)."""

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        store.append(output.detach())  # returning None leaves the output unchanged

    return hook


def record_activations(model: nn.Sequential) -> dict[str, list[torch.Tensor]]:
    """Hook every activation layer; each forward pass then adds one batch of outputs."""
    outputs: dict[str, list[torch.Tensor]] = {}
    for name, layer in model.named_children():
        if name.startswith("act"):
            outputs[name] = []
            layer.register_forward_hook(keep_outputs(outputs[name]))
    return outputs


def saturated(output: torch.Tensor, activation: str) -> torch.Tensor:
    """Where the curve is nearly flat: sigmoid below 0.01 or above 0.99, |tanh| above 0.99."""
    if activation == "sigmoid":
        return (output < 0.01) | (output > 0.99)
    if activation == "tanh":
        return output.abs() > 0.99
    return torch.zeros_like(output, dtype=torch.bool)  # ReLU has no flat top, only its zero


def describe(batches: list[torch.Tensor], activation: str) -> str:
    """One layer's statistics over every example its hook saw, as one line."""
    every = torch.cat(batches)  # [examples, units]
    dead = int((every == 0).all(dim=0).sum())  # units that gave 0 for every example
    line = f"mean {every.mean().item():7.4f}  std {every.std().item():6.4f}  "
    if activation == "relu":
        zeros = (every == 0).float().mean().item()
        return line + f"zero {zeros:7.2%}  dead {dead:3d}/{every.shape[1]}"
    return line + f"saturated {saturated(every, activation).float().mean().item():.2%}"


def activation_statistics(x: torch.Tensor, activations: tuple[str, ...]) -> None:
    """Part 1: every activation layer of the digits MLP at initialisation, by its hook."""
    for activation in activations:
        model = make_mlp(HIDDEN, activation).to(x.device)
        outputs = record_activations(model)
        with torch.no_grad():
            model(x)  # the hooks fire here, once per activation layer
        for name, batches in outputs.items():
            print(f"{activation:<8} {name}  {describe(batches, activation)}")


def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """||dL/dp|| for every parameter after one backward pass over all of x."""
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    return {name: p.grad.norm().item() for name, p in model.named_parameters()}


def dead_relus(x: torch.Tensor, y: torch.Tensor) -> None:
    """Part 2: the same ReLU net with every hidden bias at -3."""
    model = make_mlp(HIDDEN, "relu").to(x.device)
    with torch.no_grad():
        for name, layer in model.named_children():
            if name.startswith("fc"):
                layer.bias.fill_(DEAD_BIAS)
    outputs = record_activations(model)
    with torch.no_grad():
        for batch in x.split(BATCH_SIZE):  # 57 batches, each seen by the hooks
            model(batch)
        weighted = x @ model.fc1.weight.T  # w . x for every unit and example, before the bias
    print(f"\npart 2: ReLU with every hidden bias at {DEAD_BIAS:g}")
    print(
        f"fc1's weighted inputs w.x: std {weighted.std().item():.4f}, "
        f"largest {weighted.max().item():.4f}"
    )
    for name, batches in outputs.items():
        per_batch = sum((b == 0).all(dim=0).float().mean().item() for b in batches)
        print(
            f"relu     {name}  {describe(batches, 'relu')}  "
            f"dead per batch of {BATCH_SIZE}: {per_batch / len(batches):.1%}"
        )
    shown = "  ".join(f"{name} {norm:.4g}" for name, norm in gradient_norms(model, x, y).items())
    print(f"gradient norms: {shown}")


def deep_stack(activation: str, init: Callable[[torch.Tensor], object] | None) -> nn.Sequential:
    """Eleven hidden layers of 32 units; `init` re-draws every weight (biases then 0)."""
    model = make_mlp(DEEP, activation)
    if init is not None:
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                init(layer.weight)
                nn.init.zeros_(layer.bias)
    return model


def vanishing_gradients(x: torch.Tensor, y: torch.Tensor) -> None:
    """Part 3: each layer's weight gradient in 11-layer sigmoid and ReLU stacks at init."""
    stacks = {
        "sigmoid": deep_stack("sigmoid", None),
        "sigmoid+xavier": deep_stack("sigmoid", nn.init.xavier_normal_),
        "relu": deep_stack("relu", None),
        "relu+kaiming": deep_stack(
            "relu", lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")
        ),
    }
    sigmoid_outputs = record_activations(stacks["sigmoid"])
    columns = {}
    for name, model in stacks.items():
        norms = gradient_norms(model.to(x.device), x, y)
        columns[name] = [norm for key, norm in norms.items() if key.endswith("weight")]
    print(f"\npart 3: ||dL/dW|| per layer, {len(DEEP)} hidden layers of {DEEP[0]} units, at init")
    print(f"{'layer':<9}" + "".join(f"{name:>16}" for name in columns))
    layers = [f"fc{n}" for n in range(1, len(DEEP) + 1)] + ["out"]
    for row, layer in enumerate(layers):
        print(f"{layer:<9}" + "".join(f"{column[row]:16.2e}" for column in columns.values()))
    print(f"{'out/fc1':<9}" + "".join(f"{c[-1] / c[0]:16.3g}" for c in columns.values()))
    # (fc1 / out) ** (1/11): the factor the gradient is multiplied by per layer, on average
    per_layer = [(c[0] / c[-1]) ** (1 / len(DEEP)) for c in columns.values()]
    print(f"{'per layer':<9}" + "".join(f"{factor:16.3f}" for factor in per_layer))

    # The sigmoid's slope is s (1 - s) where s is its output: read it off the hooks.
    means = [(s[0] * (1 - s[0])).mean().item() for s in sigmoid_outputs.values()]
    print(f"mean sigmoid slope per layer: {' '.join(f'{m:.3f}' for m in means)}")
    print(
        f"their product {math.prod(means):.2e}; at most 0.25^{len(DEEP)} = {0.25 ** len(DEEP):.2e}"
    )
    print(f"4^{len(DEEP)} = {4 ** len(DEEP):,}")


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    pixels, y = load_pixels(device)
    x = standardise(pixels)
    print(f"device: {device.type}")
    print(f"part 1: the digits MLP at initialisation, all {len(x)} examples standardised")
    activation_statistics(x, tuple(ACTIVATIONS))
    print("the same nets fed raw pixels (0 to 16):")
    activation_statistics(pixels, ("sigmoid", "tanh"))
    dead_relus(x, y)
    vanishing_gradients(x, y)


if __name__ == "__main__":
    main()
