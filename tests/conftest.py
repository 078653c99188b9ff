"""Shared fixtures: runs are deterministic, so each expensive one is trained once per session."""

from __future__ import annotations

import pytest
import torch

from engine.compare import Comparison, compare
from engine.config import RunConfig, default_config
from engine.results import RunResult
from engine.training import train
from engine.variants import all_variants

# One thread, as the tests in the issues are specified: results must not depend on it,
# and it keeps the suite polite on a 2-core CI machine.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def baseline_config() -> RunConfig:
    return default_config("digits")


@pytest.fixture(scope="session")
def baseline_run(baseline_config: RunConfig) -> RunResult:
    return train(baseline_config)


@pytest.fixture(scope="session")
def catalogue(baseline_config: RunConfig, baseline_run: RunResult) -> Comparison:
    """The baseline paired with every variant in the catalogue (about 15 s on one thread)."""
    cache = {baseline_config.key(): baseline_run}

    def cached_train(config: RunConfig, **kwargs: object) -> RunResult:
        if config.key() not in cache:
            cache[config.key()] = train(config, **kwargs)
        return cache[config.key()]

    return compare(baseline_config, list(all_variants()), train_fn=cached_train)
