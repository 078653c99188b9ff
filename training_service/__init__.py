"""The training service: the shared board that queues and dedupes training jobs, the shared
result cache (memo), and the worker processes that do the training.

It runs in-process by default (one board per server process) and never imports Streamlit;
the Streamlit wrapper that creates the per-server board lives in ui/board.py.
"""
