"""The Curve Doctor: read a training history and name what went wrong, with the numbers.

Every label has a rule that scores it from 0 to 1 using only the numbers in the log. The label
reported is the first one, in priority order, whose rule fires clearly (score >= 0.5): a crash
explains everything after it, a negative cross-entropy explains a blow-up, a blow-up explains
a zig-zag, and so on down to "healthy". Other labels with a score above 0 become alternatives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.curve_measures import (
    LONG,
    Curves,
    chunk_medians,
    clip,
    fmt,
    last_finite,
    ramp,
)
from engine.training_log import TrainingLog

LABELS: tuple[str, ...] = (
    "healthy", "underfitting", "overfitting", "unstable", "diverged",
    "not_learning", "collapsed", "impossible_loss", "loss_floor", "crashed",
)  # fmt: skip
# Most specific first: the first label whose rule fires explains the others.
PRIORITY: tuple[str, ...] = (
    "crashed", "impossible_loss", "diverged", "collapsed", "not_learning",
    "loss_floor", "unstable", "overfitting", "underfitting", "healthy",
)  # fmt: skip
FIRES = 0.5  # a score at or above this is a clear finding

# One next experiment per finding, in the troubleshooting order: curves, predictions,
# gradients, data, hyper-parameters, model. A cheap check comes before a costly change.
_NEXT = {
    "impossible_loss": "Check the argument order: criterion(logits, targets), the model's raw "
    "output first and the class labels second; swapped arguments give a negative cross-entropy.",
    "diverged": "Lower the learning rate 10x (e.g. 1.0 -> 0.1) and add gradient clipping "
    "(max norm 1.0), then compare the first epochs with this run.",
    "collapsed": "Retrain with the learning rate 10x lower and count the predicted classes after "
    "each epoch (logits.argmax(1).bincount()): a learning model spreads its predictions.",
    "not_learning": "Overfit a single batch of 32 examples: if the loss still will not fall, "
    "check that labels line up with inputs and that optimizer.step() is called.",
    "dead_gradient": "Print each layer's gradient norm after loss.backward() for one batch: a "
    "layer at exactly 0 means the update never reaches it (zero_grad after backward, no "
    "optimizer.step(), all-zero init, saturated sigmoids).",
    "loss_floor": "Make sure the model outputs raw logits: remove the softmax before "
    "CrossEntropyLoss (it applies log-softmax itself) and rerun; the loss should fall below 0.5.",
    "unstable": "Check that optimizer.zero_grad() runs once per step, then rerun with the learning "
    "rate 3x lower (e.g. 1e-3 -> 3e-4) and compare the curves.",
    "saw_tooth": "Print the labels of the first 5 batches of an epoch: if each batch holds one "
    "class, pass shuffle=True to the training DataLoader and compare the step curves.",
    "overfitting": "Retrain on more data (the full training set, or with augmentation) keeping "
    "everything else equal and compare the train-val gap; if there is no more data, add weight "
    "decay 1e-4.",
    "still_falling": "Train for twice as many {x}s and check whether val loss keeps falling.",
    "underfitting": "Overfit a single batch of 32 examples: if the train loss cannot reach ~0, "
    "check that every layer reaches the optimizer; if it can, try a wider model (128 -> 256).",
    "healthy": "Keep this run as the baseline and change one thing at a time: double the learning "
    "rate and compare the val curves.",
    "too_short": "Train for at least 5 {x}s, logging train and val loss after each, and read "
    "the curves again.",
}


@dataclass(frozen=True)
class Diagnosis:
    """The Curve Doctor's reading of one run: a label, the numbers behind it, what to try."""

    label: str
    alternatives: tuple[tuple[str, float], ...]  # other plausible labels, best first
    evidence: tuple[str, ...]  # sentences quoting the numbers that triggered the label
    next_experiment: str  # one concrete next experiment

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: label, alternatives [{label, score}], evidence, next_experiment."""
        return {
            "label": self.label,
            "alternatives": [{"label": name, "score": s} for name, s in self.alternatives],
            "evidence": list(self.evidence),
            "next_experiment": self.next_experiment,
        }


@dataclass(frozen=True)
class _Finding:
    score: float = 0.0
    evidence: tuple[str, ...] = ()
    next_experiment: str = ""


_NONE = _Finding()


def _crashed(c: Curves) -> _Finding:
    if c.log.status != "crashed":
        return _NONE
    kind = (c.log.error_type or "an error").strip()
    message = " ".join((c.log.error_message or "").split())[:240]
    said = f"{kind}: {message}" if message else kind
    said += "" if said.endswith((".", "!", "?")) else "."
    return _Finding(
        1.0, (f"The run stopped with {said}",), _crash_advice(f"{kind} {message}", kind)
    )


# Words in an exception's message -> the fix they point to (checked in this order).
_CRASH_ADVICE = {
    "for 'long'|expected scalar type|dtype": "The loss got the wrong dtype: call "
    "criterion(logits, targets) with float logits first and integer class indices second.",
    "mat1 and mat2|size mismatch|shape|must match the size": "Print x.shape, logits.shape and "
    "targets.shape for one batch and fix the first layer whose input size disagrees.",
    "out of memory": "Halve the batch size (e.g. 64 -> 32) and rerun; keep loss.item() in the "
    "history, not the loss tensor.",
    "out of bounds|target": "Print targets.min() and targets.max() for one batch: labels must "
    "run from 0 to K-1 and the last layer must have K outputs.",
    "does not require grad|grad_fn": "Compute the loss from the model's output without "
    ".detach() or torch.no_grad(), so loss.backward() has a graph to follow.",
    "second time": "Run the forward pass inside the loop so each batch builds a fresh graph, "
    "and call loss.backward() once per batch.",
}


def _crash_advice(text: str, kind: str) -> str:
    """Advice that reads the error: the message usually names the mistake."""
    for keys, advice in _CRASH_ADVICE.items():
        if any(key in text.lower() for key in keys.split("|")):
            return advice
    return (
        f"Read the last line of the traceback ({kind}) and run a single batch through the "
        "loop by hand, printing shapes and dtypes before the line that failed."
    )


def _impossible_loss(c: Curves) -> _Finding:
    losses = c.train[np.isfinite(c.train)]
    if not c.classification or not losses.size or losses.min() >= -1e-3:
        return _NONE
    low = int(np.nanargmin(np.where(np.isfinite(c.train), c.train, np.nan)))
    first = int(np.flatnonzero(np.isfinite(c.train))[0])
    moved = f"went from {fmt(c.train[first])} at {c.at(first)} to " if first != low else "reached "
    sentence = (
        f"Train loss {moved}{fmt(c.train[low])} at {c.at(low)}; cross-entropy can never be "
        "negative, so the loss is not measuring what it should."
    )
    return _Finding(1.0, (sentence,), _NEXT["impossible_loss"])


def _diverged(c: Curves) -> _Finding:
    evidence: list[str] = []
    score = 1.0 if c.log.status == "diverged" else 0.0
    if score:
        evidence.append("The training loop stopped the run as diverged.")
    for name, values in (("Train loss", c.train), ("Step loss", c.step)):
        bad = np.flatnonzero(~np.isfinite(values)) if values is not None else []
        if len(bad):
            where = c.at(int(bad[0])) if name == "Train loss" else f"step {int(bad[0]) + 1}"
            evidence.append(f"{name} became {fmt(values[bad[0]])} at {where}.")
            score = 1.0
    for blow_score, sentence in (_blow_up(c), _rising(c)):
        if blow_score > 0:
            evidence.append(sentence)
        score = max(score, blow_score)
    peak_grad = float(np.nanmax(np.abs(c.grad))) if c.grad is not None else 0.0
    if score and peak_grad > 100:
        evidence.append(f"The gradient norm peaked at {fmt(peak_grad)}.")
    return _Finding(score, tuple(evidence), _NEXT["diverged"])


def _sustained(values: np.ndarray | None) -> np.ndarray:
    """Finite values; in a long curve each becomes the median of 5 neighbours, so a burst of
    huge losses counts (Adam at lr 1.0: ten steps in the thousands) but one noisy batch not."""
    finite = np.array([]) if values is None else values[np.isfinite(values)]
    if len(finite) <= LONG:
        return finite
    return np.median(np.lib.stride_tricks.sliding_window_view(finite, 5), axis=1)


def _blow_up(c: Curves) -> tuple[float, str]:
    """A loss that grows 10x past where it started, or past 10 x ln K, has blown up."""
    curve = c.step if c.step is not None else c.train
    start = curve[np.isfinite(curve)]
    peaks = [p.max() for p in (_sustained(c.train), _sustained(c.step)) if p.size]
    if not start.size or not peaks:
        return 0.0, ""
    # In a long noisy curve one lucky first batch must not set the bar: take the median of 5.
    first = float(np.median(start[:5]) if len(start) > LONG else start[0])
    peak = float(max(peaks))
    by_start = ramp(math.log10(peak / first), 0.5, 1.0) if first > 0 and peak > first else 0.0
    by_chance = ramp(peak / c.ln_k, 5.0, 10.0) if c.k else 0.0
    if by_chance >= by_start and by_chance > 0:
        return by_chance, (
            f"The loss reached {fmt(peak)}, far above ln {c.k} = {c.ln_k:.2f}, "
            f"the loss of a chance-level guess over {c.k} classes."
        )
    return by_start, (
        f"The loss rose from {fmt(first)} to {fmt(peak)}, "
        f"{fmt(peak / first) if first > 0 else 'many'}x where it started."
    )


def _rising(c: Curves) -> tuple[float, str]:
    """A train loss that ends well above where it started is diverging, if slowly."""
    t = c.smooth
    if len(t) < 2 or t[0] <= 0 or t[-1] <= 1.25 * t[0]:
        return 0.0, ""
    return ramp(t[-1] / t[0], 1.25, 2.0), f"Train loss rose from {fmt(t[0])} to {fmt(t[-1])}."


def _collapsed(c: Curves) -> _Finding:
    share = c.top_share
    if share is None or share < 0.75:
        return _NONE
    spread = f" (an even spread would give each of the {c.k} classes {1 / c.k:.0%})" if c.k else ""
    evidence = (f"{share:.0%} of the last epoch's predictions went to a single class{spread}.",)
    if not (c.dead_layer or c.fall < 0.03):
        return _Finding(ramp(share, 0.75, 0.9), evidence, _NEXT["collapsed"])
    # The model never learned: the one-class output comes from a stuck model, not from a too
    # big step, so the not-learning evidence and experiment are the useful ones.
    stuck = _not_learning(c)
    return _Finding(ramp(share, 0.75, 0.9), evidence + stuck.evidence[:2], stuck.next_experiment)


def _not_learning(c: Curves) -> _Finding:
    evidence: list[str] = []
    t, score = c.smooth, 0.0
    acc, train_acc = c.final_acc(), last_finite(c.train_acc)
    if len(t) >= 2:
        fall = c.fall
        score = ramp(-fall, -0.10, -0.03)
        learned_before = (acc is not None and acc[1] >= 0.8) or (c.k and t[-1] < 0.5 * c.ln_k)
        score *= 0.3 if learned_before else 1.0  # a converged run also looks flat
        if score > 0:
            evidence.append(
                f"Train loss went from {fmt(t[0])} to {fmt(t[-1])}{c.chance(t[-1])}"
                f"; it never fell more than {fall:.1%}."
            )
    if c.dead_layer:
        top = float(np.nanmax(np.abs(c.first_grad))) if c.first_grad is not None else 0.0
        evidence.append(f"The first layer's gradient norm is {fmt(top)}: its weights never move.")
        score = 1.0
    if c.k and acc is not None and acc[1] <= 1 / c.k + 0.1 * (1 - 1 / c.k):
        # Val at chance while train climbs is memorising labels the inputs do not predict.
        memorised = (
            f", although train acc reaches {fmt(train_acc)}"
            if acc[0] == "val acc" and (train_acc is not None and train_acc > acc[1] + 0.2)
            else ""
        )
        evidence.append(
            f"{acc[0].capitalize()} {fmt(acc[1])} is chance level for {c.k} classes "
            f"(1/{c.k} = {1 / c.k:.2f}){memorised}."
        )
        score = max(score, 0.8)
    advice = _NEXT["dead_gradient" if c.dead_layer else "not_learning"]
    return _Finding(score, tuple(evidence), advice)


def _still_falling(values: np.ndarray, noise: np.ndarray) -> tuple[float, float, float]:
    """(relative drop over the last third, its share of the whole fall, value a third back);
    a drop within the noise of the points counts as no drop."""
    i0 = max(0, len(values) - 1 - max(1, len(values) // 3))
    start, end = float(values[i0]), float(values[-1])
    drop = start - end
    if drop <= 3 * math.hypot(noise[i0], noise[-1]):
        return 0.0, 0.0, start
    whole = float(values[0]) - end
    rel = drop / abs(start) if start else 0.0
    share = drop / whole if whole > 0 else 1.0
    return rel, share, start


def _loss_floor(c: Curves) -> _Finding:
    acc, t = c.final_acc(), c.smooth
    if acc is None or len(t) < 2:  # "stopped falling" takes at least two rows
        return _NONE
    rel = _still_falling(*chunk_medians(c.train))[0]
    score = ramp(acc[1], 0.7, 0.8) * ramp(float(t[-1]), 0.6, 0.8)
    if acc[1] < 0.8 or t[-1] < 0.8 or rel >= 0.05:
        score = min(score, 0.45)  # near, but not the clear sign: high accuracy, high flat loss
    sentence = (
        f"Train loss stays at {fmt(t[-1])} while {acc[0]} reaches {fmt(acc[1])}: a model that "
        f"is right {acc[1]:.0%} of the time should have a loss far below that."
    )
    return _Finding(score, (sentence,), _NEXT["loss_floor"])


def _swings(values: np.ndarray, noise: np.ndarray) -> tuple[int, list[float]]:
    """(peaks, path through the turning points) of the moves big enough to matter: more than
    20% of the level, 10% of the curve's range and 5 standard errors of the points (the path
    picks the extremes of many noisy medians), so a healthy curve's wiggles never count."""
    span = float(values.max() - values.min())

    def big(i: int, j: int) -> bool:
        a, b = float(values[i]), float(values[j])
        floor = max(0.2 * min(abs(a), abs(b)), 0.1 * span, 5 * math.hypot(noise[i], noise[j]))
        return abs(b - a) > floor

    turns, trend, extreme, low, high, peaks = [0], 0, 0, 0, 0, 0
    for i in range(1, len(values)):
        if trend == 0:  # no big move yet: watch the lowest and highest points so far
            low = i if values[i] < values[low] else low
            high = i if values[i] > values[high] else high
            if values[i] > values[low] and big(low, i):
                trend, extreme, turns[0] = 1, i, low
            elif values[i] < values[high] and big(high, i):
                trend, extreme, turns[0] = -1, i, high
        elif (values[i] - values[extreme]) * trend > 0:
            extreme = i
        elif big(extreme, i):
            peaks += trend > 0
            turns.append(extreme)
            trend, extreme = -trend, i
    return peaks, [float(values[j]) for j in turns] + [float(values[-1])]


def _unstable(c: Curves) -> _Finding:
    best = _NONE
    for name, values in (("Val loss", c.val), ("Train loss", c.train), ("Step loss", c.step)):
        curve, noise = chunk_medians(values) if values is not None else (np.array([]), np.array([]))
        if len(curve) < 3:
            continue
        peaks, path = _swings(curve, noise)
        score = 1.0 if peaks and len(path) >= 4 else 0.6 if peaks else 0.0
        if score > best.score:
            chunk = len(values) // len(curve)
            note = f" (medians of {chunk}+ rows)" if chunk > 1 else ""
            zigzag = " -> ".join(fmt(p) for p in path[:7])
            best = _Finding(score, (f"{name} zig-zags instead of settling: {zigzag}{note}.",))
    saw = _saw_tooth(c)
    if saw.score > best.score:
        return saw
    return _Finding(best.score, best.evidence, _NEXT["unstable"])


def _saw_tooth(c: Curves) -> _Finding:
    """Step loss that climbs through most epochs and drops at each epoch's start: the batches
    come in an order (e.g. sorted by class) that pulls the model back and forth."""
    epochs, steps = len(c.log.train_loss), c.step
    if steps is None or epochs < 3 or len(steps) < 8 * epochs:
        return _NONE
    per, rises = len(steps) // epochs, []
    for epoch in np.split(steps[: per * epochs], epochs):
        quarter = max(2, per // 4)
        first, last = np.median(epoch[:quarter]), np.median(epoch[-quarter:])
        finite = math.isfinite(first) and math.isfinite(last) and first != 0
        rises.append(float((last - first) / abs(first)) if finite else 0.0)
    rising = int(np.sum(np.asarray(rises) > 0.3))
    sentence = (
        f"Step loss climbs within {rising} of {epochs} epochs (median change "
        f"{np.median(rises):+.0%} from an epoch's first to last quarter) and drops at each "
        "new epoch: a saw-tooth."
    )
    return _Finding(ramp(rising / epochs, 0.35, 0.6), (sentence,), _NEXT["saw_tooth"])


def _overfitting(c: Curves) -> _Finding:
    found: list[tuple[float, str]] = []
    t, v = c.smooth, chunk_medians(c.val)[0] if c.val is not None else np.array([])
    if len(t) >= 2 and len(v) >= 3:
        ib = int(np.argmin(v))
        rise, fall = float(v[-1] - v[ib]), float(v[0] - v[ib])
        j = round(ib / (len(v) - 1) * (len(t) - 1))
        if ib < len(v) - 1 and rise > 0.1 * abs(v[ib]) and rise > 0.05 * fall and t[-1] < t[j]:
            said = (
                f"Train loss fell {fmt(t[0])} -> {fmt(t[-1])} while val loss rose from its "
                f"best {fmt(v[ib])} to {fmt(v[-1])}."
            )
            found.append((0.5 + 0.5 * ramp(rise / abs(v[ib] or 1), 0.1, 0.3), said))
    ta, va = last_finite(c.train_acc), last_finite(c.val_acc)
    if ta is not None and va is not None and ta - va > 0.05:
        said = f"Train acc {fmt(ta)} vs val acc {fmt(va)}: a gap of {ta - va:.2f}."
        found.append((ramp(ta - va, 0.05, 0.15), said))
    tl, vl = last_finite(c.train), last_finite(c.val)
    if tl is not None and vl is not None and tl > 0 and vl - tl > 0.3:
        said = f"Final val loss {fmt(vl)} is {fmt(vl / tl)}x the train loss {fmt(tl)}."
        found.append((ramp(vl / tl, 2.0, 3.0), said))
    return _combine(found, _NEXT["overfitting"])


def _combine(found: list[tuple[float, str]], advice: str) -> _Finding:
    """Several signs of one label: the strongest sets the score, all go into the evidence."""
    found = [f for f in found if f[0] > 0]
    if not found:
        return _NONE
    return _Finding(max(score for score, _ in found), tuple(e for _, e in found), advice)


def _underfitting(c: Curves) -> _Finding:
    found: list[tuple[float, str]] = []
    name, values = ("Val loss", c.val) if c.val is not None else ("Train loss", c.train)
    curve, noise = chunk_medians(values)
    falling = False
    if len(curve) >= 3:
        rel, share, start = _still_falling(curve, noise)
        falling = rel > 0.05 and share > 0.1
        if falling:
            said = f"{name} was still falling at the end: {fmt(start)} -> {fmt(curve[-1])}."
            found.append((0.5 + 0.5 * ramp(rel, 0.05, 0.15), said))
    acc, ta, va = c.final_acc(), last_finite(c.train_acc), last_finite(c.val_acc)
    close = ta is None or va is None or abs(ta - va) < 0.1
    if acc is not None and close and acc[1] < 0.9:
        said = f"{acc[0].capitalize()} levels off at {fmt(acc[1])}, with train and val close."
        found.append((ramp(-acc[1], -0.9, -0.85), said))
    t = c.smooth
    if acc is None and len(t) >= 2 and 0.03 <= c.fall < 0.3:
        found.append((0.5, f"Train loss only fell from {fmt(t[0])} to {fmt(t[-1])}."))
    advice = _NEXT["still_falling" if falling else "underfitting"].format(x=c.log.x_name)
    return _combine(found, advice)


def _healthy(c: Curves) -> _Finding:
    t, acc = c.smooth, c.final_acc()
    if not len(t):
        return _NONE
    fall = (t[0] - t[-1]) / abs(t[0]) if len(t) >= 2 and t[0] else 0.0
    score = ramp(fall, 0.3, 0.6) if len(t) >= 2 else 0.3
    score *= ramp(acc[1], 0.8, 0.9) if acc is not None else (1.0 if len(t) >= 2 else 0.0)
    sentence = f"Train loss is {fmt(t[-1])}"
    if len(t) >= 2:
        sentence = f"Train loss fell {fmt(t[0])} -> {fmt(t[-1])}"
    v = chunk_medians(c.val)[0] if c.val is not None else np.array([])
    if len(v) >= 2:
        sentence += f" and val loss followed, {fmt(v[0])} -> {fmt(v[-1])}"
    if acc is not None:
        sentence += f"; {acc[0]} ends at {fmt(acc[1])}"
    return _Finding(score, (sentence + ".",), _NEXT["healthy"])


_RULES: dict[str, Callable[[Curves], _Finding]] = {
    "crashed": _crashed, "impossible_loss": _impossible_loss, "diverged": _diverged,
    "collapsed": _collapsed, "not_learning": _not_learning, "loss_floor": _loss_floor,
    "unstable": _unstable, "overfitting": _overfitting, "underfitting": _underfitting,
    "healthy": _healthy,
}  # fmt: skip


def _notes(c: Curves) -> tuple[list[str], list[str]]:
    """Sentences worth adding whatever the label, (before, after) its evidence: too little
    data to judge, a validation that may be running on the training data."""
    before, after = [], []
    if not c.train.size:
        before.append("No train loss was logged, so there is no curve to judge.")
    elif c.train.size == 1:
        before.append("Only one row of train loss was logged: too little to judge a trend.")
    val = c.val
    if val is not None and len(val) == len(c.train) >= 2 and np.array_equal(val, c.train):
        after.append(
            f"Val loss equals train loss at every {c.log.x_name}: validation may be "
            "running on the training data."
        )
    return before, after


def diagnose(log: TrainingLog) -> Diagnosis:
    """Read a TrainingLog and return its Diagnosis: label, alternatives, evidence, experiment.

    Never raises on any TrainingLog: missing columns, NaN, one-row logs all get a reading.
    """
    with np.errstate(all="ignore"):  # overflow to infinity is handled as data, not an error
        c = Curves(log)
        findings = {label: _RULES[label](c) for label in PRIORITY}
    scores = {k: clip(f.score) for k, f in findings.items()}
    # Healthy means nothing else is wrong: it can score no higher than the worst problem allows.
    scores["healthy"] = min(scores["healthy"], 1 - max(scores[k] for k in PRIORITY[:-1]))
    fired = [label for label in PRIORITY if scores[label] >= FIRES]
    label = fired[0] if fired else max(PRIORITY, key=lambda k: scores[k])  # ties: priority
    finding = findings[label]
    if not scores[label]:
        advice = _NEXT["too_short"].format(x=log.x_name)
        label, finding = "underfitting", _Finding(0.0, (), advice)
    before, after = _notes(c) if label != "crashed" else ([], [])
    evidence = (before + list(finding.evidence))[:3] + after
    others = sorted((k for k in PRIORITY if k != label and scores[k] > 0), key=lambda k: -scores[k])
    return Diagnosis(
        label,
        tuple((k, scores[k]) for k in others),
        tuple(evidence) or ("The log holds no finite train loss.",),
        finding.next_experiment,
    )
