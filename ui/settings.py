"""Baseline settings widgets and the share link that mirrors them in the URL.

Share-link parameters (a contract teachers' links rely on): `variant` (repeatable),
`dataset`, `epochs`, `seed`, `lr`, `batch`, `optimizer`, `size`, `run=1`.
Unknown or out-of-range values are clamped or refused with a message on the page.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from engine.config import RunConfig, default_config
from engine.variants import all_variants
from ui.plain_text import shorten

MODEL_SIZES = {"small": (32,), "medium": (128, 64), "large": (256, 128)}
LEARNING_RATES = (1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
MAX_EPOCHS = {
    "digits": 60,
    "moons": 80,
    "circles": 80,
    "spirals": 80,
    "mnist": 5,
    "fashion_mnist": 5,
}
MAX_SEED = 9999
# What a share link may hold (see share_query); anything else is reported and ignored.
SHARE_LINK_PARAMETERS = (
    "variant",
    "dataset",
    "epochs",
    "seed",
    "lr",
    "batch",
    "optimizer",
    "size",
    "run",
    "present",  # 1: the presenter view, for a projector (settings folded away, large type)
)
LAB_DATASETS = ("digits", "moons", "circles", "spirals", "mnist", "fashion_mnist")


@dataclass
class LabSettings:
    """What the settings widgets chose: a baseline config and the variants to break it with."""

    baseline: RunConfig
    variant_ids: list[str]
    notices: list[str] = field(default_factory=list)


def available_datasets() -> list[str]:
    """The embedded and synthetic sets, plus MNIST-style sets only when on disk."""
    root = Path(os.environ.get("TLL_DATA_DIR", "data"))
    names = []
    for name in LAB_DATASETS:
        folder = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}.get(name)
        if folder is None or (root / folder / "raw").is_dir():
            names.append(name)
    return names


def _some(values: list[str], most: int = 3) -> str:
    """A few of the values, each shortened and quoted, and how many more there were."""
    shown = ", ".join(repr(shorten(value)) for value in values[:most])
    return shown + (f" and {len(values) - most:,} more" if len(values) > most else "")


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    return values[0] if values else None


def _number(
    text: str | None, kind: type, name: str, low: float, high: float, notices: list[str]
) -> float | int | None:
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        notices.append(
            f"Ignored {name}={shorten(text)!r}: expected a number from {low:g} to {high:g}."
        )
        return None
    if value != value:  # nan
        notices.append(
            f"Ignored {name}={shorten(text)!r}: expected a number from {low:g} to {high:g}."
        )
        return None
    clamped = min(max(value, low), high)
    if clamped != value:
        notices.append(f"{name}={shorten(text)} is outside {low:g}-{high:g}; using {clamped:g}.")
    return kind(clamped)


def read_share_link(
    params: dict[str, list[str]], prefix: str
) -> tuple[dict[str, object], list[str], bool]:
    """Widget values from a query string, messages about what was refused, and run=1."""
    notices: list[str] = []
    values: dict[str, object] = {}
    strangers = [name for name in params if name not in SHARE_LINK_PARAMETERS]
    if strangers:
        notices.append(
            f"Ignored {len(strangers):,} unknown link parameter(s) ({_some(strangers)}); "
            f"a share link uses {', '.join(SHARE_LINK_PARAMETERS)}."
        )
    catalogue = all_variants()
    variants = [v for v in params.get("variant", []) if v]
    unknown = [v for v in variants if v not in catalogue]
    if unknown:
        notices.append(
            f"Unknown variant(s) {_some(unknown)} ignored; "
            f"valid ids include {', '.join(list(catalogue)[:5])}, ..."
        )
    known = list(dict.fromkeys(v for v in variants if v in catalogue))
    if len(known) > 4:
        notices.append(f"At most 4 variants at once; kept {', '.join(known[:4])}.")
    if variants:
        values[f"{prefix}_variants"] = known[:4]
    dataset = _first(params, "dataset")
    if dataset is not None:
        if dataset in available_datasets():
            values[f"{prefix}_dataset"] = dataset
        else:
            notices.append(
                f"Dataset {shorten(dataset)!r} is not available here; using digits "
                f"(available: {', '.join(available_datasets())})."
            )
            values[f"{prefix}_dataset"] = "digits"
    chosen = str(values.get(f"{prefix}_dataset", "digits"))
    epochs = _number(_first(params, "epochs"), int, "epochs", 1, MAX_EPOCHS[chosen], notices)
    if epochs is not None:
        values[f"{prefix}_epochs"] = epochs
    seed = _number(_first(params, "seed"), int, "seed", 0, MAX_SEED, notices)
    if seed is not None:
        values[f"{prefix}_seed"] = seed
    lr = _number(_first(params, "lr"), float, "lr", LEARNING_RATES[0], LEARNING_RATES[-1], notices)
    if lr is not None:
        values[f"{prefix}_lr"] = min(LEARNING_RATES, key=lambda option: abs(option - lr))
    batch = _number(_first(params, "batch"), int, "batch", BATCH_SIZES[0], BATCH_SIZES[-1], notices)
    if batch is not None:
        values[f"{prefix}_batch"] = min(BATCH_SIZES, key=lambda option: abs(option - batch))
    for name, choices in (("optimizer", OPTIMIZERS), ("size", tuple(MODEL_SIZES))):
        text = _first(params, name)
        if text is not None:
            if text in choices:
                values[f"{prefix}_{name}"] = text
            else:
                notices.append(
                    f"Ignored {name}={shorten(text)!r}: expected one of {', '.join(choices)}."
                )
    return values, notices, _first(params, "run") == "1"


def apply_share_link(prefix: str) -> tuple[list[str], bool]:
    """Load the URL's settings into the widgets once per distinct query string."""
    params = {name: st.query_params.get_all(name) for name in st.query_params}
    signature = urlencode(sorted((k, v) for k, vs in params.items() for v in vs))
    if st.session_state.get(f"{prefix}_applied") == signature:
        return [], False
    st.session_state[f"{prefix}_applied"] = signature
    values, notices, run = read_share_link(params, prefix)
    st.session_state.update(values)
    return notices, run


def presenting() -> bool:
    """Whether the link asked for the presenter view (`present=1`)."""
    return st.query_params.get("present") == "1"


def share_query(settings: LabSettings, prefix: str, run: bool = True) -> str:
    """The query string that restores these settings (with run=1 to train on open)."""
    state = st.session_state
    pairs: list[tuple[str, str]] = [("variant", v) for v in settings.variant_ids]
    pairs += [
        ("dataset", settings.baseline.dataset),
        ("epochs", str(settings.baseline.epochs)),
        ("seed", str(settings.baseline.seed)),
        ("lr", f"{settings.baseline.lr:g}"),
        ("batch", str(settings.baseline.batch_size)),
        ("optimizer", settings.baseline.optimizer),
        ("size", str(state.get(f"{prefix}_size", "medium"))),
    ]
    if run:
        pairs.append(("run", "1"))
    return urlencode(pairs)


def page_url() -> str:
    """This page's address without its query string, as the browser sees it."""
    try:
        url = st.context.url or ""
    except Exception:  # outside a browser session (tests)
        url = ""
    return url.split("?", 1)[0] or "/failure-lab"


# The widgets of baseline_widgets, by name; each prefix that drew them, with its page.
SETTING_NAMES = ("dataset", "size", "optimizer", "lr", "batch", "epochs", "seed", "variants")
_DRAWN_ON = "_settings_drawn_on"
_PAGE = "_settings_current_page"


def keep_lab_settings(page: str) -> None:
    """Keep every lab's settings while the learner is on another page.

    Streamlit forgets a widget's value at the end of a run that does not draw it, so a visit
    to another page would bring the lab back with default settings (and a share link for a
    demo other than the one on screen). On any page but the lab's own, each value is written
    back under its own key before the page runs, which makes it a value Streamlit keeps. On
    the lab's page nothing is written: that would send the value back to the browser and
    could undo a choice the learner made while the page was rerunning.
    """
    state = st.session_state
    state[_PAGE] = page
    for prefix, drawn_on in state.get(_DRAWN_ON, {}).items():
        if drawn_on == page:
            continue
        settings = {f"{prefix}_{name}" for name in SETTING_NAMES}
        guesses = {key for key in state if str(key).startswith(f"{prefix}_guess_")}
        for key in (settings | guesses) & set(state.keys()):
            state[key] = state[key]


def variant_label(variant_id: str) -> str:
    v = all_variants()[variant_id]
    return f"{v.category} · {v.title} — {v.symptom}"


def baseline_widgets(
    prefix: str,
    variants: bool = True,
    variant_choices: Sequence[str] | None = None,
    training_length: bool = True,
) -> LabSettings:
    """Dataset, model size, optimizer, lr, batch, epochs, seed (+ variants); all bounded."""
    state = st.session_state
    state.setdefault(_DRAWN_ON, {})[prefix] = state.get(_PAGE)
    datasets = available_datasets()
    if state.get(f"{prefix}_dataset") not in datasets:
        state[f"{prefix}_dataset"] = "digits"
    # Defaults go into session state first, so widgets never get a value two ways.
    for name, value in (
        ("size", "medium"),
        ("optimizer", "adam"),
        ("lr", 1e-3),
        ("batch", 32),
        ("seed", 42),
    ):
        state.setdefault(f"{prefix}_{name}", value)
    columns = st.columns(4)
    dataset = columns[0].selectbox(
        "Dataset",
        datasets,
        key=f"{prefix}_dataset",
        help="digits: 1,797 real 8x8 handwritten digits, embedded, no download",
    )
    size = columns[1].selectbox(
        "Model size",
        tuple(MODEL_SIZES),
        key=f"{prefix}_size",
        format_func=lambda s: f"{s} {MODEL_SIZES[s]}",
        help="Hidden layer widths of the MLP",
    )
    optimizer = columns[2].selectbox("Optimizer", OPTIMIZERS, key=f"{prefix}_optimizer")
    lr = columns[3].select_slider(
        "Learning rate", LEARNING_RATES, key=f"{prefix}_lr", format_func=lambda x: f"{x:g}"
    )
    columns = st.columns(4)
    limit = MAX_EPOCHS[dataset]
    state.setdefault(f"{prefix}_epochs", default_config(dataset).epochs)
    state[f"{prefix}_epochs"] = min(int(state[f"{prefix}_epochs"]), limit)
    batch, epochs = state[f"{prefix}_batch"], state[f"{prefix}_epochs"]
    if training_length:
        batch = columns[0].select_slider("Batch size", BATCH_SIZES, key=f"{prefix}_batch")
        epochs = columns[1].slider("Epochs", 1, limit, key=f"{prefix}_epochs")
    seed = columns[2].number_input(
        "Seed",
        0,
        MAX_SEED,
        key=f"{prefix}_seed",
        step=1,
        help="Same seed: same split, same starting weights",
    )
    chosen: list[str] = []
    if variants:
        options = list(variant_choices or all_variants())
        kept = [v for v in state.get(f"{prefix}_variants", []) if v in options]
        state[f"{prefix}_variants"] = kept
        chosen = st.multiselect(
            "Broken variants (up to 4), by category, with what each looks like",
            options,
            key=f"{prefix}_variants",
            max_selections=4,
            format_func=variant_label,
            placeholder="Choose a bug to compare with the healthy baseline",
        )
    baseline = default_config(
        dataset,
        hidden=MODEL_SIZES[size],
        optimizer=optimizer,
        lr=float(lr),
        batch_size=int(batch),
        epochs=int(epochs),
        seed=int(seed),
    )
    return LabSettings(baseline, list(chosen))
