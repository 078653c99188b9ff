"""End to end in Chromium: pages load clean, math renders, the Failure Lab compares live."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect

from lessons.curriculum import CURRICULUM
from lessons.lesson_file import SECTIONS, has_content

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

LAB_PATHS = ["failure-lab", "curve-doctor", "bug-hunt", "overfit-one-batch", "playground"]
ALL_PATHS = ["", *[lesson.url_path for lesson in CURRICULUM], *LAB_PATHS]
RUN_TIMEOUT = 120_000  # ms; the first comparison also waits for the training workers


def settle(page: Page, timeout: float = RUN_TIMEOUT) -> None:
    """Wait until the script run is over (Streamlit's 'running' widget is gone)."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout)
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout)


def charts_drawn(page: Page, at_least: int) -> int:
    """How many charts the page shows, once the at_least-th has been drawn (or time is up)."""
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    with contextlib.suppress(AssertionError):  # the caller's assertion reports a shortfall
        expect(charts.nth(at_least - 1)).to_be_visible(timeout=RUN_TIMEOUT)  # Vega draws last
    return charts.count()


def test_navigation_lists_every_page(server: str, page: Page) -> None:
    page.goto(server)
    settle(page)
    links = page.locator('[data-testid="stSidebarNavLink"]')
    # On a cold, busy machine the first script run can start after settle() has returned.
    expect(links.first).to_be_visible(timeout=RUN_TIMEOUT)
    hrefs = {
        re.sub(r"^https?://[^/]+/?", "", links.nth(i).get_attribute("href") or "")
        for i in range(links.count())
    }
    assert set(ALL_PATHS) <= hrefs


@pytest.mark.parametrize("path", ALL_PATHS)
def test_every_page_loads_without_an_error_box(server: str, page: Page, path: str) -> None:
    page.goto(f"{server}/{path}")
    settle(page)
    # the first page of a cold server can still be importing when settle() returns
    expect(page.locator("h1").first).to_be_visible(timeout=RUN_TIMEOUT)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Page not found").count() == 0


def test_lesson_math_renders_with_katex(server: str, page: Page) -> None:
    page.goto(f"{server}/lesson-1-2")
    expect(page.locator(".katex").first).to_be_visible(timeout=30_000)
    settle(page)
    assert page.locator(".katex").count() >= 3
    assert page.locator(".katex-error").count() == 0


def diagnosis_text(page: Page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def test_failure_lab_compares_the_headline_bugs_live(server: str, page: Page) -> None:
    page.goto(f"{server}/failure-lab")
    settle(page)
    picker = page.locator('[data-testid="stMultiSelect"] input')
    chips = page.locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]')
    for picked, typed in enumerate(
        (
            "Learning rate far too high",
            "No shuffling on class-sorted data",
            "Loss arguments swapped — With integer",
            "Training on a tiny subset",
        ),
        start=1,
    ):
        picker.click()
        picker.fill(typed)  # keyboard only: type to filter, Enter picks the match
        page.keyboard.press("Enter")
        expect(chips).to_have_count(picked, timeout=30_000)  # the pick took, rerun and all
        settle(page)
    page.keyboard.press("Escape")
    chosen = page.locator('[data-testid="stMultiSelect"]').inner_text()
    assert chosen.count("×") >= 4 or chosen.count("\n") >= 4, chosen
    page.get_by_role("button", name=re.compile(r"\bTrain$")).click()
    expect(page.get_by_text("Curve Doctor's reading")).to_be_visible(timeout=RUN_TIMEOUT)
    settle(page)
    text = diagnosis_text(page)
    for run, label in (
        ("baseline", "healthy"),
        ("lr_too_high", "diverged"),
        ("no_shuffle", "unstable"),
        ("swapped_loss_args", "crashed"),
        ("tiny_subset", "overfitting"),
    ):
        assert re.search(rf"{run}\s*→.*?{label}", text), f"{run} should read {label}"
    assert charts_drawn(page, at_least=4) >= 4
    assert "NotImplementedError" in text  # the real exception, explained, not a traceback
    assert page.locator('[data-testid="stException"]').count() == 0


def test_share_link_restores_the_comparison(server: str, page: Page) -> None:
    page.goto(
        f"{server}/failure-lab?variant=lr_too_high&variant=tiny_subset&epochs=10"
        "&seed=42&dataset=digits&run=1"
    )
    expect(page.get_by_text("Curve Doctor's reading")).to_be_visible(timeout=RUN_TIMEOUT)
    settle(page)
    text = diagnosis_text(page)
    assert re.search(r"lr_too_high\s*→.*?diverged", text)
    assert re.search(r"tiny_subset\s*→.*?overfitting", text)
    assert charts_drawn(page, at_least=4) >= 4
    assert "epochs=10" in text  # the share link shown on the page keeps the settings


WRITTEN_LESSONS = [lesson.url_path for lesson in CURRICULUM if has_content(lesson.id)]


@pytest.mark.parametrize("path", WRITTEN_LESSONS)
def test_lesson_renders_math_and_its_demo_trains(server: str, page: Page, path: str) -> None:
    page.goto(f"{server}/{path}")
    expect(page.locator(".katex").first).to_be_visible(timeout=60_000)
    settle(page)
    assert page.locator(".katex-error").count() == 0
    headings = page.locator("h2").all_inner_texts()
    for section in SECTIONS:
        assert any(heading.strip().startswith(section) for heading in headings), section
    train = page.get_by_role("button", name=re.compile(r"\bTrain$")).first
    expect(train).to_be_disabled()  # predict first
    page.get_by_role("radio", name="stays flat").first.click()  # a segmented control
    settle(page)
    expect(train).to_be_enabled()
    charts_before = page.locator('[data-testid="stVegaLiteChart"]').count()
    train.click()
    expect(page.get_by_text("Curve Doctor's reading")).to_be_visible(timeout=RUN_TIMEOUT)
    settle(page)
    assert charts_drawn(page, at_least=charts_before + 4) >= charts_before + 4
    expect(page.get_by_text("you said").first).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_hostile_share_link_shows_only_text(server: str, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    hostile = urlencode(
        [
            ("variant", "[your teacher says click](https://evil.example/x)"),
            ("optimizer", "![](https://evil.example/pixel.png)"),
            ("dataset", ":red[**NOTE**] $x^2$ www.evil.example"),
            ("size", "B" * 5_000),
        ]
    )
    page.goto(f"{server}/failure-lab?{hostile}")
    settle(page)
    alerts = page.locator('[data-testid="stAlert"]')
    expect(alerts.first).to_be_visible(timeout=RUN_TIMEOUT)
    said = " ".join(alerts.all_inner_texts()).replace("\u2060", "")  # invisible joiners
    assert "[your teacher says click](https://evil.e" in said  # the link's text, literally
    assert "![](https://evil.example/pixel.png)" in said
    assert ":red[**NOTE**] $x^2$ www.evil.example" in said
    assert "B" * 40 + "… (5,000 characters)" in said and "B" * 41 not in said
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.locator('img[src*="evil.example"]').count() == 0
    assert page.locator(".katex").count() == 0
    assert not [url for url in requested if urlsplit(url).hostname == "evil.example"]


def test_curve_doctor_reads_an_uploaded_real_log(server: str, page: Page) -> None:
    # An Ultralytics results.csv as YOLOv8 wrote it (space-padded header, loss in 3 parts).
    real_log = ROOT.parent / "shared" / "real_logs" / "ultralytics_yolov8n_court.csv"
    page.goto(f"{server}/curve-doctor")
    settle(page)
    page.get_by_text("Upload files").click()
    settle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(real_log))
    expect(page.get_by_text("Diagnosis:")).to_be_visible(timeout=RUN_TIMEOUT)
    settle(page)
    said = diagnosis_text(page)
    assert "Read as an Ultralytics results.csv" in said
    assert "train loss = train/box_loss + train/cls_loss + train/dfl_loss" in said
    # Streamlit's Markdown draws "->" as an arrow
    assert "Diagnosis: underfitting" in said and re.search(r"2\.98 (->|→) 2\.44", said)
    assert charts_drawn(page, 2) >= 2  # loss and mAP
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "curve-doctor-ultralytics.png"), full_page=True)
