"""The Curve Doctor's charts draw the evidence: best val, blow-up, trend, chance line."""

from __future__ import annotations

import json
import math

from engine.curve_marks import chart_marks
from engine.diagnosis import diagnose
from engine.log_table import TrainingLog
from ui.log_chart import log_charts


def spec_text(log: TrainingLog) -> str:
    charts = log_charts(log, chart_marks(log), diagnose(log).label)
    return json.dumps([chart.to_dict() for chart in charts])


def test_best_val_epoch_is_marked_where_it_is() -> None:
    log = TrainingLog(
        train_loss=(0.9, 0.5, 0.3, 0.18, 0.12),
        x=(1.0, 2.0, 3.0, 4.0, 5.0),
        val_loss=(0.63, 0.60, 0.66, 0.82, 0.95),
    )
    assert chart_marks(log).best_val == (2.0, 0.60)
    assert "best val" in spec_text(log)


def test_a_blow_up_is_marked_only_when_the_run_diverged() -> None:
    diverged = TrainingLog(train_loss=(2.3, 2.0, 40.0, math.nan), x=(1.0, 2.0, 3.0, 4.0))
    assert chart_marks(diverged).blow_up == (4.0, "loss became NaN")
    assert diagnose(diverged).label == "diverged"
    assert "loss became NaN" in spec_text(diverged)
    healthy = TrainingLog(train_loss=(2.3, 1.0, 0.5, 0.3), x=(1.0, 2.0, 3.0, 4.0))
    assert chart_marks(healthy).blow_up is None and "loss became" not in spec_text(healthy)


def test_a_long_noisy_log_gets_its_trend_and_the_chance_line() -> None:
    steps = range(1, 2001)
    noisy = tuple(2.3 * 0.999**s * (1.3 if s % 2 else 0.7) for s in steps)
    log = TrainingLog(train_loss=noisy, x=tuple(float(s) for s in steps), n_classes=10)
    marks = chart_marks(log)
    assert 10 <= len(marks.trend) <= 30
    assert marks.trend[0][1] > marks.trend[-1][1]  # the trend falls, as the run does
    assert marks.chance == math.log(10)
    assert "chance (ln K)" in spec_text(log)
