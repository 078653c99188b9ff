"""Overfit one batch: can this loop learn at all?"""

import altair as alt
import pandas as pd
import streamlit as st

from engine.config import ConfigError
from engine.probes import overfit_one_batch
from engine.variants import all_variants, apply_variant
from ui.settings import baseline_widgets, variant_label

st.title("Overfit one batch")
st.markdown(
    "Take **one** small batch and train on it again and again. A model and loop "
    "that work drive its loss close to zero within a few hundred steps; if yours "
    "cannot, the bug is in the loop, the loss or the model, not in the data."
)
with st.container(border=True):
    settings = baseline_widgets("probe", variants=False, training_length=False)
    bug = st.selectbox(
        "Optionally break the loop first",
        [None, *all_variants()],
        format_func=lambda v: "No bug (healthy loop)" if v is None else variant_label(v),
        key="probe_bug",
    )
    columns = st.columns(2)
    batch = columns[0].select_slider(
        "Examples in the one batch", [4, 8, 16, 32, 64], value=32, key="probe_batch_size"
    )
    steps = columns[1].slider("Steps on that batch", 20, 500, 200, step=20, key="probe_steps")

if st.button("Run the probe", type="primary", key="probe_run", icon=":material/science:"):
    config = settings.baseline if bug is None else apply_variant(settings.baseline, bug)
    try:
        with st.spinner("Training on one batch..."):
            st.session_state["probe_result"] = overfit_one_batch(config, batch, steps)
    except ConfigError as error:
        st.error(str(error))

result = st.session_state.get("probe_result")
if result is not None:
    (st.success if result.learned else st.error)(result.verdict)
    if result.losses:
        frame = pd.DataFrame({"step": range(1, len(result.losses) + 1), "loss": result.losses})
        finite = frame[frame["loss"].map(lambda v: v == v and abs(v) != float("inf"))]
        scale = alt.Scale(type="log") if (finite["loss"] > 0).all() else alt.Scale()
        chart = (
            alt.Chart(finite)
            .mark_line(color="#2563eb")
            .encode(
                x=alt.X("step:Q", title="Step (same batch every time)"),
                y=alt.Y("loss:Q", title="Loss on the batch", scale=scale),
                tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4g")],
            )
            .properties(height=280, title=f"Loss on one batch of {result.batch_size}")
        )
        st.altair_chart(chart, width="stretch")
