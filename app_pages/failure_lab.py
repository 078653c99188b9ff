"""Failure Lab: a healthy baseline and deliberately broken variants, trained side by side."""

import streamlit as st

from ui.comparison import comparison_section
from ui.history import history_table
from ui.plain_text import plain
from ui.settings import apply_share_link, baseline_widgets, page_url, share_query

KEY = "lab"

st.title("Failure Lab")
st.markdown(
    "Pick a healthy baseline and one or more bugs. Both train on the **same seed, "
    "data and starting weights**, so every difference you see comes from the bug."
)
notices, autorun = apply_share_link(KEY)
for notice in notices:
    st.warning(plain(notice))  # it quotes the link's own text: never let that be Markdown
with st.container(border=True):
    settings = baseline_widgets(KEY)
query = share_query(settings, KEY)
st.caption("Share this exact demo (opens and trains with no click):")
st.code(f"{page_url()}?{query}", language=None)
comparison_section(settings.baseline, settings.variant_ids, KEY, autorun=autorun)
history_table(KEY)
