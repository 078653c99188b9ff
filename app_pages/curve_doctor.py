"""Curve Doctor: paste or upload a training log and get a diagnosis with the evidence."""

import zlib

import streamlit as st

from engine.curve_marks import chart_marks
from engine.diagnosis import diagnose
from engine.log_roles import build_log, pick_columns
from engine.log_table import FORMAT_NAMES, LogFormatError, LogTable, TrainingLog
from engine.training_log import EXAMPLE_LOG_CSV, table_from_files, table_from_text
from ui.log_chart import log_charts
from ui.plain_text import plain, shorten

# Below the server's upload cap (server.maxUploadSize, 20 MB): a larger log is refused here
# with a sentence. The browser refuses a file over the cap itself, with only an icon.
UPLOAD_LIMIT_MB = 10
FORMATS_READ = (
    "a CSV from Keras, Lightning, fastai, Ultralytics or your own loop; Hugging Face's "
    "`trainer_state.json`; a TensorBoard event file (`events.out.tfevents.*`) or its CSV "
    "exports; W&B CSV exports; or the console output of Keras `fit`, the Hugging Face "
    "Trainer or your own `print` lines"
)
# The roles a learner can reassign, with the words the page uses for them.
ROLE_NAMES = {
    "train_loss": "Train loss",
    "val_loss": "Val loss",
    "train_acc": "Train accuracy",
    "val_acc": "Val accuracy (or mAP)",
}
NONE = "(none)"


def use_example_log() -> None:
    st.session_state["doctor_text"] = EXAMPLE_LOG_CSV


def read_upload(uploads: list) -> LogTable:
    """The table of the uploaded files, each under the page's size limit."""
    files = []
    for upload in uploads:
        if upload.size > UPLOAD_LIMIT_MB * 2**20:
            raise LogFormatError(
                f"{shorten(upload.name, 60)} is larger than {UPLOAD_LIMIT_MB} MB. "
                "Expected a log of at most 100,000 rows; log every few steps instead."
            )
        files.append((upload.name, upload.getvalue()))
    return table_from_files(files)


def column_choices(table: LogTable) -> dict[str, str]:
    """The learner's column for each role: the doctor's guess unless they picked another."""
    guessed = pick_columns(table)
    names = list(table.columns)
    signature = str(zlib.crc32("\x1f".join(names).encode()))  # a new log: fresh guesses
    chosen: dict[str, str] = {}
    with st.expander("Wrong column? Pick the columns yourself", expanded=False):
        picks = st.columns(len(ROLE_NAMES))
        for pick, (role, title) in zip(picks, ROLE_NAMES.items(), strict=True):
            options = names if role == "train_loss" else [NONE, *names]
            default = guessed.get(role, NONE)
            index = options.index(default) if default in options else 0
            value = pick.selectbox(title, options, index=index, key=f"doctor_{role}_{signature}")
            if value != default:
                chosen[role] = "" if value == NONE else value
    return chosen


def columns_read(log: TrainingLog) -> str:
    """'Read as a Keras CSVLogger log: train loss = loss, ...', the log's names as text."""
    said = [
        f"{title[0].lower() + title[1:]} = {plain(shorten(log.columns[role], 80))}"
        for role, title in ROLE_NAMES.items()
        if role in log.columns
    ]
    if "x" in log.columns:
        said.append(f"x axis = {plain(shorten(log.columns['x'], 80))}")
    return f"Read as {FORMAT_NAMES.get(log.source_format, 'a log')}: " + ", ".join(said)


st.title("Curve Doctor")
st.markdown(
    f"Paste a training log or upload it: {FORMATS_READ}. Only a train loss is required; "
    "val loss, accuracy and the learning rate are read when they are there."
)
source = st.radio(
    "Log source", ["Paste text", "Upload files"], horizontal=True, key="doctor_source"
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
table = None
where = "this log"
try:
    if source == "Paste text":
        # Set through Session State, not value=, so the example button can put it back.
        st.session_state.setdefault("doctor_text", EXAMPLE_LOG_CSV)
        text = st.text_area("Training log", height=200, key="doctor_text")
        if text.strip():
            table = table_from_text(text)
        else:
            st.info(
                f"Paste a training log above, or use the example log. It can be {FORMATS_READ}. "
                "A CSV needs a header row naming a train loss column (`train_loss` or `loss`); "
                "`epoch` or `step`, `val_loss`, `train_acc` and `val_acc` are read when present."
            )
            st.button("Use the example log", on_click=use_example_log, key="doctor_use_example")
    else:
        # No type filter: a file the widget refuses shows only an icon, and Keras' CSVLogger
        # writes "training.log". The reader says what is wrong with any file.
        uploads = st.file_uploader(
            f"Training log files (up to {UPLOAD_LIMIT_MB} MB each; several one-metric CSV "
            "exports from TensorBoard or W&B are joined on their step)",
            key="doctor_upload",
            accept_multiple_files=True,
        )
        if uploads:
            names = ", ".join(shorten(upload.name, 60) for upload in uploads[:3])
            where = plain(names) + (" and more" if len(uploads) > 3 else "")
            table = read_upload(uploads)
    log = None
    if table is not None:
        log = build_log(table, n_classes, column_choices(table))
except LogFormatError as error:
    log = None
    st.error(f"Could not read {where}. {plain(shorten(str(error), 400))}")
    st.markdown("A valid log looks like this:")
    st.code(EXAMPLE_LOG_CSV, language=None)

if log is not None:
    st.caption(columns_read(log))
    diagnosis = diagnose(log)
    columns = st.columns(2)
    charts = log_charts(log, chart_marks(log), diagnosis.label)
    for column, chart in zip(columns, charts, strict=False):
        column.altair_chart(chart, width="stretch")
    st.subheader(f"Diagnosis: `{diagnosis.label}`")
    # Evidence quotes the log's own column names: shown as text, never as Markdown.
    for sentence in diagnosis.evidence:
        st.markdown(f"- {plain(sentence)}")
    st.markdown(f"**Next experiment:** {plain(diagnosis.next_experiment)}")
    if diagnosis.alternatives:
        st.markdown("**Also considered**")
        for name, score in diagnosis.alternatives[:3]:
            reason = diagnosis.reasons.get(name, "")
            st.markdown(f"- `{name}` ({score:.1f}){': ' + plain(reason) if reason else ''}")
