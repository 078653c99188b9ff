"""Bugs in how the model is built or switched between training and evaluation."""

from __future__ import annotations

import math
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
