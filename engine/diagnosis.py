"""The Curve Doctor: read a training history and name what went wrong, with the numbers.

Every label has a rule that scores it from 0 to 1 using only the numbers in the log. The label
reported is the first one, in priority order, whose rule fires clearly (score >= 0.5): a crash
explains everything after it, a negative loss explains a blow-up, a blow-up explains
a zig-zag, and so on down to "healthy". Other labels with a score above 0 become alternatives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.crash_advice import next_experiment_for_crash
from engine.curve_measures import (
    LONG,
    Curves,
    chunk_medians,
    clip,
    fmt,
    last_finite,
    ramp,
)
from engine.log_table import TrainingLog

# Every label, in priority order: most specific first, so the first label whose rule fires
# explains the others. "healthy" comes last: it means no other rule fired.
LABELS: tuple[str, ...] = (
    "crashed", "impossible_loss", "diverged", "collapsed", "not_learning",
    "frozen_layer", "loss_floor", "unstable", "overfitting", "underfitting", "healthy",
)  # fmt: skip
FIRES = 0.5  # a score at or above this is a clear finding

# One next experiment per finding, in the troubleshooting order: curves, predictions,
# gradients, data, hyper-parameters, model. A cheap check comes before a costly change.
_NEXT = {
    "impossible_loss": "Check the argument order: criterion(logits, targets), the model's raw "
    "output first and the class labels second; swapped arguments give a negative cross-entropy.",
    "negative_loss": "Print criterion(outputs, targets) for one batch and read how the logged "
    "loss is computed: cross-entropy takes the raw logits first and the labels second, and a "
    "mean squared error can only go negative through a sign flip or a subtracted term.",
    "diverged": "Lower the learning rate 10x{lr_10} and add gradient clipping "
    "(max norm 1.0), then compare the first {x_name}s with this run.",
    "collapsed": "Retrain with the learning rate 10x lower{lr_10} and count the predicted "
    "classes after each epoch (logits.argmax(1).bincount()): a learning model spreads its "
    "predictions.",
    "same_answer": "Count the predicted classes on the validation set (logits.argmax(1)"
    ".bincount()): if one class gets them all, check that validation inputs are preprocessed "
    "like the training ones and how balanced the classes are (weight the loss by class), then "
    "overfit one batch to see the model can fit at all.",
    "not_learning": "Overfit a single batch of 32 examples: if the loss still will not fall, "
    "check that labels line up with inputs and that optimizer.step() is called.",
    "dead_gradient": "Print each layer's gradient norm after loss.backward() for one batch: a "
    "layer at exactly 0 means the update never reaches it (zero_grad after backward, no "
    "optimizer.step(), all-zero init, saturated sigmoids).",
    "loss_floor": "Make sure the model outputs raw logits: remove the softmax before "
    "CrossEntropyLoss (it applies log-softmax itself) and rerun; the loss should fall below 0.5.",
    "unstable": "Check that optimizer.zero_grad() runs once per step, then rerun with the learning "
    "rate 3x lower{lr_3} and compare the curves.",
    "saw_tooth": "Print the labels of the first 5 batches of an epoch: if each batch holds one "
    "class, pass shuffle=True to the training DataLoader and compare the step curves.",
    "overfitting": "Retrain on more data (the full training set, or with augmentation) keeping "
    "everything else equal and compare the train-val gap; if there is no more data, add weight "
    "decay 1e-4.",
    "still_falling": "Train for twice as many {x_name}s and check whether the val curves keep "
    "improving.",
    "underfitting": "Overfit a single batch of 32 examples: if the train loss cannot reach ~0, "
    "check that every layer reaches the optimizer; if it can, try a model with twice the "
    "hidden units.",
    "healthy": "Keep this run as the baseline and change one thing at a time: double the learning "
    "rate and compare the val curves.",
    "too_short": "Train for at least 5 {x_name}s, logging train and val loss after each, and read "
    "the curves again.",
}


def _advice(key: str, curves: Curves) -> str:
    """The next experiment for a finding, quoting only numbers the log holds: the last
    logged learning rate when there is one, else "your learning rate"."""
    return _NEXT[key].format(
        x_name=curves.log.x_name, lr_10=_lr_change(curves, 10), lr_3=_lr_change(curves, 3)
    )


def _lr_change(curves: Curves, factor: int) -> str:
    rates = curves.log.learning_rate
    last = rates[-1] if rates else None
    if last is None or not math.isfinite(last) or last <= 0:
        return ""  # the log does not say: no number is better than a made-up one
    return f" (from {fmt(last)}, the last learning rate logged, to {fmt(last / factor)})"


@dataclass(frozen=True)
class Diagnosis:
    """The Curve Doctor's reading of one run: a label, the numbers behind it, what to try."""

    label: str
    alternatives: tuple[tuple[str, float], ...]  # other plausible labels, best first
    evidence: tuple[str, ...]  # sentences quoting the numbers that triggered the label
    next_experiment: str  # one concrete next experiment
    columns: dict[str, str] = field(default_factory=dict)  # role -> the log's column read
    reasons: dict[str, str] = field(default_factory=dict)  # alternative -> its first evidence
    source_format: str = "engine"  # which tool wrote the log (engine.log_table.FORMAT_NAMES)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: label, alternatives [{label, score, reason}], evidence, next_experiment,
        columns {role: column name as the log wrote it}, format (which tool wrote it)."""
        return {
            "label": self.label,
            "alternatives": [
                {"label": name, "score": score, "reason": self.reasons.get(name, "")}
                for name, score in self.alternatives
            ],
            "evidence": list(self.evidence),
            "next_experiment": self.next_experiment,
            "columns": dict(self.columns),
            "format": self.source_format,
        }


@dataclass(frozen=True)
class _Finding:
    score: float = 0.0
    evidence: tuple[str, ...] = ()
    next_experiment: str = ""


_NONE = _Finding()


def _crashed(curves: Curves) -> _Finding:
    if curves.log.status != "crashed":
        return _NONE
    kind = (curves.log.error_type or "an error").strip()
    message = " ".join((curves.log.error_message or "").split())[:240]
    said = f"{kind}: {message}" if message else kind
    said += "" if said.endswith((".", "!", "?")) else "."
    advice = next_experiment_for_crash(kind, message)
    return _Finding(1.0, (f"The run stopped with {said}",), advice)


def _impossible_loss(curves: Curves) -> _Finding:
    """A train loss well below 0 (past float rounding): cross-entropy and MSE both average
    non-negative terms, so whatever the task, the loss is computed wrongly."""
    train = curves.train
    losses = train[np.isfinite(train)]
    if not losses.size or losses.min() >= -1e-3:
        return _NONE
    lowest = int(np.nanargmin(np.where(np.isfinite(train), train, np.nan)))
    first = int(np.flatnonzero(np.isfinite(train))[0])
    moved = (
        f"went from {fmt(train[first])} at {curves.at(first)} to "
        if first != lowest
        else "reached "
    )
    never = (
        "cross-entropy can never be negative"
        if curves.classification
        else "losses such as cross-entropy and MSE are means of non-negative terms and can "
        "never be negative"
    )
    sentence = (
        f"Train loss {moved}{fmt(train[lowest])} at {curves.at(lowest)}; {never}, so the loss "
        "is not measuring what it should."
    )
    advice = _advice("impossible_loss" if curves.classification else "negative_loss", curves)
    return _Finding(1.0, (sentence,), advice)


def _diverged(curves: Curves) -> _Finding:
    evidence: list[str] = []
    score = 1.0 if curves.log.status == "diverged" else 0.0
    if score:
        evidence.append("The training loop stopped the run as diverged.")
    for name, values in (("Train loss", curves.train), ("Step loss", curves.step)):
        bad = np.flatnonzero(~np.isfinite(values)) if values is not None else []
        if len(bad):
            where = curves.at(int(bad[0])) if name == "Train loss" else f"step {int(bad[0]) + 1}"
            evidence.append(f"{name} became {fmt(values[bad[0]])} at {where}.")
            score = 1.0
    for blow_score, sentence in (_blow_up(curves), _rising(curves)):
        if blow_score > 0:
            evidence.append(sentence)
        score = max(score, blow_score)
    peak_grad = float(np.nanmax(np.abs(curves.grad))) if curves.grad is not None else 0.0
    if score and peak_grad > 100:
        evidence.append(f"The gradient norm peaked at {fmt(peak_grad)}.")
    return _Finding(score, tuple(evidence), _advice("diverged", curves))


def _sustained(values: np.ndarray | None) -> np.ndarray:
    """Finite values; in a long curve each becomes the median of 5 neighbours, so a burst of
    huge losses counts (Adam at lr 1.0: ten steps in the thousands) but one noisy batch not."""
    finite = np.array([]) if values is None else values[np.isfinite(values)]
    if len(finite) <= LONG:
        return finite
    return np.median(np.lib.stride_tricks.sliding_window_view(finite, 5), axis=1)


def _blow_up(curves: Curves) -> tuple[float, str]:
    """(score, sentence): a loss that grows 10x past where it started, or past 10 x ln K, has
    blown up (the score starts rising at about 3x and at 5 x ln K)."""
    curve = curves.step if curves.step is not None else curves.train
    start = curve[np.isfinite(curve)]
    sustained = (_sustained(curves.train), _sustained(curves.step))
    peaks = [values.max() for values in sustained if values.size]
    if not start.size or not peaks:
        return 0.0, ""
    # In a long noisy curve one lucky first batch must not set the bar: take the median of 5.
    first = float(np.median(start[:5]) if len(start) > LONG else start[0])
    peak = float(max(peaks))
    n_classes, ln_k = curves.n_classes, curves.ln_k
    by_start = ramp(math.log10(peak / first), 0.5, 1.0) if first > 0 and peak > first else 0.0
    by_chance = ramp(peak / ln_k, 5.0, 10.0) if n_classes else 0.0
    if by_chance >= by_start and by_chance > 0:
        return by_chance, (
            f"The loss reached {fmt(peak)}, far above ln {n_classes} = {ln_k:.2f}, "
            f"the loss of a chance-level guess over {n_classes} classes."
        )
    return by_start, (
        f"The loss rose from {fmt(first)} to {fmt(peak)}, "
        f"{fmt(peak / first) if first > 0 else 'many'}x where it started."
    )


def _rising(curves: Curves) -> tuple[float, str]:
    """(score, sentence): a train loss that ends well above where it started is diverging, if
    slowly."""
    smooth = curves.smooth
    if len(smooth) < 2 or smooth[0] <= 0 or smooth[-1] <= 1.25 * smooth[0]:
        return 0.0, ""
    sentence = f"Train loss rose from {fmt(smooth[0])} to {fmt(smooth[-1])}."
    return ramp(smooth[-1] / smooth[0], 1.25, 2.0), sentence


def _upper_first(text: str) -> str:
    """'val mAP50' -> 'Val mAP50' (str.capitalize would lower the rest)."""
    return text[:1].upper() + text[1:]


def _same_answer(curves: Curves) -> _Finding:
    """Val accuracy at one value on every row while the train loss moves: the predictions on
    the validation set never change, which is one class's share when the model gives every
    example the same class."""
    acc = curves.val_acc
    finite = acc[np.isfinite(acc)] if acc is not None and curves.log.acc_name == "acc" else []
    train_acc = last_finite(curves.train_acc)
    if len(finite) < 3 or not 0 < finite[0] < 0.99 or np.ptp(finite) > 1e-4:
        return _NONE
    if train_acc is not None and train_acc >= 0.9:
        return _NONE  # a model that fits its training data gives more than one answer
    smooth = curves.smooth
    moved = len(smooth) >= 2 and abs(smooth[-1] - smooth[0]) > 0.03 * abs(smooth[0])
    balanced = (
        f"; with {curves.n_classes} balanced classes one class's share is "
        f"1/{curves.n_classes} = {1 / curves.n_classes:.2f}"
        if curves.n_classes
        else ""
    )
    meanwhile = f", while train loss moved {fmt(smooth[0])} -> {fmt(smooth[-1])}" if moved else ""
    sentence = (
        f"Val acc is {fmt(float(finite[0]))} on every one of the {len(finite)} validation rows"
        f"{meanwhile}: the validation predictions never change, as when the model answers one "
        f"class for "
        f"every example{balanced}."
    )
    return _Finding(ramp(len(finite), 2, 4), (sentence,), _advice("same_answer", curves))


def _collapsed(curves: Curves) -> _Finding:
    share, n_classes = curves.top_share, curves.n_classes
    if share is None:
        return _same_answer(curves)
    if share < 0.75:
        return _NONE
    spread = (
        f" (an even spread would give each of the {n_classes} classes {1 / n_classes:.0%})"
        if n_classes
        else ""
    )
    evidence = (f"{share:.0%} of the last epoch's predictions went to a single class{spread}.",)
    if not (curves.dead_layer or curves.fall < 0.03):
        return _Finding(ramp(share, 0.75, 0.9), evidence, _advice("collapsed", curves))
    # The model never learned: the one-class output comes from a stuck model, not from a too
    # big step, so the not-learning evidence and experiment are the useful ones.
    stuck = _not_learning(curves)
    return _Finding(ramp(share, 0.75, 0.9), evidence + stuck.evidence[:2], stuck.next_experiment)


def _not_learning(curves: Curves) -> _Finding:
    evidence: list[str] = []
    smooth, n_classes, score = curves.smooth, curves.n_classes, 0.0
    acc, train_acc = curves.final_acc(), last_finite(curves.train_acc)
    if len(smooth) >= 2:
        fall = curves.fall
        score = ramp(-fall, -0.10, -0.03)
        learned_before = (acc is not None and acc[1] >= 0.8) or (
            n_classes and smooth[-1] < 0.5 * curves.ln_k
        )
        score *= 0.3 if learned_before else 1.0  # a converged run also looks flat
        if score > 0:
            evidence.append(
                f"Train loss went from {fmt(smooth[0])} to {fmt(smooth[-1])}"
                f"{curves.chance(smooth[-1])}; it never fell more than {fall:.1%}."
            )
    if curves.dead_layer and not _learned_anyway(curves):
        evidence.append(_frozen_sentence(curves))
        score = 1.0
    if n_classes and acc is not None and acc[1] <= 1 / n_classes + 0.1 * (1 - 1 / n_classes):
        # Val at chance while train climbs is memorising labels the inputs do not predict.
        memorised = (
            f", although train acc reaches {fmt(train_acc)}"
            if acc[0] == "val acc" and (train_acc is not None and train_acc > acc[1] + 0.2)
            else ""
        )
        evidence.append(
            f"{_upper_first(acc[0])} {fmt(acc[1])} is chance level for {n_classes} classes "
            f"(1/{n_classes} = {1 / n_classes:.2f}){memorised}."
        )
        score = max(score, 0.8)
    zero = _metric_at_zero(curves)
    if zero:
        evidence.append(zero)
        score = max(score, 0.8)
    advice = _advice("dead_gradient" if curves.dead_layer else "not_learning", curves)
    return _Finding(score, tuple(evidence), advice)


def _learned_anyway(curves: Curves) -> bool:
    """The loss fell by more than half: the layers after a frozen one still learn."""
    smooth = curves.smooth
    return len(smooth) >= 2 and bool(smooth[-1] < 0.5 * smooth[0])


def _frozen_sentence(curves: Curves) -> str:
    first_grad = curves.first_grad
    top = float(np.nanmax(np.abs(first_grad))) if first_grad is not None else 0.0
    return f"The first layer's gradient norm is {fmt(top)}: its weights never move."


def _frozen_layer(curves: Curves) -> _Finding:
    """A first layer that never gets a gradient under a loss that falls anyway (a stray
    detach, a frozen layer left frozen): the curves look fine, the gradients do not."""
    if not (curves.dead_layer and _learned_anyway(curves)):
        return _Finding(0.0, (), "")
    smooth = curves.smooth
    sentence = (
        f"Train loss fell {fmt(smooth[0])} -> {fmt(smooth[-1])}, but only the later layers "
        "learned it."
    )
    return _Finding(1.0, (sentence, _frozen_sentence(curves)), _advice("dead_gradient", curves))


def _metric_at_zero(curves: Curves) -> str:
    """A sentence when the val accuracy-like metric sits at about 0 through the second half
    of the run: whatever the train loss does, nothing carries over to held-out data."""
    values = curves.val_acc
    finite = values[np.isfinite(values)] if values is not None else np.array([])
    if len(finite) < 4 or finite[len(finite) // 2 :].max() > 0.06:
        return ""
    best = int(np.argmax(finite))
    peak = float(finite[best])
    where = f", its best, {fmt(peak)}, at row {best + 1}" if peak > 0.02 else ""
    name = f"val {curves.log.acc_name}"
    return (
        f"{_upper_first(name)} stays at or near 0 through the second half of the run "
        f"(last {fmt(float(finite[-1]))}{where}): nothing learned carries over to the "
        "validation data."
    )


def _still_falling(values: np.ndarray, noise: np.ndarray) -> tuple[float, float, float]:
    """(relative drop over the last third, its share of the whole fall, value a third back);
    a drop within the noise of the points counts as no drop."""
    third_back = max(0, len(values) - 1 - max(1, len(values) // 3))
    start, end = float(values[third_back]), float(values[-1])
    drop = start - end
    if drop <= 3 * math.hypot(noise[third_back], noise[-1]):
        return 0.0, 0.0, start
    whole = float(values[0]) - end
    relative = drop / abs(start) if start else 0.0
    share = drop / whole if whole > 0 else 1.0
    return relative, share, start


def _loss_floor(curves: Curves) -> _Finding:
    acc, smooth = curves.final_acc(), curves.smooth
    if acc is None or len(smooth) < 2 or curves.log.acc_name != "acc":  # a softmax floor
        return _NONE
    still_falling = _still_falling(*chunk_medians(curves.train))[0]
    score = ramp(acc[1], 0.7, 0.8) * ramp(float(smooth[-1]), 0.6, 0.8)
    if acc[1] < 0.8 or smooth[-1] < 0.8 or still_falling >= 0.05:
        score = min(score, 0.45)  # near, but not the clear sign: high accuracy, high flat loss
    sentence = (
        f"Train loss stays at {fmt(smooth[-1])} while {acc[0]} reaches {fmt(acc[1])}: a model "
        f"that is right {acc[1]:.0%} of the time should have a loss far below that."
    )
    return _Finding(score, (sentence,), _advice("loss_floor", curves))


def _swings(values: np.ndarray, noise: np.ndarray) -> tuple[int, list[float], list[int]]:
    """(peaks, path through the turning points, their indices) of the moves big enough to
    matter: more than
    20% of the level, 10% of the curve's range and 5 standard errors of the points (the path
    picks the extremes of many noisy medians), so a healthy curve's wiggles never count."""
    span = float(values.max() - values.min())

    def big(start: int, end: int) -> bool:
        """Whether the move from point `start` to point `end` is big enough to matter."""
        before, after = float(values[start]), float(values[end])
        noise_floor = 5 * math.hypot(noise[start], noise[end])
        floor = max(0.2 * min(abs(before), abs(after)), 0.1 * span, noise_floor)
        return abs(after - before) > floor

    turns, trend, extreme, low, high, peaks = [0], 0, 0, 0, 0, 0
    for point in range(1, len(values)):
        if trend == 0:  # no big move yet: watch the lowest and highest points so far
            low = point if values[point] < values[low] else low
            high = point if values[point] > values[high] else high
            if values[point] > values[low] and big(low, point):
                trend, extreme, turns[0] = 1, point, low
            elif values[point] < values[high] and big(high, point):
                trend, extreme, turns[0] = -1, point, high
        elif (values[point] - values[extreme]) * trend > 0:
            extreme = point
        elif big(extreme, point):
            peaks += trend > 0
            turns.append(extreme)
            trend, extreme = -trend, point
    return peaks, [float(values[turn]) for turn in turns] + [float(values[-1])], turns


def _unstable(curves: Curves) -> _Finding:
    best, rise = _NONE, _val_rise(curves)
    for name, values in (
        ("Val loss", curves.val),
        ("Train loss", curves.train),
        ("Step loss", curves.step),
    ):
        curve, noise = chunk_medians(values) if values is not None else (np.array([]), np.array([]))
        if len(curve) < 3:
            continue
        peaks, path, turns = _swings(curve, noise)
        early_spike = peaks == 1 and turns[-1] < 0.15 * len(curve) and path[-1] < path[0]
        if early_spike:  # one early spike sets the scale: judge the rest of the curve alone
            after = turns[-1] + 1
            rest = _swings(curve[after:], noise[after:]) if len(curve) - after >= 3 else (0, [])
            peaks, path = (rest[0], path[:2] + rest[1]) if rest[0] else (0, path)
        score = 1.0 if peaks and len(path) >= 4 else 0.6 if peaks else 0.3 * early_spike
        if name == "Val loss" and rise is not None:
            score = min(score, 0.4)  # swings on the way up from the best: overfitting's
        if score > best.score:
            chunk = len(values) // len(curve)
            note = f" (medians of {chunk}+ rows)" if chunk > 1 else ""
            zigzag = " -> ".join(fmt(turn) for turn in path[:7])
            best = _Finding(score, (f"{name} zig-zags instead of settling: {zigzag}{note}.",))
    saw = _saw_tooth(curves)
    if saw.score >= FIRES or saw.score > best.score:
        # A saw-tooth names the cause of the zig-zag (the order of the batches): it leads.
        score = max(saw.score, best.score)
        return _Finding(score, saw.evidence + best.evidence, saw.next_experiment)
    return _Finding(best.score, best.evidence, _advice("unstable", curves))


def _saw_tooth(curves: Curves) -> _Finding:
    """Step loss that climbs through most epochs and drops at each epoch's start: the batches
    come in an order (e.g. sorted by class) that pulls the model back and forth. A shuffled
    run's loss falls within an epoch, so a steady climb inside epochs is the sign."""
    epochs, steps = len(curves.log.train_loss), curves.step
    if steps is None or epochs < 3 or len(steps) < 8 * epochs:
        return _NONE
    per_epoch = len(steps) // epochs
    quarter = max(2, per_epoch // 4)
    parts = np.split(steps[: per_epoch * epochs], epochs)
    firsts = np.array([np.median(epoch[:quarter]) for epoch in parts])
    lasts = np.array([np.median(epoch[-quarter:]) for epoch in parts])
    with np.errstate(all="ignore"):
        rises = np.nan_to_num((lasts - firsts) / np.abs(firsts))
        drops = np.nan_to_num((lasts[:-1] - firsts[1:]) / np.abs(lasts[:-1]))
    # an epoch counts when its loss climbs by over 10% and the next epoch starts lower again
    teeth = (rises > 0.1) & np.append(drops > 0.1, True)
    rising = int(np.sum(teeth))
    sentence = (
        f"Step loss climbs within {rising} of {epochs} epochs (median change "
        f"{np.median(rises):+.0%} from an epoch's first to last quarter) and drops at each "
        "new epoch: a saw-tooth."
    )
    return _Finding(ramp(rising / epochs, 0.35, 0.6), (sentence,), _advice("saw_tooth", curves))


@dataclass(frozen=True)
class _ValRise:
    """Val loss that was best at one point and sits well above it at the end, while the
    train loss kept falling: the shape of overfitting, zig-zags or not."""

    best: int  # the best point of the val curve (chunk medians of a long log)
    points: int
    best_value: float
    end_value: float  # the median of the last third after the best: robust to zig-zags
    score: float


def _val_broken(curves: Curves) -> bool:
    """Whether over a quarter of the val losses are NaN or infinite: an evaluation that
    overflows is no measure of generalisation."""
    logged = np.asarray(curves.log.val_loss or (), dtype=float)
    return bool(logged.size) and float(np.mean(~np.isfinite(logged))) > 0.25


def _val_rise(curves: Curves) -> _ValRise | None:
    smooth = curves.smooth
    if _val_broken(curves):
        return None
    val = chunk_medians(curves.val)[0] if curves.val is not None else np.array([])
    if len(smooth) < 2 or len(val) < 3 or _swings(*chunk_medians(curves.train))[0]:
        return None  # the train loss must fall steadily, not zig-zag itself
    best = int(np.argmin(val))
    after = val[best + 1 :]
    if not after.size:
        return None
    end = float(np.median(after[-max(1, len(after) // 3) :]))
    rise, fall = end - float(val[best]), float(val[0] - val[best])
    train_then = curves.train_near(best / (len(val) - 1))
    if rise <= 0.1 * abs(val[best]) or rise <= 0.05 * fall or smooth[-1] >= train_then:
        return None
    score = 0.5 + 0.5 * ramp(rise / abs(val[best] or 1), 0.1, 0.3)
    return _ValRise(best, len(val), float(val[best]), end, score)


def _overfitting(curves: Curves) -> _Finding:
    found: list[tuple[float, str]] = []
    smooth = curves.smooth
    rise = _val_rise(curves)
    if rise is not None:
        said = (
            f"Val loss was best at {curves.val_at(rise.best, rise.points)} "
            f"({fmt(rise.best_value)}) and then rose to about {fmt(rise.end_value)}, while "
            f"train loss kept falling, {fmt(smooth[0])} -> {fmt(smooth[-1])}."
        )
        found.append((rise.score, said))
    train_acc, val_acc = last_finite(curves.train_acc), last_finite(curves.val_acc)
    if train_acc is not None and val_acc is not None and train_acc - val_acc > 0.05:
        gap = train_acc - val_acc
        said = f"Train acc {fmt(train_acc)} vs val acc {fmt(val_acc)}: a gap of {gap:.2f}."
        found.append((ramp(gap, 0.05, 0.15), said))
    train_loss, val_loss = last_finite(curves.train), last_finite(curves.val)
    if (
        not _val_broken(curves)
        and train_loss is not None
        and val_loss is not None
        and train_loss > 0
        and val_loss - train_loss > 0.3
    ):
        ratio = val_loss / train_loss
        said = f"Final val loss {fmt(val_loss)} is {fmt(ratio)}x the train loss {fmt(train_loss)}."
        found.append((ramp(ratio, 2.0, 3.0), said))
    return _combine(found, _advice("overfitting", curves))


def _combine(found: list[tuple[float, str]], advice: str) -> _Finding:
    """Several signs of one label: the strongest sets the score, all go into the evidence."""
    found = [(score, sentence) for score, sentence in found if score > 0]
    if not found:
        return _NONE
    scores, sentences = zip(*found, strict=True)
    return _Finding(max(scores), tuple(sentences), advice)


def _underfitting(curves: Curves) -> _Finding:
    found: list[tuple[float, str]] = []
    name, values = (
        ("Val loss", curves.val) if curves.val is not None else ("Train loss", curves.train)
    )
    curve, noise = chunk_medians(values)
    falling = False
    if len(curve) >= 3:
        relative, share, start = _still_falling(curve, noise)
        falling = relative > 0.05 and share > 0.1
        if falling:
            said = f"{name} was still falling at the end: {fmt(start)} -> {fmt(curve[-1])}."
            found.append((0.5 + 0.5 * ramp(relative, 0.05, 0.15), said))
    acc = curves.final_acc()
    train_acc, val_acc = last_finite(curves.train_acc), last_finite(curves.val_acc)
    if train_acc is not None and train_acc >= 0.98:
        return _NONE  # the model fits its training data: no room left to underfit
    close = train_acc is None or val_acc is None or abs(train_acc - val_acc) < 0.1
    if acc is not None and close and acc[1] < 0.9 and curves.log.acc_name == "acc":
        said = f"{_upper_first(acc[0])} levels off at {fmt(acc[1])}, with train and val close."
        found.append((ramp(-acc[1], -0.9, -0.85), said))
    smooth = curves.smooth
    if acc is None and len(smooth) >= 2 and 0.03 <= curves.fall < 0.3:
        found.append((0.5, f"Train loss only fell from {fmt(smooth[0])} to {fmt(smooth[-1])}."))
        relative, _, start = _still_falling(curve, noise) if len(curve) >= 3 else (0, 0, 0)
        if not falling and relative > 0.01:  # slow, but still going down: not stuck
            falling = True
            found.append((0.5, f"{name} still fell {fmt(start)} -> {fmt(curve[-1])} at the end."))
    return _combine(found, _advice("still_falling" if falling else "underfitting", curves))


def _healthy(curves: Curves) -> _Finding:
    smooth, acc = curves.smooth, curves.final_acc()
    if not len(smooth):
        return _NONE
    two_rows = len(smooth) >= 2
    fall = (smooth[0] - smooth[-1]) / abs(smooth[0]) if two_rows and smooth[0] else 0.0
    score = ramp(fall, 0.3, 0.6) if two_rows else 0.3
    score *= ramp(acc[1], 0.8, 0.9) if acc is not None else (1.0 if two_rows else 0.0)
    sentence = f"Train loss is {fmt(smooth[-1])}"
    if two_rows:
        sentence = f"Train loss fell {fmt(smooth[0])} -> {fmt(smooth[-1])}"
    val = chunk_medians(curves.val)[0] if curves.val is not None else np.array([])
    if len(val) >= 2:
        sentence += f" and val loss followed, {fmt(val[0])} -> {fmt(val[-1])}"
    if acc is not None:
        sentence += f"; {acc[0]} ends at {fmt(acc[1])}"
    return _Finding(score, (sentence + ".",), _advice("healthy", curves))


_RULES: dict[str, Callable[[Curves], _Finding]] = {
    "crashed": _crashed, "impossible_loss": _impossible_loss, "diverged": _diverged,
    "collapsed": _collapsed, "not_learning": _not_learning, "frozen_layer": _frozen_layer,
    "loss_floor": _loss_floor,
    "unstable": _unstable, "overfitting": _overfitting, "underfitting": _underfitting,
    "healthy": _healthy,
}  # fmt: skip


def _notes(curves: Curves) -> tuple[list[str], list[str]]:
    """Sentences worth adding whatever the label, (before, after) its evidence: too little
    data to judge, a validation that may be running on the training data."""
    before, after = [], []
    if not curves.train.size:
        before.append("No train loss was logged, so there is no curve to judge.")
    elif curves.train.size == 1:
        before.append("Only one row of train loss was logged: too little to judge a trend.")
    if curves.log.status == "stopped":
        before.append(_stopped_note(curves.log))
    after.extend(_nan_val_note(curves))
    val = curves.val
    if val is not None and len(val) == len(curves.train) >= 2 and np.array_equal(val, curves.train):
        after.append(
            f"Val loss equals train loss at every {curves.log.x_name}: validation may be "
            "running on the training data."
        )
    return before, after


def _stopped_note(log: TrainingLog) -> str:
    """A stopped run's curves end where it was stopped, not where it was meant to."""
    done = len(log.x)
    planned = f" of {log.planned_epochs}" if log.planned_epochs else ""
    return (
        f"The run was stopped early, after {done}{planned} {log.x_name}s: the curves end "
        "there, so read the trend, not the last value, as the result."
    )


def _nan_val_note(curves: Curves) -> list[str]:
    """A NaN or infinite val loss beside a finite train loss is an evaluation that broke (or
    was never run), not a training run that blew up: say so, with where it starts."""
    values = curves.log.val_loss
    if not values or not np.isfinite(curves.train).any():
        return []
    val = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(val))
    if not bad.size or not np.isfinite(curves.train[-max(1, len(curves.train) // 4) :]).all():
        return []
    if bad.size == val.size:  # never computed (Ultralytics writes nan): as if not logged
        return []
    positions = curves.log.val_positions
    first = positions[bad[0]] if len(positions) == val.size else None
    where = f" (first at {curves.log.x_name} {fmt(first)})" if first is not None else ""
    return [
        f"Val loss is NaN or infinite on {bad.size} of {val.size} rows{where} "
        "while train loss stays finite: the evaluation overflowed, not the training."
    ]


def diagnose(log: TrainingLog) -> Diagnosis:
    """Read a TrainingLog and return its Diagnosis: label, alternatives, evidence, experiment.

    Never raises on any TrainingLog: missing columns, NaN, one-row logs all get a reading.
    """
    with np.errstate(all="ignore"):  # overflow to infinity is handled as data, not an error
        curves = Curves(log)
        findings = {label: _RULES[label](curves) for label in LABELS}
    scores = {label: clip(finding.score) for label, finding in findings.items()}
    # Healthy means nothing else is wrong: it can score no higher than the worst problem allows.
    problems = [label for label in LABELS if label != "healthy"]
    scores["healthy"] = min(scores["healthy"], 1 - max(scores[label] for label in problems))
    fired = [label for label in LABELS if scores[label] >= FIRES]
    # Nothing clear: the best score wins; max() keeps the first of equal scores, so ties go
    # to the label earlier in priority order.
    label = fired[0] if fired else max(LABELS, key=lambda name: scores[name])
    finding = findings[label]
    if not scores[label]:
        advice = _NEXT["too_short"].format(x_name=log.x_name)
        label, finding = "underfitting", _Finding(0.0, (), advice)
    before, after = _notes(curves) if label != "crashed" else ([], [])
    evidence = (before + list(finding.evidence))[:3] + after
    others = [name for name in LABELS if name != label and scores[name] > 0]
    others.sort(key=lambda name: -scores[name])  # stable: equal scores keep priority order
    return Diagnosis(
        label,
        tuple((name, scores[name]) for name in others),
        tuple(evidence) or ("The log holds no finite train loss.",),
        finding.next_experiment,
        columns=dict(log.columns),
        reasons={name: findings[name].evidence[0] for name in others if findings[name].evidence},
        source_format=log.source_format,
    )
