"""Playground: one run with every engine option, live curves and a diagnosis."""

import streamlit as st

from engine.config import (
    ACTIVATIONS,
    INITS,
    MODELS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    ConfigError,
    default_config,
)
from engine.variants import all_variants, apply_variant
from ui.live import draw_charts, n_classes_of, train_side_by_side
from ui.results import curves, show_diagnoses, show_downloads
from ui.settings import MAX_EPOCHS, available_datasets, variant_label

KEY = "play"

st.title("Playground")
st.markdown(
    "Every option of the engine for one run. Settings are bounded so that no run "
    "takes more than a minute on a shared server."
)
with st.form("play_form", border=True):
    columns = st.columns(4)
    dataset = columns[0].selectbox("Dataset", available_datasets())
    model = columns[1].selectbox("Model", [m for m in MODELS if m != "linear"])
    hidden = columns[2].text_input(
        "Hidden widths (MLP)", "128,64", help="Comma-separated, up to 24 layers of 1-1024 units"
    )
    activation = columns[3].selectbox("Activation", ACTIVATIONS)
    columns = st.columns(4)
    optimizer = columns[0].selectbox("Optimizer", OPTIMIZERS)
    lr = columns[1].number_input("Learning rate", 1e-6, 10.0, 1e-3, format="%g")
    momentum = columns[2].number_input("Momentum (SGD, RMSprop)", 0.0, 0.99, 0.0, step=0.1)
    weight_decay = columns[3].number_input("Weight decay", 0.0, 0.1, 0.0, format="%g")
    columns = st.columns(4)
    schedule = columns[0].selectbox("LR schedule", SCHEDULES)
    init = columns[1].selectbox("Initialisation", INITS)
    dropout = columns[2].slider("Dropout", 0.0, 0.8, 0.0, step=0.05)
    clip = columns[3].number_input("Clip gradient norm (0 = off)", 0.0, 100.0, 0.0)
    columns = st.columns(4)
    batch = columns[0].select_slider("Batch size", [8, 16, 32, 64, 128, 256], value=32)
    epochs = columns[1].slider("Epochs", 1, 60, 20)
    seed = columns[2].number_input("Seed", 0, 9999, 42)
    subset = columns[3].number_input("Training subset (0 = all)", 0, 60000, 0, step=50)
    columns = st.columns(4)
    shuffle = columns[0].checkbox("Shuffle", value=True)
    class_sorted = columns[1].checkbox("Class-sorted order")
    normalize = columns[2].checkbox("Standardise inputs", value=True)
    augment = columns[3].checkbox("Augment (shift, rotate)", help="Image datasets only")
    label_noise = st.slider(
        "Label noise (fraction of training labels randomised)", 0.0, 1.0, 0.0, step=0.05
    )
    columns = st.columns(4)
    norm = columns[0].selectbox(
        "Normalisation layer", ["none", "batch norm", "layer norm"], help="After each hidden layer"
    )
    accumulate = columns[1].number_input(
        "Accumulate micro-batches (K)",
        1,
        64,
        1,
        help="One optimizer step per K micro-batches of the batch size above",
    )
    precision = columns[2].selectbox(
        "Autocast precision", PRECISIONS, help="The forward pass's float type (lesson 3.5)"
    )
    patience = columns[3].number_input(
        "Early-stopping patience (0 = off)",
        0,
        100,
        0,
        help="Stop after this many epochs without a better val loss; keep the best weights",
    )
    resume_at = st.number_input(
        "Checkpoint and resume after epoch (0 = never)",
        0,
        199,
        0,
        help="Saves the whole state to a file mid-run and carries on from that file (lesson 3.8)",
    )
    bug = st.selectbox(
        "Bug (optional)",
        [None, *all_variants()],
        format_func=lambda v: "None" if v is None else variant_label(v),
    )
    submitted = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:")

if submitted:
    try:
        widths = tuple(int(w) for w in hidden.split(",") if w.strip())
        base = default_config(
            dataset,
            model=model,
            hidden=widths,
            activation=activation,
            optimizer=optimizer,
            lr=float(lr),
            momentum=float(momentum),
            weight_decay=float(weight_decay),
            schedule=schedule,
            init=init,
            dropout=float(dropout),
            grad_clip=float(clip) or None,
            batch_size=int(batch),
            epochs=min(int(epochs), MAX_EPOCHS[dataset]),
            seed=int(seed),
            subset=int(subset) or None,
            batch_norm=norm == "batch norm",
            layer_norm=norm == "layer norm",
            accumulate=int(accumulate),
            precision=precision,
            early_stopping=int(patience) or None,
            augment=augment,
            resume_at=int(resume_at) or None,
            shuffle=shuffle,
            class_sorted=class_sorted,
            normalize=normalize,
            label_noise=float(label_noise),
        )
        config = apply_variant(base, bug) if bug else base
    except ValueError as error:  # ConfigError, or widths that are not integers
        message = (
            str(error)
            if isinstance(error, ConfigError)
            else (
                f"Hidden widths must be whole numbers separated by commas, e.g. 128,64 ({error})."
            )
        )
        st.error(message)
    else:
        st.session_state["play_pending"] = (base, config)
pending = st.session_state.get("play_pending")
if pending is not None:
    base, config = pending
    results = train_side_by_side({config.variant or "run": config}, KEY)
    st.session_state.pop("play_pending", None)
    if results:
        st.session_state["play_results"] = (base, config, results)
shown = st.session_state.get("play_results")
if shown:
    base, config, results = shown
    draw_charts(curves(results), n_classes_of(config), KEY)
    show_diagnoses(results)
    show_downloads(results, base, [config.variant] if config.variant else [], KEY)
