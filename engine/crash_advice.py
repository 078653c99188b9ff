"""What a crashed training run means and what to try next, read from the exception's message.

One table, KNOWN_ERRORS, holds everything the app knows about the errors a broken training loop
raises: the message fragments that identify each error, an explanation of why it happened (shown
with the traceback, for a learner) and the next experiment to run (shown by the Curve Doctor).
Only the standard library is used, so any part of the app can import this module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownError:
    """One error a broken training loop raises, how to recognise it, and what to do about it."""

    fragments: tuple[str, ...]  # any of these in the message identifies it (case-insensitive)
    explanation: str  # why it happened, in plain language
    next_experiment: str  # one concrete thing to try


# Advice shared by several entries: different messages, same fix.
_DTYPE_FIX = (
    "The loss got the wrong dtype: call criterion(logits, targets) with float logits first and "
    "integer class indices second."
)
_SHAPE_FIX = (
    "Print x.shape, logits.shape and targets.shape for one batch and fix the first layer whose "
    "input size disagrees."
)
_TARGET_FIX = (
    "Print targets.min() and targets.max() for one batch: labels must run from 0 to K-1 and the "
    "last layer must have K outputs."
)

# The first entry with a fragment in the message wins: most specific first.
KNOWN_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        ("expected all tensors to be on the same device",),
        "One operation got tensors from two devices, the CPU and a GPU. Something was not "
        "moved with .to(device): the batch, the labels, or layers that model.to(device) "
        "cannot see because they sit in a plain Python list instead of nn.ModuleList.",
        "Print {p.device for p in model.parameters()} next to inputs.device and "
        "targets.device for one batch; move whatever is left on the CPU, and keep sub-layers "
        "in nn.ModuleList so model.to(device) moves them.",
    ),
    KnownError(
        ("not implemented for 'Long'",),
        "The loss received integer class labels where it expected floating-point scores. "
        "CrossEntropyLoss wants (logits, labels) in that order: the arguments are probably "
        "swapped, so it tried to take a softmax of the labels.",
        _DTYPE_FIX,
    ),
    KnownError(
        ("expected scalar type Long",),
        "The loss expected integer class indices as the target but got floats (or the "
        "other way round). Check the target dtype and the order of the loss arguments.",
        _DTYPE_FIX,
    ),
    KnownError(
        ("for 'Long'", "expected scalar type", "dtype"),
        "Two tensors that meet in one operation have different dtypes (float32 and float64, or "
        "floats and integers), or a tensor has a dtype the operation does not support.",
        _DTYPE_FIX,
    ),
    KnownError(
        ("optimizer got an empty parameter list",),
        "The optimizer was given no parameters to update: the model's layers were probably "
        "kept somewhere nn.Module cannot see (a plain list instead of nn.ModuleList).",
        "Print len(list(model.parameters())): if it is 0, hold the layers in nn.ModuleList or "
        "nn.Sequential (not a plain list) and build the optimizer again.",
    ),
    KnownError(
        ("mat1 and mat2 shapes cannot be multiplied",),
        "A layer received inputs of a different size than it was built for: check that the "
        "first layer's input size matches the flattened example size.",
        _SHAPE_FIX,
    ),
    KnownError(
        ("size mismatch",),
        "Two tensors that must line up have different shapes: compare the "
        "model output's shape with the target's shape.",
        _SHAPE_FIX,
    ),
    KnownError(
        ("mat1 and mat2", "shape", "must match the size"),
        "Two tensors in one operation have shapes that do not fit together: the message names "
        "the sizes that disagree.",
        _SHAPE_FIX,
    ),
    KnownError(
        ("out of memory",),
        "The batch or model does not fit in GPU memory: lower the batch size.",
        "Halve the batch size (e.g. 64 -> 32) and rerun; keep loss.item() in the history, not "
        "the loss tensor.",
    ),
    KnownError(
        ("out of bounds",),
        "A class label is outside 0..K-1 for a K-class output: check the labels and the "
        "size of the final layer.",
        _TARGET_FIX,
    ),
    KnownError(
        ("target",),
        "The loss could not use the targets (the labels passed as its second argument): the "
        "message says whether their values, dtype or size are wrong.",
        _TARGET_FIX,
    ),
    KnownError(
        ("does not require grad", "grad_fn"),
        "backward() was called on a value with no autograd history: the loss was detached "
        "(for example with .item() or .detach()) or computed under torch.no_grad().",
        "Compute the loss from the model's output without .detach() or torch.no_grad(), so "
        "loss.backward() has a graph to follow.",
    ),
    KnownError(
        ("second time",),
        "backward() went through the same graph twice: PyTorch frees a graph after its first "
        "backward(), so a loss or output reused from an earlier batch has nothing left to follow.",
        "Run the forward pass inside the loop so each batch builds a fresh graph, and call "
        "loss.backward() once per batch.",
    ),
)


def find_known_error(text: str) -> KnownError | None:
    """The first entry of KNOWN_ERRORS with a fragment in `text` (case-insensitive), or None."""
    lowered = text.lower()
    for known in KNOWN_ERRORS:
        if any(fragment.lower() in lowered for fragment in known.fragments):
            return known
    return None


def explain_error(error: BaseException) -> str:
    """A sentence or two a learner can act on, for an exception raised while training."""
    known = find_known_error(str(error))
    if known is not None:
        return known.explanation
    return (
        f"PyTorch raised {type(error).__name__} while training. Read the message from the "
        "end: it usually names the operation and the shapes or dtypes that disagreed."
    )


def next_experiment_for_crash(error_type: str, message: str) -> str:
    """One next experiment for a run that crashed with `error_type: message`.

    Both the type name and the message are searched: the message usually names the mistake.
    """
    known = find_known_error(f"{error_type} {message}")
    if known is not None:
        return known.next_experiment
    return (
        f"Read the last line of the traceback ({error_type}) and run a single batch through the "
        "loop by hand, printing shapes and dtypes before the line that failed."
    )
