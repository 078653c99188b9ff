"""The Failure Lab's comparison flow, reusable by lessons: predict, train live, explain."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import streamlit as st

from engine.compare import run_summary, runs_to_train
from engine.config import RunConfig
from engine.results import RunResult
from engine.variants import get_variant
from ui.board import training_board
from ui.live import train_side_by_side
from ui.results import PREDICTIONS, diagnosis_of, show_results


def prediction_widgets(
    variant_ids: Sequence[str], key: str, required: bool = False
) -> dict[str, str | None]:
    """'Predict first': the learner's guess for each broken curve, before it is revealed.

    Required in lessons: Train waits until each curve has a guess or the learner skips.
    """
    guesses: dict[str, str | None] = {}
    if not variant_ids:
        return guesses
    ask = "What will each broken curve do?"
    st.markdown(f"**Predict first.** {ask} {'' if required else '(optional)'}")
    for variant_id in variant_ids:
        guesses[variant_id] = st.segmented_control(
            get_variant(variant_id).title, list(PREDICTIONS), key=f"{key}_guess_{variant_id}"
        )
    return guesses


def ready_to_reveal(guesses: dict[str, str | None], key: str) -> bool:
    """Whether every curve has a guess, or the learner chose to skip predicting."""
    if all(guesses.values()):
        return True
    skipped = st.checkbox("Skip predicting and just train", key=f"{key}_skip_prediction")
    if not skipped:
        missing = sum(1 for guess in guesses.values() if not guess)
        st.caption(f"Train unlocks when each curve has a guess ({missing} to go), or skip.")
    return skipped


def record_history(results: dict[str, RunResult], key: str) -> None:
    """Add this comparison's runs to the session's table of runs tried."""
    history = st.session_state.setdefault(f"{key}_history", [])
    for label, result in results.items():
        summary = run_summary(result)
        history.append(
            {
                "#": len(history) + 1,
                "run": label,
                "variant": result.config.variant or "—",
                "dataset": result.config.dataset,
                "lr": result.config.lr,
                "batch": result.config.batch_size,
                "epochs": result.config.epochs,
                "seed": result.config.seed,
                "diagnosis": diagnosis_of(result).label,
                "best val acc": summary["best_val_acc"],
                "seconds": round(result.seconds, 2),
                "at": time.strftime("%H:%M:%S"),
                "_result": result,
            }
        )


def abandoned(runs: Mapping[str, RunConfig]) -> bool:
    """Whether a comparison's runs are gone from the board: stopped, not training or kept."""
    board = training_board()
    return any(board.progress_of(config) is None for config in runs.values())


def comparison_section(
    baseline: RunConfig,
    variant_ids: Sequence[str],
    key: str,
    autorun: bool = False,
    predict_first: bool = False,
) -> bool:
    """Predict, Train (live), then the diagnoses, the code difference and the downloads.

    Results live in session state under `key`, so they survive reruns and page switches.
    With predict_first (lessons), Train waits for a guess per curve or an explicit skip.
    Returns whether the learner may see the answers (guessed, skipped or trained already).
    """
    predictions = prediction_widgets(variant_ids, key, required=predict_first)
    ready = not predict_first or not variant_ids or ready_to_reveal(predictions, key)
    runs = runs_to_train(baseline, variant_ids)
    start = st.button(
        "Train",
        type="primary",
        key=f"{key}_train",
        icon=":material/play_arrow:",
        disabled=not variant_ids or not ready,
        help="Train the baseline and the broken variants side by side",
    )
    if not variant_ids:
        st.info("Choose at least one broken variant to compare with the baseline.")
    fresh = bool((start or autorun) and variant_ids)
    if fresh:
        st.session_state[f"{key}_pending"] = {"runs": runs, "variants": list(variant_ids)}
    pending = st.session_state.get(f"{key}_pending")
    if pending and not fresh and abandoned(pending["runs"]):
        # Left (another page, Stop, a closed tab) while it trained, its runs were handed
        # back: coming back must not start them again from scratch.
        st.session_state.pop(f"{key}_pending", None)
        st.info("The comparison stopped when you left it. Press Train to run it again.")
        pending = None
    if pending:
        results = train_side_by_side(pending["runs"], key)
        st.session_state.pop(f"{key}_pending", None)
        if results is not None:
            st.session_state[f"{key}_results"] = {
                "results": results,
                "baseline": pending["runs"]["baseline"],
                "variants": pending["variants"],
            }
            record_history(results, key)
    shown = st.session_state.get(f"{key}_results")
    if shown:
        show_results(shown["results"], shown["baseline"], shown["variants"], predictions, key)
    return ready or bool(shown)
