"""ui.demos.practice: both demos render in a real Streamlit run and show the engine's numbers."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from engine.scale import gpus_to_hold, training_days, training_flops, training_memory_gb
from engine.transfer import transfer_comparison
from tests.demo_app import CHART, check, metrics

FROZEN, UNFROZEN, SCRATCH = (
    "frozen trunk + new head",
    "unfrozen (trunk lr ÷ 10)",
    "from scratch",
)


def transfer_app() -> None:
    from ui.demos.practice import transfer_demo

    transfer_demo()


def scale_app() -> None:
    from ui.demos.practice import scale_calculator_demo

    scale_calculator_demo()


def shown_accuracies(shots: int) -> dict[str, str]:
    """What the demo should show: the engine's final accuracies, as percentages."""
    final = transfer_comparison(shots=shots).groupby("mode")["val_acc"].last()
    return {
        FROZEN: f"{final['frozen']:.1%}",
        UNFROZEN: f"{final['unfrozen']:.1%}",
        SCRATCH: f"{final['scratch']:.1%}",
    }


@pytest.fixture(scope="module")
def transfer() -> AppTest:
    return check(AppTest.from_function(transfer_app, default_timeout=120).run())


def test_transfer_demo_shows_the_engine_accuracies(transfer: AppTest) -> None:
    assert transfer.subheader and len(transfer.get(CHART)) == 1
    assert transfer.slider(key="demo_transfer_shots").value == 5
    assert metrics(transfer) == shown_accuracies(5)
    assert any("Dashed: chance" in caption.value for caption in transfer.caption)


def test_transfer_demo_follows_the_slider(transfer: AppTest) -> None:
    before = metrics(transfer)
    transfer.slider(key="demo_transfer_shots").set_value(1)
    check(transfer.run())
    assert metrics(transfer) == shown_accuracies(1) != before
    assert any("from 5 images (1 per digit)" in c.value for c in transfer.caption)


def test_scale_calculator_shows_the_engine_numbers() -> None:
    app = check(AppTest.from_function(scale_app, default_timeout=30).run())
    shown = metrics(app)
    assert shown["Training compute (6ND)"] == f"{training_flops(7e9, 2e12):.2e} FLOPs"
    assert shown["Training compute (6ND)"] == "8.40e+22 FLOPs"
    assert shown["Memory, Adam in float32"] == "112.0 GB"
    assert shown["Memory, Adam in mixed precision"] == "112.0 GB"
    assert shown["80 GB GPUs to hold it, at least"] == "2"
    assert shown["Training time"] == f"{training_days(7e9, 2e12, 1024):,.1f} days" == "2.4 days"
    table = app.dataframe[0].value
    assert len(table) == 6 and set(table["total"]) == {8, 12, 16}


def test_scale_calculator_follows_its_inputs() -> None:
    app = check(AppTest.from_function(scale_app, default_timeout=30).run())
    app.number_input(key="demo_scale_params").set_value(70.0)
    app.number_input(key="demo_scale_gpus").set_value(8)
    check(app.run())
    shown = metrics(app)
    memory = training_memory_gb(70e9, "adam", "mixed")
    assert shown["Memory, Adam in mixed precision"] == f"{memory:,.1f} GB" == "1,120.0 GB"
    assert shown["80 GB GPUs to hold it, at least"] == str(gpus_to_hold(memory)) == "14"
    assert shown["Training time"] == f"{training_days(70e9, 2e12, 8):,.1f} days"
    assert "too little" in app.warning[0].value  # 8 GPUs hold 640 GB


def test_scale_calculator_shows_bad_input_as_a_sentence() -> None:
    app = check(AppTest.from_function(scale_app, default_timeout=30).run())
    app.number_input(key="demo_scale_params").set_value(0.0)
    check(app.run())
    assert app.error[0].value.startswith("parameters = 0.0 is not allowed: expected a positive")
    assert not app.metric
