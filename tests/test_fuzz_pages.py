"""Fuzzing the pages through Streamlit's AppTest: any share-link query string, pasted log or
uploaded file gives a page with no exception and no traceback, and text from the link or
the log is shown as text: never a live link, image, colour or HTML.

Most examples run a page's script by itself (a fraction of a second); a few go through the
whole app's navigation, as a browser does. No example trains: a link with run=1 also says
present=1, where the class predicts before anything trains.
"""

from __future__ import annotations

import re
import string
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from tests.test_app import open_page, shown
from tests.test_fuzz_logs import MUTATIONS, SEED_NAMES, mutate, seed_bytes
from ui.settings import (
    BATCH_SIZES,
    LEARNING_RATES,
    MAX_EPOCHS,
    MAX_SEED,
    MODEL_SIZES,
    OPTIMIZERS,
    SHARE_LINK_PARAMETERS,
)

PAGES = Path(__file__).resolve().parent.parent / "app_pages"
TIMEOUT = 180  # the first page run may start the training workers
PAGE_RUNS = settings(
    database=None,
    derandomize=True,
    deadline=timedelta(seconds=30),  # a page that takes longer is a hang to fix
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MARKER = "EVIL"  # in every hostile value: where it shows, nothing around it may be live
HOSTILE = st.sampled_from(
    [
        f"[{MARKER} click](https://evil.example/x)",
        f"![{MARKER}](https://evil.example/pixel.png)",
        f"<img src=x onerror=alert(1)>{MARKER}",
        f"<b>{MARKER}</b><script>alert(1)</script>",
        f":red[**{MARKER} TEACHER NOTE**] $x^2$ www.evil.example",
        f"{MARKER} `code` *em* _u_ ~~s~~ # heading\n\n- item\n> quote",
        f"{MARKER}\u2028\u202e\u200b\x00\x1b[31m",
        MARKER * 30_000,
    ]
)
NUMBERS = st.sampled_from(
    ["nan", "-nan", "inf", "-inf", "1e999", "-1e999", "0", "-1", "1e-300", "1_000", "٣", "0x10"]
) | st.integers(-(10**30), 10**30).map(str)
VALUES = HOSTILE | NUMBERS | st.text(max_size=30)
# Live Markdown that a hostile value could bring: none may survive unescaped.
LIVE = (r"\]\(", r"!\[", r"<[a-z/]", r"https?:", r"www\.", r":red\[", r"\$", r"\*\*", r"`")


def unescaped(markdown: str) -> str:
    """The Markdown with every backslash-escaped character taken out."""
    return re.sub(r"\\.", "", markdown, flags=re.DOTALL)


@pytest.fixture(scope="module", autouse=True)
def warm_app() -> None:
    """Start the app once (training workers, imports) before any example is timed."""
    assert not open_page("curve_doctor").exception


def check_page(at: AppTest) -> None:
    """No exception, no traceback; every message that echoes a hostile value shows it as
    text, on one line, cut to a few hundred characters."""
    assert not at.exception, at.exception
    texts = [
        *at.markdown, *at.caption, *at.warning, *at.error, *at.info, *at.success,
        *at.title, *at.subheader,
    ]  # fmt: skip
    for element in texts:
        assert "Traceback" not in element.value
        if MARKER in element.value:
            live = [pattern for pattern in LIVE if re.search(pattern, unescaped(element.value))]
            assert not live, (live, element.value[:300])
    for element in at.warning:  # a refused link value: the whole notice is plain text
        assert not set(unescaped(element.value)) & set(string.punctuation), element.value
        assert "\n" not in element.value and len(element.value) < 1_000, element.value[:300]
    for code in at.code:  # a refused value never reaches the link a teacher shares
        assert MARKER not in code.value


def run_page(page: str, query: dict[str, list[str]]) -> AppTest:
    """The page's own script, with the query string a link would give it."""
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=TIMEOUT)
    for name, values in query.items():
        at.query_params[name] = values
    return at.run()


# ---- share links -------------------------------------------------------------------------


@st.composite
def share_links(draw: st.DrawFn) -> dict[str, list[str]]:
    """A Failure Lab query string: known keys, some repeated, hostile or random values, and
    sometimes many unknown keys."""
    names = draw(st.lists(st.sampled_from(SHARE_LINK_PARAMETERS), max_size=8))
    query: dict[str, list[str]] = {}
    for name in names:
        values = st.sampled_from(["lr_too_high", "no_shuffle", "tiny_subset"]) | VALUES
        query.setdefault(name, []).append(draw(values if name == "variant" else VALUES))
    strangers = draw(st.lists(st.text(min_size=1, max_size=20) | HOSTILE, max_size=3))
    if draw(st.booleans()):
        strangers += [f"extra{number}" for number in range(draw(st.integers(0, 300)))]
    for name in strangers:
        query.setdefault(name, []).append(draw(VALUES))
    if "1" in query.get("run", []) or draw(st.integers(0, 4)) == 0:
        query["run"], query["present"] = ["1"], ["1"]  # opens without training
    return query


def check_lab_settings(at: AppTest) -> None:
    """Whatever the link said, every setting is one the widgets allow."""
    state = at.session_state
    assert state["lab_dataset"] in MAX_EPOCHS
    assert 1 <= state["lab_epochs"] <= MAX_EPOCHS[state["lab_dataset"]]
    assert 0 <= state["lab_seed"] <= MAX_SEED
    assert state["lab_lr"] in LEARNING_RATES and state["lab_batch"] in BATCH_SIZES
    assert state["lab_optimizer"] in OPTIMIZERS and state["lab_size"] in MODEL_SIZES
    assert len(state["lab_variants"]) <= 4


@settings(PAGE_RUNS, max_examples=30)
@given(share_links())
@example(  # the link in test_app, every value hostile at once
    {
        "variant": ["[your teacher says click](https://evil.example/x)"],
        "optimizer": ["![](https://evil.example/pixel.png)"],
        "dataset": [":red[**TEACHER NOTE**: answers at www.evil.example] $x^2$ <b>hi</b>"],
        "size": ["A" * 100_000],
        "epochs": ["nan"],
        "seed": ["1e999"],
        "lr": ["-inf"],
        "batch": [str(10**30)],
    }
)
def test_any_share_link_opens_the_failure_lab(query: dict[str, list[str]]) -> None:
    at = run_page("failure_lab", query)
    check_page(at)
    assert not at.error
    check_lab_settings(at)


@settings(PAGE_RUNS, max_examples=12)
@given(
    VALUES | st.lists(st.sampled_from(["lr_too_high", "no_step", "tiny"]) | VALUES).map(",".join)
)
@example(f"lr_too_high,[{MARKER}](https://evil.example)," + "x" * 5_000)
def test_any_deck_link_opens_the_classroom(deck: str) -> None:
    at = run_page("classroom", {"deck": [deck]})
    check_page(at)
    assert not at.error


@settings(PAGE_RUNS, max_examples=10)
@given(VALUES)
def test_any_join_link_fills_a_code_or_nothing(code: str) -> None:
    at = run_page("join", {"code": [code]})
    check_page(at)
    assert not at.error
    typed = at.text_input[0].value
    assert typed == "" or (typed.isalnum() and typed.upper() == typed and len(typed) <= 12)


APP_PAGES = ["home", "failure_lab", "curve_doctor", "bug_hunt", "overfit_one_batch"]


@settings(PAGE_RUNS, max_examples=4)
@given(st.sampled_from([*APP_PAGES, "playground", "classroom", "join"]), share_links())
def test_any_link_to_any_page_through_the_app(page: str, query: dict[str, list[str]]) -> None:
    at = open_page(page, query)
    check_page(at)
    assert not at.error


# ---- the Curve Doctor: pasted and uploaded logs ------------------------------------------

HOSTILE_LOGS = st.sampled_from(
    [
        f"epoch,[{MARKER}](https://evil.example) ![](https://evil.example/a.png)\n1,0.5\n",
        f"epoch,train_loss,<img src=x>{MARKER}\n1,0.5,x\n2,0.4,y\n",
        f"epoch,train_loss,val_acc\n1,0.5,:red[{MARKER}]\n",
        f"{{'loss': 0.5, 'epoch': 1, '**{MARKER}**': 'x'}}\n",
        f"epoch,train_loss,val_acc_{MARKER}_$x$\n1,0.9,0.2\n2,0.5,0.6\n3,0.3,0.8\n",
    ]
)


@settings(PAGE_RUNS, max_examples=8)
@given(
    HOSTILE_LOGS
    | st.text(max_size=200)
    | st.tuples(st.sampled_from(SEED_NAMES), st.lists(MUTATIONS, max_size=2)).map(
        lambda seed: mutate(seed_bytes(seed[0]), seed[1]).decode("utf-8", "replace")
    )
)
@example("Epoch 1/2\n1/" + "9" * 5000 + " - loss: 0.5\n")  # was int()'s ValueError, unhandled
def test_any_pasted_log_is_diagnosed_or_refused_as_text(text: str) -> None:
    at = run_page("curve_doctor", {})
    at.text_area(key="doctor_text").set_value(text).run()
    check_page(at)
    for error in at.error:
        assert "\n" not in shown(error.value)


@settings(PAGE_RUNS, max_examples=6)
@given(
    st.sampled_from(SEED_NAMES),
    st.lists(MUTATIONS, max_size=2),
    st.sampled_from(["run.csv", f"[{MARKER}](https://evil.example).csv", f"{MARKER}\n<b>.log"]),
)
def test_any_uploaded_file_is_diagnosed_or_refused_as_text(
    seed: str, mutations: list[tuple], name: str
) -> None:
    at = run_page("curve_doctor", {})
    at.radio(key="doctor_source").set_value("Upload files").run()
    data = mutate(seed_bytes(seed), mutations)
    at.file_uploader(key="doctor_upload").upload(name, data, "text/csv").run()
    check_page(at)
