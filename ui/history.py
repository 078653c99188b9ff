"""The table of runs tried in this session; picking rows overlays their curves."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.charts import RunCurves, epoch_chart, step_loss_chart


def history_table(key: str) -> None:
    history = st.session_state.get(f"{key}_history", [])
    if not history:
        return
    st.subheader("Runs tried in this session")
    table = pd.DataFrame(
        [{k: v for k, v in row.items() if not k.startswith("_")} for row in history]
    )
    picked = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key=f"{key}_history_table",
        column_config={
            "best val acc": st.column_config.NumberColumn(format="%.3f"),
            "lr": st.column_config.NumberColumn(format="%g"),
        },
    )
    rows = picked.selection.rows if picked else []
    if not rows:
        st.caption("Select rows to overlay their curves.")
        return
    curves = []
    for index in rows:
        row = history[index]
        result = row["_result"]
        curves.append(
            RunCurves(
                f"#{row['#']} {row['run']}", result.steps, result.epochs, result.diverged_at_step
            )
        )
    n_classes = history[rows[0]]["_result"].n_classes or None
    left, right = st.columns(2)
    left.altair_chart(step_loss_chart(curves, n_classes), width="stretch")
    right.altair_chart(epoch_chart(curves, "loss", n_classes), width="stretch")
