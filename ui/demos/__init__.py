"""Lesson-specific visuals, by lesson id: drawn in a lesson's "Try it" section.

Each entry is a function with no arguments that draws one lesson's demo; `ui/lesson.py`
looks the lesson id up here and calls it above the healthy-vs-broken comparison.
"""

from __future__ import annotations

from collections.abc import Callable

from ui.demos.depth import depth_demo, init_demo
from ui.demos.module1 import (
    batch_size_demo,
    gradient_check_demo,
    hand_vs_autograd_demo,
    landscape_demo,
    module_1_1,
)
from ui.demos.module2 import (
    activation_stats_demo,
    backward_demo,
    boundary_demo,
    regularization_demo,
    scratch_demo,
    throughput_demo,
    wave_demo,
)
from ui.demos.module3 import generalisation_demo, large_scale_demo, resume_demo
from ui.demos.monitoring import monitoring_dashboard
from ui.demos.optimizers import optimizer_demo, schedule_demo
from ui.demos.practice import transfer_demo

DEMOS: dict[str, Callable[[], None]] = {
    "1.1": module_1_1,
    "1.2": hand_vs_autograd_demo,
    "1.3": batch_size_demo,
    "1.4": landscape_demo,
    "1.5": gradient_check_demo,
    "2.1": boundary_demo,
    "2.2": backward_demo,
    "2.3": scratch_demo,
    "2.4": activation_stats_demo,
    "2.5": throughput_demo,
    "2.6": regularization_demo,
    "2.7": wave_demo,
    "3.1": optimizer_demo,
    "3.2": schedule_demo,
    "3.3": init_demo,
    "3.4": depth_demo,
    "3.5": large_scale_demo,
    "3.6": monitoring_dashboard,
    "3.7": generalisation_demo,
    "3.8": resume_demo,
    "3.9": transfer_demo,
}
