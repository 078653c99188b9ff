"""Failure Lab: a healthy baseline and deliberately broken variants, trained side by side."""

import streamlit as st

from ui.classroom import projector_layout
from ui.comparison import comparison_section
from ui.history import history_table
from ui.plain_text import plain
from ui.settings import apply_share_link, baseline_widgets, page_url, presenting, share_query

KEY = "lab"

present = presenting()  # present=1: a projector view of the same demo
if present:
    projector_layout()
st.title("Failure Lab")
if not present:
    st.markdown(
        "Pick a healthy baseline and one or more bugs. Both train on the **same seed, "
        "data and starting weights**, so every difference you see comes from the bug."
    )
notices, autorun = apply_share_link(KEY)
for notice in notices:
    st.warning(plain(notice))  # it quotes the link's own text: never let that be Markdown
settings_box = st.expander("Settings") if present else st.container(border=True)
with settings_box:
    settings = baseline_widgets(KEY)
query = share_query(settings, KEY)
if not present:
    st.caption("Share this exact demo (opens and trains with no click):")
    st.code(f"{page_url()}?{query}", language=None)
    # Without run=1: in front of a class, the prediction comes before the training.
    presenter = f"{page_url()}?{share_query(settings, KEY, run=False)}&present=1"
    st.caption(f"On a projector: [presenter view]({presenter})")
autorun = autorun and not present  # a class predicts before anything trains
comparison_section(settings.baseline, settings.variant_ids, KEY, autorun=autorun)
if not present:
    history_table(KEY)
