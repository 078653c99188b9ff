"""Bugs in how the model is built or switched between training and evaluation."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import replace

import torch
from torch import Tensor, nn

from engine.models import ACTIVATION_LAYERS
from engine.step import Evaluation, LossFn, Split, TrainingParts, summarise
from engine.variants.variant import Variant


class UnregisteredMLP(nn.Module):
    """An MLP whose hidden layers sit in a plain Python list, invisible to nn.Module."""

    def __init__(
        self, in_features: int, hidden: tuple[int, ...], n_out: int, activation: str
    ) -> None:
        super().__init__()
        widths = (in_features, *hidden)
        # BUG: a plain list, not nn.ModuleList: model.parameters() never sees these layers
        self.hidden = [nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)]
        self.act = ACTIVATION_LAYERS[activation]()
        self.out = nn.Linear(widths[-1], n_out)

    def forward(self, inputs: Tensor) -> Tensor:
        x = inputs.flatten(start_dim=1)
        for layer in self.hidden:
            x = self.act(layer(x))
        return self.out(x)


def keep_layers_in_a_list(parts: TrainingParts) -> TrainingParts:
    """Rebuild the model with the same seed, so its starting weights match the baseline's."""
    config, data = parts.config, parts.data
    torch.manual_seed(config.seed)
    model = UnregisteredMLP(
        math.prod(data.input_shape), config.hidden, data.n_classes, config.activation
    )
    return replace(parts, model=model)


class Detached(nn.Module):
    """Passes its input on cut from the graph: what a stray `.detach()` in forward does."""

    def forward(self, x: Tensor) -> Tensor:
        # BUG: .detach() here, so backward() never reaches the layers before this point
        return x.detach()


def detach_after_first_layer(parts: TrainingParts) -> TrainingParts:
    """The same model (same starting weights) with its first hidden layer's output detached."""
    layers = OrderedDict(parts.model.named_children())
    if "act1" not in layers:
        raise ValueError("stray_detach needs a model with a hidden layer (act1)")
    first_block_end = "drop1" if "drop1" in layers else "act1"
    rebuilt: OrderedDict[str, nn.Module] = OrderedDict()
    for name, layer in layers.items():
        rebuilt[name] = layer
        if name == first_block_end:
            rebuilt["detach1"] = Detached()
    return replace(parts, model=nn.Sequential(rebuilt))


DEAD_BIAS = -3.0  # far below the ~0.6 spread of a hidden unit's weighted input at the start


@torch.no_grad()
def push_biases_negative(parts: TrainingParts) -> TrainingParts:
    """Every hidden layer's bias set to DEAD_BIAS: its ReLUs start (and stay) switched off."""
    for name, layer in parts.model.named_children():
        if isinstance(layer, nn.Linear) and name != "out":
            layer.bias.fill_(DEAD_BIAS)
    return parts


def activation_line(activation: str) -> str:
    """How a learner writes the activation layer, e.g. `act = nn.ReLU()`."""
    return f"act = nn.{ACTIVATION_LAYERS[activation].__name__}()"


@torch.no_grad()
def evaluate_without_eval_mode(model: nn.Module, split: Split, loss_fn: LossFn) -> Evaluation:
    """The healthy evaluate() with model.eval() forgotten: dropout stays on."""
    # BUG: no model.eval(), so dropout keeps switching units off while validating
    chunks = split.inputs.split(8192)  # a few thousand at a time keeps memory bounded
    outputs = torch.cat([model(chunk) for chunk in chunks])
    model.train()
    return summarise(outputs, split, loss_fn)


VARIANTS = (
    Variant(
        id="identity_activation",
        title="No nonlinearity between the layers",
        category="model",
        lessons=("2.1", "2.7"),
        symptom="Learns only what a linear model can: a straight boundary, a straight line.",
        why="A linear layer followed by a linear layer is one linear layer: W2 (W1 x + b1) + b2 "
        "= (W2 W1) x + (W2 b1 + b2). Without a bend between them, any number of layers adds "
        "parameters but no power, so the model can only draw straight boundaries between "
        "classes and straight lines through data.",
        fix="Put a nonlinearity (ReLU, tanh, GELU) after every hidden layer; check the model "
        "by printing it, and look for the activation between the linear layers.",
        healthy_code=activation_line("relu"),
        broken_code=activation_line("identity"),
        expected_label="overfitting",
        configure=lambda base: {"activation": "identity"},
        code_for=lambda base: (activation_line(base.activation), activation_line("identity")),
    ),
    Variant(
        id="stray_detach",
        title="A stray .detach() in forward",
        category="model",
        lessons=("2.2",),
        symptom="The curves can look nearly healthy; the first layer's gradient norm is exactly 0.",
        healthy_code="x = self.act(x)",
        broken_code="x = self.act(x)\nif number == 0:  # the first hidden layer's output\n"
        "    x = x.detach()",
        why="detach() returns the same numbers cut from the computation graph. backward() "
        "stops there, so the first layer never gets a gradient (its .grad stays None) and "
        "keeps its random starting weights. The layers after it still learn, on top of "
        "frozen random features, which is why the loss can fall and hide the bug.",
        fix="Remove the .detach() (use it only where a value must not train anything: targets, "
        "logged numbers); print each layer's gradient norm after loss.backward() for one batch.",
        expected_label="frozen_layer",
        break_loop=detach_after_first_layer,
    ),
    Variant(
        id="dead_relu",
        title="Dead ReLUs from a large negative bias",
        category="model",
        lessons=("2.4",),
        symptom="Almost every hidden unit outputs 0 for every input; the loss hardly moves.",
        healthy_code="model = build_model(in_features, n_classes)",
        broken_code="model = build_model(in_features, n_classes)\nfor layer in model.hidden:\n"
        f"    nn.init.constant_(layer.bias, {DEAD_BIAS})",
        why="A ReLU outputs 0 and passes back a gradient of 0 whenever its input is negative. "
        f"With every hidden bias at {DEAD_BIAS:g}, far below where the weighted inputs reach, "
        "almost every unit is negative for every example: it is dead. Dead units send no "
        "gradient to their weights or biases, so they cannot climb back, and the output layer "
        "sees almost nothing to learn from.",
        fix="Keep biases near 0 at the start (PyTorch's default, or zeros with Kaiming init); "
        "count the units that are 0 for a whole batch with a forward hook; a LeakyReLU or a "
        "lower learning rate keeps units from dying during training.",
        expected_label="collapsed",
        break_loop=push_biases_negative,
    ),
    Variant(
        id="unregistered_layers",
        title="Hidden layers kept in a plain list",
        category="model",
        lessons=("2.3",),
        symptom="Fewer parameters reach the optimizer; hidden layers never learn; low plateau.",
        healthy_code="self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)",
        broken_code="self.hidden = [nn.Linear(a, b) for a, b in pairs]",
        why="nn.Module only registers layers stored as attributes or in nn.ModuleList / "
        "nn.Sequential. Layers in a plain list are missing from model.parameters(), so "
        "the optimizer never updates them (and .to(device) never moves them): only the "
        "output layer learns, on top of frozen random features.",
        fix="Store sub-layers in nn.ModuleList (or nn.Sequential); check "
        "sum(p.numel() for p in model.parameters()) against what you expect.",
        expected_label="underfitting",
        break_loop=keep_layers_in_a_list,
    ),
    Variant(
        id="dropout_in_eval",
        title="Validation without model.eval()",
        category="evaluation",
        lessons=("2.6", "3.6"),
        symptom="Noisy, lower validation metrics; validating twice gives two numbers.",
        why="torch.no_grad() only stops gradient tracking; it is model.eval() that turns "
        "dropout off. Left in training mode, validation drops half the hidden units at "
        "random, so its numbers are worse than the model really is and change from one "
        "evaluation to the next.",
        fix="Call model.eval() before validating and model.train() before training again; "
        "use both eval() and no_grad().",
        expected_label="healthy",
        requires={"dropout": 0.5},
        broken_evaluate=evaluate_without_eval_mode,
    ),
)
