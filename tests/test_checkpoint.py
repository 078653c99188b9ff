from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.checkpoint import FORMAT, CheckpointError
from engine.config import default_config
from engine.training import train


def test_resume_continues_the_same_curve(tmp_path: Path) -> None:
    config = default_config(epochs=4, dropout=0.2)
    straight = train(config)
    path = tmp_path / "run.pt"
    half = train(config.replace(epochs=2), checkpoint_to=path)
    assert len(half.epochs) == 2 and path.exists()
    resumed = train(config, resume_from=path)
    assert [e.epoch for e in resumed.epochs] == [1, 2, 3, 4]
    assert [s.loss for s in resumed.steps] == [s.loss for s in straight.steps]
    assert [e.val_loss for e in resumed.epochs] == [e.val_loss for e in straight.epochs]


def test_an_interrupted_scheduled_run_resumes_exactly(tmp_path: Path) -> None:
    config = default_config(epochs=3, schedule="cosine")
    straight = train(config)
    path = tmp_path / "run.pt"
    steps_done: list[object] = []
    interrupted = train(
        config,
        checkpoint_to=path,
        on_event=steps_done.append,
        should_stop=lambda: len(steps_done) >= 80 + 2,
    )  # 2 epochs: 80 steps
    assert interrupted.status == "stopped" and len(interrupted.epochs) == 2
    resumed = train(config, resume_from=path)
    assert [s.lr for s in resumed.steps] == [s.lr for s in straight.steps]
    assert [s.loss for s in resumed.steps] == [s.loss for s in straight.steps]


def test_mismatching_checkpoint_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    train(default_config(epochs=1), checkpoint_to=path)
    with pytest.raises(CheckpointError, match=r"lr=0\.001 but this run has lr=0\.01"):
        train(default_config(epochs=2, lr=0.01), resume_from=path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", bytes(range(256)) * 10])
def test_corrupt_file_gives_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        train(default_config(epochs=1), resume_from=path)


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this must never run",))


def test_loading_never_unpickles_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    path = tmp_path / "evil.pt"
    torch.save({"format": "training-loop-lab/checkpoint-v1", "x": _Payload()}, path)
    with pytest.raises(CheckpointError):
        train(default_config(epochs=1), resume_from=path)
    assert "must never run" not in capsys.readouterr().out
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError):
        train(default_config(epochs=1), resume_from=path)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(default_config(epochs=1), resume_from=tmp_path / "nope.pt")


@pytest.fixture(scope="module")
def saved_payload(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A genuine one-epoch checkpoint, as a dict to hand-edit."""
    import torch

    path = tmp_path_factory.mktemp("genuine") / "run.pt"
    train(default_config(epochs=1), checkpoint_to=path)
    return torch.load(path, weights_only=True)


def _without(key: str) -> Callable[[dict[str, object]], dict[str, object]]:
    return lambda payload: {k: v for k, v in payload.items() if k != key}


def _with(key: str, value: object) -> Callable[[dict[str, object]], dict[str, object]]:
    return lambda payload: {**payload, key: value}


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        pytest.param(lambda payload: {"format": FORMAT}, "'config'", id="format-only"),
        pytest.param(_with("config", "lr=0.001"), "'config'", id="config-not-a-dict"),
        pytest.param(_with("config", {"hidden": 5}), "'config'", id="config-bad-hidden"),
        pytest.param(_with("config", {"lr": -1.0}), "'config'", id="config-bad-lr"),
        pytest.param(_without("model"), "missing 'model'", id="no-model"),
        pytest.param(_with("model", [1, 2, 3]), "'model'", id="model-not-a-dict"),
        pytest.param(_without("optimizer"), "missing 'optimizer'", id="no-optimizer"),
        pytest.param(_with("epoch", "1"), "'epoch'", id="epoch-text"),
        pytest.param(_with("epoch", -1), "'epoch'", id="epoch-negative"),
        pytest.param(_without("step"), "'step'", id="no-step"),
        pytest.param(_with("shuffle_rng", None), "'shuffle_rng'", id="no-shuffle-state"),
        pytest.param(_with("torch_rng", [1, 2]), "'torch_rng'", id="rng-not-a-tensor"),
        pytest.param(_with("steps", {"a": 1}), "'steps'", id="steps-not-a-list"),
        pytest.param(_with("steps", [{"bogus": 1}]), "'steps'", id="step-record-bad"),
        pytest.param(_with("epochs", [3]), "'epochs'", id="epoch-record-bad"),
    ],
)
def test_hand_edited_checkpoint_names_the_bad_key(
    tmp_path: Path,
    saved_payload: dict[str, object],
    edit: Callable[[dict[str, object]], dict[str, object]],
    named: str,
) -> None:
    import torch

    path = tmp_path / "edited.pt"
    torch.save(edit(dict(saved_payload)), path)
    with pytest.raises(CheckpointError) as raised:
        train(default_config(epochs=2), resume_from=path)
    message = str(raised.value)
    assert named in message and len(message.splitlines()) == 1
