"""Streamlit components shared by the pages: live comparison, charts, settings, lessons."""
