"""Home: what Training Loop Lab is, and where to start."""

import streamlit as st

from engine.source import source_of
from engine.step import train_step
from engine.variants import all_variants

st.title("Training Loop Lab")
st.markdown(
    "Learn how neural networks are trained by **watching the training loop work, and "
    "then watching it break**. Every curve here comes from a real PyTorch run on real data "
    "(1,797 handwritten digits, built in, no download), trained in seconds on a CPU."
)
st.code(source_of(train_step), language="python")
st.caption(
    "The step every run here takes, once per batch, healthy or broken: the engine's own "
    "`train_step` from `engine/step.py`, shown as it runs. A broken variant changes one line."
)
left, right = st.columns(2)
with left:
    st.subheader("Start here")
    st.page_link(
        "app_pages/failure_lab.py", label="Failure Lab: healthy vs broken, side by side", icon="🧪"
    )
    st.page_link(
        "app_pages/curve_doctor.py", label="Curve Doctor: diagnose your own log", icon="🩺"
    )
    st.page_link("app_pages/bug_hunt.py", label="Bug Hunt: name the hidden bug", icon="🔎")
    st.page_link(
        "app_pages/overfit_one_batch.py", label="Overfit one batch: can it learn at all?", icon="🎯"
    )
    st.page_link("app_pages/playground.py", label="Playground: one run, every option", icon="🛝")
    st.subheader("Teaching a class?")
    st.page_link(
        "app_pages/classroom.py",
        label="Classroom: the class joins by code, predicts, then watches it train",
        icon="🧑‍🏫",
    )
    st.page_link("app_pages/join.py", label="Join a class (code from your teacher)", icon="🙋")
with right:
    st.subheader(f"{len(all_variants())} bugs to break the loop with")
    for variant in list(all_variants().values())[:6]:
        st.markdown(f"- **{variant.title}**: {variant.symptom}")
    st.caption("...and more in the Failure Lab.")
