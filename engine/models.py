"""The models a run can train, built from its config."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from engine.config import RunConfig

ACTIVATION_LAYERS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,  # slope 0.01 below zero: a negative input still passes a gradient
    "identity": nn.Identity,  # no bend at all: the whole MLP is one linear map
}


def mlp(
    in_features: int,
    hidden: tuple[int, ...],
    n_out: int,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    layer_norm: bool = False,
) -> nn.Sequential:
    """A multi-layer perceptron: flatten, then (linear, [norm], activation, [dropout]) blocks.

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
    return nn.Sequential(layers)


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
        )
    initialise(model, config.init)
    return model


def _as_image(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(
            f"the cnn model needs image data (channels, height, width), "
            f"got examples of shape {input_shape}; use the mlp model"
        )
    channels, height, width = input_shape
    return channels, height, width


def initialise(model: nn.Module, scheme: str) -> None:
    """Re-initialise every linear and conv layer: default, xavier, kaiming or zeros."""
    if scheme == "default":
        return  # PyTorch's own per-layer defaults (Kaiming-uniform with a=sqrt(5))
    for layer in model.modules():
        if not isinstance(layer, (nn.Linear, nn.Conv2d)):
            continue
        if scheme == "zeros":
            nn.init.zeros_(layer.weight)
        elif scheme == "xavier":
            nn.init.xavier_uniform_(layer.weight)
        else:
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable numbers in the model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
