"""Lesson 3.6, exercise 1: read a broken curve and name the bug.

The logs below came from real runs of the same digits MLP: one healthy, and five with one
bug each: labels shuffled apart from their inputs, a softmax before CrossEntropyLoss, the
loss arguments swapped (one-hot labels), training on 50 examples, and a forgotten
optimizer.zero_grad(). Write name_the_bug(log) that reads only the numbers in a log and
returns the bug's id (or "healthy"). Then check your reading against the app's Curve Doctor
(engine.diagnosis.diagnose), which must find the matching symptom for each log.
"""

from __future__ import annotations

import io
import math

import pandas as pd

from engine.diagnosis import diagnose
from engine.training_log import parse_training_log

N_CLASSES = 10
CHANCE_LOSS = math.log(N_CLASSES)  # 2.303: the loss of a model that guesses uniformly

LOGS = {
    "healthy": """epoch,train_loss,val_loss,train_acc,val_acc
1,1.238,1.245,0.793,0.807
2,0.3684,0.3869,0.929,0.918
4,0.1099,0.1597,0.981,0.952
8,0.03257,0.1074,0.995,0.959
12,0.01267,0.09824,0.999,0.974
16,0.006159,0.09664,1.000,0.974
20,0.003474,0.09923,1.000,0.970
""",
    "labels_misaligned": """epoch,train_loss,val_loss,train_acc,val_acc
1,2.274,2.303,0.182,0.071
4,2.172,2.333,0.234,0.078
8,2.003,2.42,0.315,0.093
12,1.833,2.502,0.374,0.112
16,1.641,2.646,0.470,0.086
20,1.461,2.814,0.542,0.089
""",
    "softmax_before_ce": """epoch,train_loss,val_loss,train_acc,val_acc
1,2.02,2.017,0.538,0.509
2,1.686,1.686,0.824,0.818
3,1.571,1.576,0.932,0.941
5,1.508,1.523,0.969,0.948
10,1.474,1.502,0.990,0.970
20,1.469,1.498,0.993,0.970
""",
    "swapped_loss_args": """epoch,train_loss,val_loss,train_acc,val_acc
1,-101.7,-99.88,0.117,0.093
2,-959.7,-943.3,0.097,0.097
3,-4328,-4257,0.097,0.097
4,-12620,-12420,0.097,0.097
5,-28590,-28140,0.097,0.097
""",
    "tiny_subset": """epoch,train_loss,val_loss,train_acc,val_acc
1,2.263,2.276,0.180,0.182
10,1.763,2.008,0.760,0.387
20,0.9123,1.514,0.900,0.625
30,0.2797,1.089,0.980,0.758
40,0.07542,0.9415,1.000,0.747
50,0.02803,0.9063,1.000,0.755
60,0.01566,0.9082,1.000,0.755
""",
    "no_zero_grad": """epoch,train_loss,val_loss,train_acc,val_acc
1,0.8642,0.8768,0.803,0.833
2,0.3736,0.4405,0.881,0.855
3,1.667,1.991,0.816,0.807
4,1.985,2.326,0.794,0.725
5,2.401,2.857,0.824,0.788
6,2.73,3.54,0.754,0.743
7,1.039,1.935,0.849,0.807
8,0.7216,1.123,0.882,0.840
9,0.817,1.393,0.839,0.829
10,0.5218,0.8128,0.894,0.874
""",
}

# The Curve Doctor's symptom label for each bug.
EXPECTED_LABEL = {
    "healthy": "healthy",
    "labels_misaligned": "not_learning",
    "softmax_before_ce": "loss_floor",
    "swapped_loss_args": "impossible_loss",
    "tiny_subset": "overfitting",
    "no_zero_grad": "unstable",
}


def name_the_bug(log: pd.DataFrame) -> str:
    """The bug behind a log with columns epoch, train_loss, val_loss, train_acc, val_acc."""
    last = log.iloc[-1]
    if (log[["train_loss", "val_loss"]] < 0).any().any():
        return "swapped_loss_args"  # cross-entropy can never be negative
    if log["val_loss"].min() > 0.95 * CHANCE_LOSS and last["val_acc"] < 2 / N_CLASSES:
        return "labels_misaligned"  # val never beats guessing: nothing real to learn
    if last["train_acc"] > 0.95 and last["train_loss"] > 1.0:
        return "softmax_before_ce"  # right almost always, yet the loss will not fall
    if last["train_acc"] > 0.99 and last["train_acc"] - last["val_acc"] > 0.1:
        return "tiny_subset"  # memorised the training set, validation left behind
    val_loss = log["val_loss"]
    peak = int(val_loss.to_numpy().argmax())
    if peak > 0:
        best_before_peak = val_loss.iloc[:peak].min()
        swung_up = val_loss.iloc[peak] > 2 * best_before_peak
        came_back = val_loss.iloc[-1] < 0.7 * val_loss.iloc[peak]
        if swung_up and came_back:
            return "no_zero_grad"  # val loss leapt far above its best, then fell again
    return "healthy"


def main() -> None:
    for truth, text in LOGS.items():
        guess = name_the_bug(pd.read_csv(io.StringIO(text)))
        doctor = diagnose(parse_training_log(text, n_classes=N_CLASSES))
        print(f"{truth:<18} -> you: {guess:<18} Curve Doctor: {doctor.label}")
        print(f"    evidence: {doctor.evidence[0]}")
        assert guess == truth
        assert doctor.label == EXPECTED_LABEL[truth]
    print(f"all {len(LOGS)} curves named (5 bugs and the healthy run); the Curve Doctor agrees")


if __name__ == "__main__":
    main()
