"""engine.transfer: what each fine-tuning mode trains, and what the three modes measure."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from engine.config import default_config
from engine.data import load_data
from engine.step import evaluate
from engine.transfer import (
    FINE_TUNE_EPOCHS,
    HEAD_LR,
    MODES,
    NEW_DIGITS,
    OLD_DIGITS,
    TRUNK_LR,
    few_shots,
    fine_tune,
    new_task_network,
    pretrain,
    task_split,
    transfer_comparison,
)


@pytest.fixture(scope="module")
def pretrained() -> nn.Module:
    return pretrain(seed=0)


@pytest.fixture(scope="module")
def comparison() -> pd.DataFrame:
    """The three modes at 5 shots, seed 0: computed once, read by several tests."""
    return transfer_comparison(shots=5, seed=0)


@pytest.fixture(scope="module")
def final_acc(comparison: pd.DataFrame) -> dict[str, float]:
    """Each mode's val accuracy after the last epoch."""
    return comparison.groupby("mode")["val_acc"].last().to_dict()


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def test_pretraining_learns_digits_0_to_4_and_hands_out_copies(pretrained: nn.Module) -> None:
    val = task_split(load_data(default_config("digits")).val, OLD_DIGITS)
    assert evaluate(pretrained, val, nn.CrossEntropyLoss()).acc > 0.95
    again = pretrain(seed=0)
    assert again is not pretrained and same_weights(again, pretrained)  # cached, copied
    with torch.no_grad():
        again.trunk.fc1.weight.zero_()
    assert not same_weights(pretrain(seed=0), again)


def test_frozen_trains_the_new_head_only(pretrained: nn.Module) -> None:
    start = new_task_network(pretrained, "frozen", seed=0)
    run = fine_tune(pretrained, "frozen", shots=5, seed=0, epochs=5)
    assert same_weights(run.network.trunk, pretrained.trunk)  # bit-identical
    assert not torch.equal(run.network.head.weight, start.head.weight)
    assert not any(p.requires_grad for p in run.network.trunk.parameters())
    held = {id(p) for group in run.optimizer.param_groups for p in group["params"]}
    assert held == {id(p) for p in run.network.head.parameters()}


def test_unfrozen_moves_the_trunk_ten_times_more_slowly(pretrained: nn.Module) -> None:
    run = fine_tune(pretrained, "unfrozen", shots=5, seed=0, epochs=5)
    trunk_group, head_group = run.optimizer.param_groups
    assert (trunk_group["lr"], head_group["lr"]) == (TRUNK_LR, HEAD_LR) == (1e-3, 1e-2)
    assert trunk_group["params"] == list(run.network.trunk.parameters())
    assert head_group["params"] == list(run.network.head.parameters())
    assert not same_weights(run.network.trunk, pretrained.trunk)  # the trunk did learn
    assert same_weights(pretrain(seed=0), pretrained)  # ...on a copy


def test_scratch_starts_from_random_weights(pretrained: nn.Module) -> None:
    start = new_task_network(pretrained, "scratch", seed=0)
    assert not same_weights(start.trunk, pretrained.trunk)
    assert same_weights(start, new_task_network(pretrained, "scratch", seed=0))


def test_few_shots_draws_each_new_digit_from_the_train_split() -> None:
    shots = few_shots(3, seed=0)
    assert torch.bincount(shots.targets).tolist() == [3] * len(NEW_DIGITS)
    train = task_split(load_data(default_config("digits")).train, NEW_DIGITS)
    in_train = (shots.inputs.flatten(1)[:, None] == train.inputs.flatten(1)[None]).all(-1)
    assert in_train.any(dim=1).all()
    assert not torch.equal(few_shots(3, seed=1).inputs, shots.inputs)


def test_the_comparison_is_tidy(comparison: pd.DataFrame) -> None:
    table = comparison
    assert list(table.columns) == ["mode", "epoch", "val_acc", "val_loss"]
    assert len(table) == len(MODES) * FINE_TUNE_EPOCHS
    assert table.groupby("mode")["epoch"].apply(list).to_dict() == {
        mode: list(range(1, FINE_TUNE_EPOCHS + 1)) for mode in MODES
    }
    assert table["val_acc"].between(0, 1).all() and pd.notna(table["val_loss"]).all()


def test_at_5_shots_every_mode_learns_and_unfrozen_beats_frozen(
    final_acc: dict[str, float],
) -> None:
    # measured (seed 0): frozen 0.664, unfrozen 0.791, scratch 0.799; chance is 0.2
    assert min(final_acc.values()) > 0.5
    assert final_acc["unfrozen"] > final_acc["frozen"] + 0.07


def test_on_the_digits_transfer_does_not_beat_scratch_at_5_shots(
    final_acc: dict[str, float],
) -> None:
    # Features learned on 0-4 serve 5-9 worse than the raw pixels do, so the few examples
    # alone teach as much. If this starts failing, transfer has begun to win: say so.
    assert final_acc["scratch"] > final_acc["frozen"] + 0.08
    assert max(final_acc["frozen"], final_acc["unfrozen"]) < final_acc["scratch"] + 0.03


@pytest.mark.parametrize("shots", [0, 51, 2.5, True])
def test_shots_outside_1_to_50_are_refused_with_the_range(shots: object) -> None:
    message = f"shots = {shots!r} is not allowed: expected an integer from 1 to 50"
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.")):
        transfer_comparison(shots=shots)  # type: ignore[arg-type]


def test_an_unknown_mode_is_refused(pretrained: nn.Module) -> None:
    with pytest.raises(ValueError, match="mode = 'thawed' .* frozen, unfrozen, scratch"):
        fine_tune(pretrained, "thawed")
