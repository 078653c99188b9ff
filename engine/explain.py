"""Plain-language readings of the exceptions a broken training loop raises."""

from __future__ import annotations

# (substring of the message, explanation). The first match wins; order from specific to general.
READINGS: tuple[tuple[str, str], ...] = (
    (
        "not implemented for 'Long'",
        "The loss received integer class labels where it expected floating-point scores. "
        "CrossEntropyLoss wants (logits, labels) in that order: the arguments are probably "
        "swapped, so it tried to take a softmax of the labels.",
    ),
    (
        "expected scalar type Long",
        "The loss expected integer class indices as the target but got floats (or the "
        "other way round). Check the target dtype and the order of the loss arguments.",
    ),
    (
        "optimizer got an empty parameter list",
        "The optimizer was given no parameters to update: the model's layers were probably "
        "kept somewhere nn.Module cannot see (a plain list instead of nn.ModuleList).",
    ),
    (
        "mat1 and mat2 shapes cannot be multiplied",
        "A layer received inputs of a different size than it was built for: check that the "
        "first layer's input size matches the flattened example size.",
    ),
    (
        "size mismatch",
        "Two tensors that must line up have different shapes: compare the "
        "model output's shape with the target's shape.",
    ),
    (
        "does not require grad",
        "backward() was called on a value with no autograd history: the loss was detached "
        "(for example with .item() or .detach()) or computed under torch.no_grad().",
    ),
    (
        "out of bounds",
        "A class label is outside 0..K-1 for a K-class output: check the labels and the "
        "size of the final layer.",
    ),
    ("CUDA out of memory", "The batch or model does not fit in GPU memory: lower the batch size."),
)


def explain_error(error: BaseException) -> str:
    """A sentence or two a learner can act on, for an exception raised while training."""
    message = str(error)
    for fragment, reading in READINGS:
        if fragment.lower() in message.lower():
            return reading
    return (
        f"PyTorch raised {type(error).__name__} while training. Read the message from the "
        "end: it usually names the operation and the shapes or dtypes that disagreed."
    )
