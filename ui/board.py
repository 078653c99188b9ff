"""The server's one TrainingBoard and this browser session's identity."""

from __future__ import annotations

import uuid

import streamlit as st

from training_service.board import TrainingBoard, shared_board


@st.cache_resource(show_spinner="Starting the training engine...")
def training_board() -> TrainingBoard:
    """One per server (serve.py starts it with the server); its workers warm up at once."""
    return shared_board()


def session_id() -> str:
    """A stable id for this browser session (used to share and cancel jobs fairly)."""
    if "session_id" not in st.session_state:
        st.session_state["session_id"] = uuid.uuid4().hex
    return st.session_state["session_id"]
