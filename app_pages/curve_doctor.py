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

# Below the server's upload cap (server.maxUploadSize, 20 MB): a larger log is refused here
# with a sentence. The browser refuses a file over the cap itself, with only an icon.
UPLOAD_LIMIT_MB = 10
COLUMNS_READ = (
    "a header row, then one row per epoch or step; only a train loss column (`train_loss` "
    "or `loss`) is required, and `epoch` or `step`, `val_loss`, `train_acc` and `val_acc` "
    "are read when present"
)


def use_example_log() -> None:
    st.session_state["doctor_text"] = EXAMPLE_LOG_CSV


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
where = "this log"
try:
    if source == "Paste text":
        # Set through Session State, not value=, so the example button can put it back.
        st.session_state.setdefault("doctor_text", EXAMPLE_LOG_CSV)
        text = st.text_area("Training log", height=200, key="doctor_text")
        if text.strip():
            log = parse_training_log(text, n_classes=n_classes)
        else:
            st.info(f"Paste a training log above, or use the example log. Expected {COLUMNS_READ}.")
            st.button("Use the example log", on_click=use_example_log, key="doctor_use_example")
    else:
        # No type filter: a file the widget refuses shows only an icon, and Keras' CSVLogger
        # writes "training.log". The reader says what is wrong with any file.
        upload = st.file_uploader(
            f"CSV training log (up to {UPLOAD_LIMIT_MB} MB)", key="doctor_upload"
        )
        if upload is not None:
            where = plain(shorten(upload.name, 60))
            log = read_training_log(upload, n_classes, max_bytes=UPLOAD_LIMIT_MB * 2**20)
except LogFormatError as error:
    st.error(f"Could not read {where}. {plain(shorten(str(error), 400))}")
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
