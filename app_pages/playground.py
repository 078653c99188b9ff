"""Playground: one run with every engine option, live curves and a diagnosis."""

import streamlit as st

from engine.config import (
    ACTIVATIONS,
    DEFAULT_GAMMA,
    INITS,
    MODELS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    WARMUP_SCHEDULES,
    ConfigError,
    RunConfig,
    default_config,
)
from engine.variants import all_variants, apply_variant
from ui.live import draw_charts, n_classes_of, train_side_by_side
from ui.results import curves, show_diagnoses, show_downloads
from ui.settings import MAX_EPOCHS, available_datasets, variant_label

KEY = "play"
DEFAULTS = RunConfig()  # each new option's widget starts at the engine's own default


def milestones_from(text: str) -> tuple[int, ...]:
    """The step schedule's epochs from text such as "5,10"; ConfigError names what is wrong."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError("milestones", text, "comma-separated epochs such as 5,10") from None


st.title("Playground")
st.markdown(
    "Every option of the engine for one run. Settings are bounded so that no run "
    "takes more than a minute on a shared server."
)
# Not a form: an option shows only where it applies (betas under adam, milestones under the
# step schedule), and a form would not redraw until Train was pressed.
with st.container(border=True):
    columns = st.columns(4)
    dataset = columns[0].selectbox("Dataset", available_datasets())
    model = columns[1].selectbox("Model", [m for m in MODELS if m != "linear"])
    hidden = columns[2].text_input(
        "Hidden widths (MLP)", "128,64", help="Comma-separated, up to 24 layers of 1-1024 units"
    )
    activation = columns[3].selectbox("Activation", ACTIVATIONS)
    columns = st.columns(4)
    init = columns[0].selectbox(
        "Initialisation",
        INITS,
        help="xavier and kaiming are the uniform forms; default is PyTorch's own",
    )
    init_scale = columns[1].number_input(
        "Init scale",
        0.0,
        100.0,
        DEFAULTS.init_scale,
        step=0.1,
        format="%g",
        help="Every initial weight times this: too small and the signal fades, too large and "
        "it explodes",
    )
    dropout = columns[2].slider("Dropout", 0.0, 0.8, 0.0, step=0.05)
    residual = DEFAULTS.residual
    if model == "mlp":  # residual blocks exist only in the MLP
        residual = columns[3].checkbox(
            "Residual connections",
            value=DEFAULTS.residual,
            help="x + block(x) wherever a block keeps the width: deep MLPs train again",
        )
    columns = st.columns(4)
    optimizer = columns[0].selectbox("Optimizer", OPTIMIZERS)
    lr = columns[1].number_input("Learning rate", 1e-6, 10.0, 1e-3, format="%g")
    momentum = columns[2].number_input("Momentum (SGD, RMSprop)", 0.0, 0.99, 0.0, step=0.1)
    weight_decay = columns[3].number_input("Weight decay", 0.0, 0.1, 0.0, format="%g")
    # The optimizer's own options; hidden ones keep RunConfig's defaults.
    nesterov, betas = DEFAULTS.nesterov, DEFAULTS.betas
    eps, bias_correction = DEFAULTS.eps, DEFAULTS.bias_correction
    columns = st.columns(4)
    if optimizer == "sgd":
        nesterov = columns[0].checkbox(
            "Nesterov momentum",
            value=DEFAULTS.nesterov,
            help="Take the gradient after the momentum's move; needs momentum above 0",
        )
    if optimizer in ("adam", "adamw"):
        betas = (
            columns[0].number_input(
                "Beta 1",
                0.0,
                0.9999,
                DEFAULTS.betas[0],
                step=0.01,
                format="%g",
                help="Decay of the running mean of gradients (Adam's momentum)",
            ),
            columns[1].number_input(
                "Beta 2",
                0.0,
                0.9999,
                DEFAULTS.betas[1],
                step=0.001,
                format="%g",
                help="Decay of the running mean of squared gradients",
            ),
        )
        bias_correction = columns[3].checkbox(
            "Bias correction",
            value=DEFAULTS.bias_correction,
            help="Off: the first steps use running means still biased towards zero",
        )
    if optimizer in ("adam", "adamw", "rmsprop"):
        eps = columns[2].number_input(
            "Epsilon",
            1e-12,
            1.0,
            DEFAULTS.eps,
            step=1e-8,
            format="%g",
            help="Added to sqrt(v) so the division stays finite",
        )
    columns = st.columns(4)
    schedule = columns[0].selectbox("LR schedule", SCHEDULES)
    # The schedule's own options, in the two middle columns; hidden ones keep the defaults.
    milestones, gamma = "", DEFAULTS.gamma
    warmup_steps, plateau_patience = DEFAULTS.warmup_steps, DEFAULTS.plateau_patience
    if schedule == "step":
        milestones = columns[1].text_input(
            "Milestones (epochs)",
            "",
            placeholder="thirds of the run",
            help="Comma-separated epochs where lr is multiplied by gamma, e.g. 5,10; "
            "empty: a third and two thirds of the way",
        )
    if schedule in DEFAULT_GAMMA:
        gamma = columns[2].number_input(
            "Gamma",
            1e-4,
            1.0,
            None,
            format="%g",
            placeholder=f"{DEFAULT_GAMMA[schedule]:g}",
            help="The factor lr is multiplied by (at a milestone, each epoch, or at a plateau); "
            f"empty: {DEFAULT_GAMMA[schedule]:g}",
        )
    if schedule == "plateau":
        plateau_patience = columns[1].number_input(
            "Plateau patience (epochs)",
            0,
            50,
            DEFAULTS.plateau_patience,
            help="Epochs without a better val loss before lr is multiplied by gamma",
        )
    if schedule in WARMUP_SCHEDULES:
        warmup_steps = columns[1].number_input(
            "Warm-up steps",
            0,
            100_000,
            DEFAULTS.warmup_steps,
            step=10,
            help="lr rises linearly from 0 over this many steps (warmup_cosine: 0 = 5% of the run)",
        )
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
    submitted = st.button("Train", type="primary", icon=":material/play_arrow:")

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
            nesterov=nesterov,
            betas=(float(betas[0]), float(betas[1])),
            eps=float(eps),
            bias_correction=bias_correction,
            schedule=schedule,
            milestones=milestones_from(milestones),
            gamma=None if gamma is None else float(gamma),
            warmup_steps=int(warmup_steps),
            plateau_patience=int(plateau_patience),
            init=init,
            init_scale=float(init_scale),
            residual=residual,
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
