from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from engine.checkpoint import CheckpointError
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
