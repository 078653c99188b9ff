"""Bug Hunt: the app trains a hidden bug next to the baseline; name it from the curves."""

import random

import streamlit as st

from engine.config import default_config
from engine.variants import all_variants, apply_variant, get_variant
from lessons.decks import HUNTABLE
from ui.live import draw_charts, n_classes_of, train_side_by_side
from ui.results import curves, diagnosis_of, show_bug, show_diagnosis

KEY = "hunt"

st.title("Bug Hunt")
st.markdown(
    "A bug is hidden in the **mystery** run. Read its curves against the healthy "
    "baseline, then name the bug."
)
state = st.session_state
state.setdefault("hunt_score", {"right": 0, "tried": 0})
score = state["hunt_score"]
st.metric("Score this session", f"{score['right']} / {score['tried']}")


def new_round() -> None:
    state["hunt_secret"] = random.choice(HUNTABLE)
    state["hunt_seed"] = random.randint(0, 9999)
    state.pop("hunt_results", None)
    state.pop("hunt_answered", None)
    state.pop("hunt_guess", None)


if "hunt_secret" not in state:
    new_round()
st.button("New mystery", on_click=new_round, key="hunt_new", icon=":material/refresh:")
secret = state["hunt_secret"]
baseline = default_config(seed=state["hunt_seed"])
if "hunt_results" not in state:
    runs = {"baseline": baseline, "mystery": apply_variant(baseline, secret)}
    results = train_side_by_side(runs, KEY)
    if results is None:
        st.stop()
    state["hunt_results"] = results
results = state["hunt_results"]
draw_charts(curves(results), n_classes_of(baseline), KEY)
guess = st.selectbox(
    "Which bug is it?",
    sorted(HUNTABLE, key=lambda v: get_variant(v).title),
    index=None,
    format_func=lambda v: get_variant(v).title,
    key="hunt_guess",
    placeholder="Choose the bug you see",
    disabled="hunt_answered" in state,
)
if guess and "hunt_answered" not in state and st.button("Check my answer", type="primary"):
    state["hunt_answered"] = guess
    score["tried"] += 1
    score["right"] += guess == secret
    st.rerun()
if "hunt_answered" in state:
    answer = get_variant(secret)
    if state["hunt_answered"] == secret:
        st.success(f"Right: **{answer.title}**.")
    else:
        st.error(
            f"Not this time: it was **{answer.title}** "
            f"(you said {get_variant(state['hunt_answered']).title})."
        )
    show_diagnosis("mystery", results["mystery"], diagnosis_of(results["mystery"]))
    show_bug(secret, baseline)
    st.caption(
        f"{len(all_variants())} bugs in the full catalogue; try them all in the Failure Lab."
    )
