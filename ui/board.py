"""The server's one TrainingBoard and this browser session's identity."""

from __future__ import annotations

import os
import uuid

import streamlit as st

from training_service.board import TrainingBoard

WORKERS = int(os.environ.get("TLL_WORKERS", "2"))  # concurrent trainings (2-core default)


@st.cache_resource(show_spinner="Starting the training engine...")
def training_board() -> TrainingBoard:
    """Created once per server; its workers warm up (torch, first Adam, digits) at once."""
    return TrainingBoard(workers=WORKERS, data_dir=os.environ.get("TLL_DATA_DIR", "data"))


def session_id() -> str:
    """A stable id for this browser session (used to share and cancel jobs fairly)."""
    if "session_id" not in st.session_state:
        st.session_state["session_id"] = uuid.uuid4().hex
    return st.session_state["session_id"]
