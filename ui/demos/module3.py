"""Module 3's practice visuals: precision and data parallelism (3.5), early stopping,
augmentation and normalisation (3.7), and resuming from a checkpoint (3.8).

Every number comes from really training through the engine; this file only chooses widgets
and draws charts.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
import torch

from engine.augment import shift_and_rotate
from engine.config import default_config
from engine.data import load_data
from engine.distributed import (
    DistributedUnavailableError,
    max_weight_difference,
    train_data_parallel,
    train_one_process,
)
from engine.results import RunResult
from engine.training import train
from engine.variants import apply_variant
from ui.charts import BASELINE_COLOUR, BROKEN_COLOURS
from ui.demos.practice import scale_calculator_demo

HEIGHT = 300
RUN_COLOURS = [BASELINE_COLOUR, *BROKEN_COLOURS]


def _colour(runs: pd.Series, title: str | None = None) -> alt.Color:
    """The first run in the table (the healthy or reference one) in the baseline's blue."""
    order = list(dict.fromkeys(runs))
    return alt.Color(
        "run:N",
        scale=alt.Scale(domain=order, range=RUN_COLOURS[: len(order)]),
        sort=order,
        title=title,
        legend=alt.Legend(orient="bottom", columns=2, labelLimit=320),
    )


def _epochs(result: RunResult, run: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run": run,
            "epoch": e.epoch,
            "train_loss": e.train_loss,
            "val_loss": e.val_loss,
            "train_acc": e.train_acc,
            "val_acc": e.val_acc,
            "seconds": e.seconds,
        }
        for e in result.epochs
    )


def _steps(result: RunResult, run: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"run": run, "step": s.step, "loss": s.loss, "lr": s.lr} for s in result.steps
    )


def _loss_chart(table: pd.DataFrame, x: str, y: str, title: str) -> alt.Chart:
    return (
        alt.Chart(table)
        .mark_line()
        .encode(
            x=alt.X(f"{x}:Q", title=x, axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(f"{y}:Q", title=title, scale=alt.Scale(type="log")),
            color=_colour(table["run"]),
        )
        .properties(height=HEIGHT)
    )


# --- 3.5 large-scale training --------------------------------------------------------------


@st.cache_data(show_spinner="Training in float32 and in bfloat16 autocast...")
def _precision_runs() -> pd.DataFrame:
    frames = []
    for precision in ("float32", "bfloat16"):
        result = train(default_config("digits", epochs=10, precision=precision, device="cpu"))
        frames.append(_epochs(result, precision))
    return pd.concat(frames, ignore_index=True)


@st.cache_data(show_spinner="Starting 2 processes and training with DistributedDataParallel...")
def _parallel_runs(epochs: int) -> tuple[pd.DataFrame, float, float, float, int] | str:
    config = default_config("digits", epochs=epochs, optimizer="sgd", lr=0.05, device="cpu")
    try:
        parallel = train_data_parallel(config, world_size=2)
    except (DistributedUnavailableError, ValueError) as error:
        return str(error)
    single = train_one_process(config, world_size=2)
    frames = [
        pd.DataFrame({"run": run, "step": range(1, len(losses) + 1), "loss": losses})
        for run, losses in (
            ("2 processes (DDP, gloo)", parallel.losses),
            ("1 process, same global batches", single.losses),
        )
    ]
    return (
        pd.concat(frames, ignore_index=True),
        max_weight_difference(parallel, single),
        parallel.seconds,
        single.seconds,
        parallel.examples_per_rank,
    )


def large_scale_demo() -> None:
    """3.5: autocast's curve and speed, real data parallelism, and the scale calculator."""
    st.subheader("Mixed precision on this machine")
    table = _precision_runs()
    left, right = st.columns(2)
    left.altair_chart(
        _loss_chart(table, "epoch", "val_loss", "validation loss (log scale)"), width="stretch"
    )
    per_epoch = table.groupby("run")["seconds"].mean()
    for column, precision in zip(right.columns(2), ("float32", "bfloat16"), strict=True):
        column.metric(f"{precision}: seconds per epoch", f"{per_epoch[precision]:.3f}")
    final = table.groupby("run")["val_loss"].last()
    ratio = per_epoch["bfloat16"] / per_epoch["float32"]
    right.caption(
        f"Final validation loss: float32 {final['float32']:.4f}, bfloat16 {final['bfloat16']:.4f}. "
        f"bfloat16 took {ratio:.2f} times float32's time per epoch here (digits MLP, Adam, "
        "batch 32, 10 epochs, one CPU thread; other learners' runs share this CPU, so timings "
        "wobble). A CPU without 16-bit matrix instructions converts every product to and from "
        "float32; mixed precision pays off on GPUs' tensor cores and where memory traffic "
        "is the bottleneck."
    )

    st.subheader("Data parallelism, for real: two processes")
    epochs = st.slider("Epochs", 1, 3, 1, key="demo_3_5_ddp_epochs")
    if st.button("Train on 2 processes", key="demo_3_5_ddp", icon=":material/hub:"):
        st.session_state["demo_3_5_ddp_epochs_run"] = epochs
    ran = st.session_state.get("demo_3_5_ddp_epochs_run")
    if ran is None:
        st.caption(
            "Starts two Python processes that each train a copy of the digits MLP on half of "
            "every batch and average their gradients (gloo, on this machine), then one "
            "process on the same batches joined together. Takes a few seconds."
        )
    else:
        _show_parallel(int(ran))
    scale_calculator_demo()


def _show_parallel(epochs: int) -> None:
    outcome = _parallel_runs(epochs)
    if isinstance(outcome, str):
        st.warning(f"Data parallel training could not run here: {outcome}")
    else:
        steps, difference, parallel_seconds, single_seconds, per_rank = outcome
        st.altair_chart(
            _loss_chart(steps, "step", "loss", "loss on the global batch (log scale)"),
            width="stretch",
        )
        columns = st.columns(3)
        columns[0].metric("Largest weight difference at the end", f"{difference:.1e}")
        columns[1].metric("2 processes, seconds", f"{parallel_seconds:.1f}")
        columns[2].metric("1 process, seconds", f"{single_seconds:.1f}")
        st.caption(
            f"Each process saw {per_rank} training examples per epoch (its shard), in batches "
            "of 32; each step's global batch is 64. The two lines lie on top of each other. "
            "The 2 processes take longer here: starting them and importing PyTorch costs "
            "seconds, and the model is tiny. Data parallelism pays off when one step takes "
            "far longer than an all-reduce."
        )


# --- 3.7 early stopping, augmentation, normalisation ------------------------------------

SMALL_NOISY = {"subset": 200, "label_noise": 0.2, "lr": 3e-3, "epochs": 60}


@st.cache_data(show_spinner="Training with early stopping...")
def _early_stopping(patience: int) -> tuple[pd.DataFrame, int | None, int | None]:
    result = train(default_config("digits", early_stopping=patience, **SMALL_NOISY))
    return _epochs(result, "with early stopping"), result.best_epoch, result.early_stopped_at


@st.cache_data(show_spinner="Training with and without augmentation...")
def _augmentation() -> pd.DataFrame:
    frames = []
    for run, augment in (("no augmentation", False), ("shifts and rotations", True)):
        result = train(default_config("digits", subset=300, epochs=40, augment=augment))
        frames.append(_epochs(result, run))
    table = pd.concat(frames, ignore_index=True)
    table["gap"] = table["train_acc"] - table["val_acc"]
    return table


@st.cache_data(show_spinner=False)
def _augmented_examples() -> pd.DataFrame:
    images = load_data(default_config("digits")).train.inputs[:4]
    torch.manual_seed(0)
    rows = []
    for version in range(4):
        shown = images if version == 0 else shift_and_rotate(images)
        for example, image in enumerate(shown):
            for (y, x), value in (
                pd.Series(image[0].flatten().tolist())
                .set_axis(pd.MultiIndex.from_product([range(8), range(8)]))
                .items()
            ):
                rows.append(
                    {
                        "digit": f"example {example + 1}",
                        "version": "original" if version == 0 else f"augmented {version}",
                        "x": x,
                        "y": y,
                        "ink": value,
                    }
                )
    return pd.DataFrame(rows)


@st.cache_data(
    show_spinner="Training a deep MLP without a norm, with batch norm, with layer norm..."
)
def _normalisation() -> pd.DataFrame:
    frames = []
    deep = {"hidden": (64,) * 6, "activation": "tanh", "optimizer": "sgd", "lr": 0.05, "epochs": 15}
    for run, settings in (
        ("no norm", {}),
        ("batch norm", {"batch_norm": True}),
        ("layer norm", {"layer_norm": True}),
    ):
        frames.append(_epochs(train(default_config("digits", **deep, **settings)), run))
    return pd.concat(frames, ignore_index=True)


def generalisation_demo() -> None:
    """3.7: early stopping's two epochs, augmentation's effect on the gap, norms in a deep MLP."""
    st.subheader("Early stopping: the best epoch and the stopping epoch")
    patience = st.slider("Patience (epochs)", 1, 20, 5, key="demo_3_7_patience")
    table, best, stopped = _early_stopping(int(patience))
    long = table.rename(columns={"train_loss": "train", "val_loss": "validation"}).melt(
        id_vars=["run", "epoch"], value_vars=["train", "validation"], var_name="curve"
    )
    lines = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title="loss (log scale)", scale=alt.Scale(type="log")),
            color=alt.Color("curve:N", title=None, legend=alt.Legend(orient="bottom")),
        )
    )
    marks = pd.DataFrame(
        [
            {"epoch": epoch, "what": what}
            for epoch, what in ((best, "best epoch (weights kept)"), (stopped, "stopped"))
            if epoch
        ]
    )
    rules = (
        alt.Chart(marks)
        .mark_rule(strokeDash=[4, 3])
        .encode(x="epoch:Q", tooltip=["what:N", "epoch:Q"])
    )
    labels = (
        alt.Chart(marks)
        .mark_text(align="left", dx=4, dy=-6, y=10)
        .encode(x="epoch:Q", text="what:N")
    )
    st.altair_chart((lines + rules + labels).properties(height=HEIGHT), width="stretch")
    if stopped:
        st.caption(
            f"200 training digits, a fifth of their labels wrong, Adam lr 3e-3, up to 60 "
            f"epochs. The val loss was lowest at epoch {best}; after {patience} epochs "
            f"without a better one, training stopped at epoch {stopped} and epoch {best}'s "
            "weights were put back."
        )
    else:
        st.caption(f"With patience {patience} the run used all 60 epochs (best: epoch {best}).")

    st.subheader("Augmentation: new versions of the same digits, every epoch")
    examples = _augmented_examples()
    st.altair_chart(
        alt.Chart(examples)
        .mark_rect()
        .encode(
            x=alt.X("x:O", axis=None),
            y=alt.Y("y:O", axis=None),
            color=alt.Color("ink:Q", scale=alt.Scale(scheme="greys"), legend=None),
            column=alt.Column(
                "version:N", title=None, sort=["original", *(f"augmented {n}" for n in (1, 2, 3))]
            ),
            row=alt.Row("digit:N", title=None),
        )
        .properties(width=70, height=70),
        width="content",
    )
    gap = _augmentation()
    chart = (
        alt.Chart(gap)
        .mark_line()
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("gap:Q", title="train acc − val acc (the gap)"),
            color=_colour(gap["run"]),
        )
        .properties(height=HEIGHT)
    )
    st.altair_chart(chart, width="stretch")
    last = gap.groupby("run").last()
    st.caption(
        "300 training digits, 40 epochs. At the end: "
        + "; ".join(
            f"{run}: train acc {row.train_acc:.1%}, val acc {row.val_acc:.1%}"
            for run, row in last.iterrows()
        )
        + "."
    )

    st.subheader("Normalisation in a deep MLP")
    norms = _normalisation()
    st.altair_chart(
        _loss_chart(norms, "epoch", "val_loss", "validation loss (log scale)"), width="stretch"
    )
    final = norms.groupby("run")["val_acc"].last()
    st.caption(
        "Six tanh layers of 64, plain SGD lr 0.05, 15 epochs. Final val acc: "
        + ", ".join(f"{run} {acc:.1%}" for run, acc in final.items())
        + "."
    )


# --- 3.8 checkpoint and resume ---------------------------------------------------------------

RESUME_BASE: dict[str, Any] = {"lr": 3e-3, "schedule": "cosine", "epochs": 20, "resume_at": 10}


@st.cache_data(show_spinner="Training, saving a checkpoint at epoch 10 and resuming from it...")
def _resumes() -> tuple[pd.DataFrame, float, int]:
    base = default_config("digits", **RESUME_BASE)
    runs = {
        "never interrupted": train(base.replace(resume_at=None)),
        "resumed with everything": train(base),
        "resumed without optimizer state": train(
            apply_variant(base, "resume_without_optimizer_state")
        ),
        "resumed with the schedule restarted": train(
            apply_variant(base, "schedule_restarted_on_resume")
        ),
    }
    steps = pd.concat([_steps(r, name) for name, r in runs.items()], ignore_index=True)
    straight, resumed = runs["never interrupted"], runs["resumed with everything"]
    difference = max(
        abs(a.loss - b.loss) for a, b in zip(straight.steps, resumed.steps, strict=True)
    )
    return steps, difference, resumed.resumed_at_step or 0


def resume_demo() -> None:
    """3.8: one checkpoint, three ways of resuming from it, against the run never stopped."""
    st.subheader("One checkpoint, resumed three ways")
    steps, difference, at = _resumes()
    window = st.slider("Steps shown after the resume", 20, 400, 120, step=20, key="demo_3_8_window")
    near = steps[(steps["step"] > at - 60) & (steps["step"] <= at + window)]
    rule = alt.Chart(pd.DataFrame({"step": [at]})).mark_rule(strokeDash=[4, 3]).encode(x="step:Q")
    st.altair_chart(
        (_loss_chart(near, "step", "loss", "loss on the batch (log scale)") + rule),
        width="stretch",
    )
    lr = (
        alt.Chart(near)
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("lr:Q", title="learning rate"),
            color=_colour(near["run"]),
        )
        .properties(height=HEIGHT)
    )
    st.altair_chart(lr + rule, width="stretch")
    st.metric(
        "Largest difference, never interrupted vs resumed with everything", f"{difference:.1e}"
    )
    st.caption(
        f"Digits MLP, Adam lr 3e-3 with a cosine schedule, 20 epochs; saved to a checkpoint "
        f"file after epoch 10 (step {at}, the dashed line) and loaded into a fresh optimizer "
        "and schedule. A difference of exactly 0 means the resume is invisible: the run never "
        "interrupted and the correct resume draw one line, the later one on top."
    )
