"""ui.demos: each lesson's visual renders in a real Streamlit script run and shows its numbers."""

from __future__ import annotations

import math
import re

import pytest
from streamlit.testing.v1 import AppTest

from lessons.curriculum import outline
from tests.demo_app import CHART, check, metrics
from ui.demos import DEMOS


def render(lesson_id: str) -> AppTest:
    """Run one demo as its own Streamlit script and fail on any exception it shows."""
    app = AppTest.from_string(
        f"from ui.demos import DEMOS\nDEMOS[{lesson_id!r}]()", default_timeout=60
    )
    return check(app.run())


def test_registry_covers_the_lessons_with_visuals() -> None:
    assert set(DEMOS) == {"1.1", "1.2", "1.3", "1.4", "1.5"} | {f"2.{n}" for n in range(1, 8)} | {
        f"3.{n}" for n in range(1, 10)
    }
    for lesson_id, demo in DEMOS.items():
        assert outline(lesson_id).id == lesson_id
        assert callable(demo)


@pytest.mark.parametrize(
    ("lesson_id", "charts"),
    [("1.1", 0), ("1.2", 2), ("1.3", 1), ("1.4", 2), ("1.5", 1), ("3.6", 3)]
    + [("2.1", 2), ("2.2", 1), ("2.3", 1), ("2.4", 1), ("2.5", 0), ("2.6", 2), ("2.7", 1)]
    + [("3.1", 5), ("3.2", 2), ("3.3", 4), ("3.4", 4), ("3.7", 4), ("3.8", 2)],
)
def test_every_demo_renders_its_charts(lesson_id: str, charts: int) -> None:
    app = render(lesson_id)
    assert len(app.get(CHART)) == charts
    assert app.subheader  # every demo names itself


def test_1_1_calculator_shows_ceil_n_over_b() -> None:
    app = render("1.1")
    app.number_input(key="demo_1_1_n").set_value(1000)
    app.number_input(key="demo_1_1_b").set_value(64)
    app.number_input(key="demo_1_1_epochs").set_value(3)
    check(app.run())
    shown = metrics(app)
    assert shown["Iterations per epoch"] == str(math.ceil(1000 / 64)) == "16"
    assert shown["Total iterations (optimizer steps)"] == "48"
    assert any("= 16" in latex.value for latex in app.latex)
    assert any("40 example" in caption.value for caption in app.caption)  # the last batch


def test_1_1_step_through_reveals_the_update() -> None:
    app = render("1.1")
    assert "Loss" not in metrics(app)  # only the forward pass is shown at first
    app.select_slider(key="demo_1_1_stage").set_value("4. step")
    check(app.run())
    labels = list(metrics(app))
    assert "Outputs (forward)" in labels and "Loss" in labels
    assert any(label.startswith("Gradient of out.weight") for label in labels)
    assert metrics(app)["Outputs (forward)"] == "[4, 10]"
    captions = " ".join(caption.value for caption in app.caption)
    assert "inputs [4, 1, 8, 8]" in captions and "targets [4]" in captions
    step = app.table[0].value.iloc[0]
    assert step["after − before"] == pytest.approx(step["-lr × gradient"], rel=1e-4)
    assert "optimizer.step()" in app.code[0].value


def test_1_2_hand_and_autograd_agree() -> None:
    app = render("1.2")
    app.slider(key="demo_1_2_steps").set_value(50)
    check(app.run())
    gradients = app.dataframe[0].value
    assert len(gradients) == 4
    assert gradients["difference"].max() < 1e-5
    assert float(metrics(app)["w (by hand)"]) == pytest.approx(3.0, abs=0.1)


def test_1_3_summary_has_one_row_per_batch_size() -> None:
    app = render("1.3")
    app.radio(key="demo_1_3_axis").set_value("update")
    check(app.run())
    summary = app.dataframe[0].value.set_index("mode")
    assert list(summary["updates per epoch"]) == [1, 100, 7]
    assert summary.loc["full batch (B=100)", "updates that raised the loss"] == 0


def test_1_4_says_when_the_path_leaves_the_valley() -> None:
    app = render("1.4")
    assert metrics(app)["Regime"] == "smooth" and not app.warning
    app.select_slider(key="demo_1_4_lr").set_value(0.95)
    check(app.run())
    assert metrics(app)["Regime"] == "zig-zag"
    app.select_slider(key="demo_1_4_lr").set_value(1.3)
    check(app.run())
    assert metrics(app)["Regime"] == "diverges"
    assert "left the plotted window" in app.warning[0].value
    app.radio(key="demo_1_4_shape").set_value("long valley (x shifted by +2)")
    check(app.run())
    assert float(metrics(app)["Stability limit 2/λ_max"]) < 0.5


def test_1_5_flags_the_wrong_gradient_and_reports_gradcheck() -> None:
    app = render("1.5")
    table = app.dataframe[0].value
    assert len(table) == 6
    assert (~table.passes).sum() == 1
    assert [s.value for s in app.success] == [
        "autograd's own backward: passes",
        "hand-written backward (correct): passes",
    ]
    assert [e.value for e in app.error] == ["hand-written backward (forgot the 2): fails"]


def test_3_6_dashboard_reads_a_healthy_and_a_broken_run() -> None:
    app = render("3.6")
    assert metrics(app)["Non-finite losses"] == "0"
    assert app.success  # every number finite
    app.selectbox(key="demo_3_6_variant").set_value("labels_misaligned")
    check(app.run())
    assert len(app.get(CHART)) == 3
    assert any("Loss stuck at ln K" in caption.value for caption in app.caption)


def test_2_1_a_linear_classifier_cannot_follow_the_spirals() -> None:
    app = render("2.1")
    mlp = next(c.value for c in app.caption if "Val accuracy" in c.value)
    app.selectbox(key="demo_2_1_model").set_value("linear classifier (no hidden layer)")
    line = next(c.value for c in check(app.run()).caption if "Val accuracy" in c.value)
    accuracy = [float(re.search(r"(\d+\.\d)%", text).group(1)) for text in (mlp, line)]
    assert accuracy[0] > 90 > 60 > accuracy[1]
    app.slider(key="demo_2_1_epoch").set_value(1)
    assert "after epoch 1 " in next(c.value for c in check(app.run()).caption if "Val" in c.value)


def test_2_2_the_table_agrees_with_autograd() -> None:
    table = render("2.2").dataframe[0].value
    assert table["difference"].max() < 1e-12 and len(table) == 15


def test_2_3_the_two_nets_stay_within_rounding() -> None:
    value = metrics(render("2.3"))["Largest difference between the two losses"]
    assert float(value) < 1e-5


def test_2_4_says_when_a_statistic_is_not_defined() -> None:
    app = render("2.4")
    app.selectbox(key="demo_2_4_act").set_value("sigmoid")
    check(app.run())
    assert app.info and "not defined for sigmoid" in app.info[0].value
    app.selectbox(key="demo_2_4_stat").set_value("saturated")
    assert len(check(app.run()).get(CHART)) == 1 and not app.info


def test_2_5_measures_when_asked() -> None:
    app = render("2.5")
    app.button(key="demo_2_5_measure").click()
    check(app.run())
    assert len(app.get(CHART)) == 1
    assert "x at batch 512" in " ".join(c.value for c in app.caption)


def test_2_6_and_2_7_report_real_runs() -> None:
    regularised = " ".join(c.value for c in render("2.6").caption)
    assert regularised.count("train acc") == 2
    assert render("2.7").slider(key="demo_2_7_epoch").value == 60


def test_3_5_data_parallel_matches_one_process_in_the_page() -> None:
    app = render("3.5")
    shown = metrics(app)
    assert float(shown["float32: seconds per epoch"]) > 0
    assert float(shown["bfloat16: seconds per epoch"]) > 0
    app.button(key="demo_3_5_ddp").click()
    check(app.run(timeout=180))
    assert float(metrics(app)["Largest weight difference at the end"]) < 1e-6
    assert len(app.get(CHART)) == 2  # precision, data parallel


def test_3_7_marks_the_best_and_the_stopping_epoch() -> None:
    caption = " ".join(c.value for c in render("3.7").caption)
    best, stopped = re.search(r"lowest at epoch (\d+).*stopped at epoch (\d+)", caption).groups()
    assert int(stopped) == int(best) + 5


def test_3_8_the_correct_resume_is_exact() -> None:
    assert (
        metrics(render("3.8"))["Largest difference, never interrupted vs resumed with everything"]
        == "0.0e+00"
    )
