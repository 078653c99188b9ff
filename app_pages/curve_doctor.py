"""Curve Doctor: paste or upload a training log and get a diagnosis with the evidence."""

import streamlit as st

from engine.diagnosis import diagnose
from engine.training_log import (
    EXAMPLE_LOG_CSV,
    LogFormatError,
    parse_training_log,
    read_training_log,
)
from ui.log_chart import log_charts
from ui.plain_text import plain, shorten

st.title("Curve Doctor")
st.markdown(
    "Paste a training log or upload a CSV (columns such as `epoch` or `step`, "
    "`train_loss`, `val_loss`, `train_acc`, `val_acc`; only a train loss is "
    "required). Logs from Keras, Lightning or your own loop all work."
)
source = st.radio(
    "Log source", ["Paste text", "Upload a CSV file"], horizontal=True, key="doctor_source"
)
classes = st.number_input(
    "Number of classes K (optional, for the ln K chance line)",
    min_value=0,
    max_value=100_000,
    value=0,
    step=1,
    key="doctor_k",
)
n_classes = int(classes) if classes and classes >= 2 else None
log = None
try:
    if source == "Paste text":
        text = st.text_area("Training log", value=EXAMPLE_LOG_CSV, height=200, key="doctor_text")
        if text.strip():
            log = parse_training_log(text, n_classes=n_classes)
    else:
        upload = st.file_uploader(
            "CSV training log", type=["csv", "tsv", "txt"], key="doctor_upload"
        )
        if upload is not None:
            log = read_training_log(upload, n_classes=n_classes)
except LogFormatError as error:
    st.error(f"Could not read this log. {plain(shorten(str(error), 400))}")
    st.markdown("A valid log looks like this:")
    st.code(EXAMPLE_LOG_CSV, language=None)

if log is not None:
    diagnosis = diagnose(log)
    columns = st.columns(2)
    for column, chart in zip(columns, log_charts(log), strict=False):
        column.altair_chart(chart, width="stretch")
    st.subheader(f"Diagnosis: `{diagnosis.label}`")
    # Evidence quotes the log's own column names: shown as text, never as Markdown.
    for sentence in diagnosis.evidence:
        st.markdown(f"- {plain(sentence)}")
    st.markdown(f"**Next experiment:** {plain(diagnosis.next_experiment)}")
    if diagnosis.alternatives:
        st.caption(
            "Also considered: "
            + ", ".join(f"{name} ({score:.1f})" for name, score in diagnosis.alternatives[:4])
        )
