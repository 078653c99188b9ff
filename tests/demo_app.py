"""Running a demo as its own Streamlit script in the demo tests, and reading what it shows."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

CHART = "vega_lite_chart"  # the element type st.altair_chart produces


def render_demo(module: str, function: str, timeout_s: float = 120) -> AppTest:
    """Run `module.function()` as a Streamlit script and fail on any exception it shows."""
    app = AppTest.from_string(
        f"from {module} import {function}\n{function}()", default_timeout=timeout_s
    )
    return check(app.run())


def check(app: AppTest) -> AppTest:
    """The app after a run, failing the test on any exception the page shows."""
    assert not app.exception, [e.value for e in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    """Every st.metric on the page, label to shown value."""
    return {m.label: m.value for m in app.metric}
