"""The models a run can train, built from its config."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from engine.config import RunConfig

ACTIVATION_LAYERS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,  # slope 0.01 below zero: a negative input still passes a gradient
    "identity": nn.Identity,  # no bend at all: the whole MLP is one linear map
}


class ResidualMLP(nn.Sequential):
    """An MLP whose blocks add their input back: x + block(x) wherever a block keeps the
    width. The gradient then has a path through every block that multiplies by one.

    The layers keep the plain MLP's names (fc1, act1, ..., out), so a residual net and a
    plain one of the same widths start from the same weights and read alike per layer.
    """

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        x = self.flatten(x)
        for block in self.blocks():
            h = x
            for layer in block:
                h = layer(h)
            x = x + h if h.shape == x.shape else h  # a skip only where the shapes agree
        return self.out(x)

    def blocks(self) -> list[list[nn.Module]]:
        """The hidden blocks in order, each the layers named with its number."""
        grouped: dict[str, list[nn.Module]] = {}
        for name, layer in self.named_children():
            number = name.lstrip("abcdefghijklmnopqrstuvwxyz")
            if number:
                grouped.setdefault(number, []).append(layer)
        return list(grouped.values())


def mlp(
    in_features: int,
    hidden: tuple[int, ...],
    n_out: int,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    layer_norm: bool = False,
    residual: bool = False,
) -> nn.Sequential:
    """A multi-layer perceptron: flatten, then (linear, [norm], activation, [dropout]) blocks,
    each added to its input when residual (and the widths agree).

    Layers are named fc1, fc2, ..., out so per-layer gradient norms read naturally.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
    width_in = in_features
    for number, width in enumerate(hidden, start=1):
        layers[f"fc{number}"] = nn.Linear(width_in, width)
        if batch_norm:
            layers[f"bn{number}"] = nn.BatchNorm1d(width)  # each unit, over the batch
        if layer_norm:
            layers[f"ln{number}"] = nn.LayerNorm(width)  # each example, over its units
        layers[f"act{number}"] = ACTIVATION_LAYERS[activation]()
        if dropout > 0:
            layers[f"drop{number}"] = nn.Dropout(dropout)
        width_in = width
    layers["out"] = nn.Linear(width_in, n_out)
    return ResidualMLP(layers) if residual else nn.Sequential(layers)


def small_cnn(
    input_shape: tuple[int, ...],
    n_out: int,
    dropout: float = 0.0,
    batch_norm: bool = False,
    layer_norm: bool = False,
) -> nn.Sequential:
    """Two 3x3 convolutions with 2x2 pooling, then a 64-unit dense layer (8x8 or 28x28 input).

    With a norm, each convolution is followed by BatchNorm2d (each channel over the batch
    and the pixels) or by a layer norm (each example over its channels and pixels).
    """
    channels, height, width = input_shape
    flat = 32 * (height // 4) * (width // 4)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for number, (width_in, width_out) in enumerate(((channels, 16), (16, 32)), start=1):
        layers[f"conv{number}"] = nn.Conv2d(width_in, width_out, kernel_size=3, padding=1)
        if batch_norm:
            layers[f"bn{number}"] = nn.BatchNorm2d(width_out)
        if layer_norm:  # one group holding every channel: normalised per example
            layers[f"ln{number}"] = nn.GroupNorm(1, width_out)
        layers[f"act{number}"] = nn.ReLU()
        layers[f"pool{number}"] = nn.MaxPool2d(2)
    layers.update(
        flatten=nn.Flatten(),
        fc1=nn.Linear(flat, 64),
        act3=nn.ReLU(),
        drop=nn.Dropout(dropout),
        out=nn.Linear(64, n_out),
    )
    return nn.Sequential(layers)


def linear_regression(in_features: int) -> nn.Sequential:
    """y = x w + b: one linear layer with a single output."""
    return nn.Sequential(OrderedDict(flatten=nn.Flatten(), linear=nn.Linear(in_features, 1)))


def build_model(config: RunConfig, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    """Build the config's model with initial weights drawn from the config's seed.

    Seeding here, right before the layers are made, is what gives a baseline and a
    variant with the same architecture identical starting weights.
    """
    torch.manual_seed(config.seed)
    in_features = math.prod(input_shape)
    if config.model == "linear":
        model: nn.Module = linear_regression(in_features)
    elif config.model == "cnn":
        model = small_cnn(
            _as_image(input_shape),
            n_classes,
            config.dropout,
            config.batch_norm,
            config.layer_norm,
        )
    else:
        model = mlp(
            in_features,
            config.hidden,
            n_classes or 1,  # regression (no classes): one number out
            config.activation,
            config.dropout,
            config.batch_norm,
            config.layer_norm,
            config.residual,
        )
    initialise(model, config.init, config.init_scale)
    return model


def _as_image(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(
            f"the cnn model needs image data (channels, height, width), "
            f"got examples of shape {input_shape}; use the mlp model"
        )
    channels, height, width = input_shape
    return channels, height, width


INIT_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "zeros": nn.init.zeros_,
    "xavier": nn.init.xavier_uniform_,  # variance 2 / (fan_in + fan_out): tanh, sigmoid
    "xavier_normal": nn.init.xavier_normal_,
    "kaiming": partial(nn.init.kaiming_uniform_, nonlinearity="relu"),  # 2 / fan_in: ReLU
    "kaiming_normal": partial(nn.init.kaiming_normal_, nonlinearity="relu"),
}


def initialise(model: nn.Module, scheme: str, scale: float = 1.0) -> None:
    """Re-initialise every linear and conv layer's weights by the scheme (default leaves
    PyTorch's own), zero the biases of the ones it redraws, then multiply every weight by
    scale (a too-small or too-large start on purpose)."""
    for layer in model.modules():
        if not isinstance(layer, (nn.Linear, nn.Conv2d)):
            continue
        if scheme != "default":  # default: Kaiming-uniform with a=sqrt(5), biases random
            INIT_FUNCTIONS[scheme](layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        if scale != 1.0:
            with torch.no_grad():
                layer.weight.mul_(scale)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable numbers in the model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
