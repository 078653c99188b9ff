"""Lesson 3.8, exercise 1: a checkpoint that survives a crash mid-write, and a safe load.

Write save_naive (torch.save straight onto the checkpoint's path) and save_atomic (write
a temporary file in the same folder, then os.replace it onto the path). Save a good
checkpoint, then make a second save fail half-way: which of the two leaves a checkpoint
you can still load? Then save an object that runs a function when it is unpickled, and
check that torch.load(..., weights_only=True) refuses it, while weights_only=False runs it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

CALLS: list[str] = []  # what ran while a file was being loaded


def ran_on_load(message: str) -> str:
    """Stands in for any code an attacker might put in a file: here it only takes notes."""
    CALLS.append(message)
    return message


class PowerCut:
    """An object that cannot be written: saving it fails part-way through the file."""

    def __reduce__(self) -> tuple[Any, ...]:
        raise OSError("the power went out while saving")


class Booby:
    """Pickles as 'call ran_on_load(...)', so unpickling it runs code."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (ran_on_load, ("code ran while loading",))


def save_naive(state: dict[str, Any], path: Path) -> None:
    torch.save(state, path)  # opens (and empties) the old file first


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """Write to a temporary file next to path, then rename it onto path in one step."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)  # atomic on one file system: old file or new, never half
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)  # a failed save leaves no litter


def loads(path: Path) -> bool:
    try:
        torch.load(path, weights_only=True)
    except Exception:  # a half-written file: zip or pickle errors
        return False
    return True


def main() -> None:
    torch.manual_seed(0)
    model = nn.Linear(64, 10)
    good = {"model": model.state_dict(), "step": 225}
    crashing = {"model": model.state_dict(), "step": 270, "extra": PowerCut()}

    survived = {}
    with tempfile.TemporaryDirectory() as folder:
        for save in (save_naive, save_atomic):
            path = Path(folder) / f"{save.__name__}.pt"
            save(good, path)
            assert loads(path)
            try:
                save(crashing, path)
            except OSError as error:
                print(f"{save.__name__}: the second save failed ({error})")
            survived[save.__name__] = loads(path)
            if survived[save.__name__]:
                step = torch.load(path, weights_only=True)["step"]
                print(f"  the old checkpoint still loads, at step {step}")
            else:
                print(f"  {path.name} is now a broken file of {path.stat().st_size} bytes")
        assert sorted(p.name for p in Path(folder).iterdir()) == ["save_atomic.pt", "save_naive.pt"]
        assert survived == {"save_naive": False, "save_atomic": True}
        print("atomic save kept the old checkpoint")

        path = Path(folder) / "upload.pt"
        torch.save({"model": model.state_dict(), "gift": Booby()}, path)
        try:
            torch.load(path, weights_only=True)
        except Exception as error:  # pickle.UnpicklingError
            print(f"weights_only=True: refused ({type(error).__name__})")
        assert CALLS == []
        torch.load(path, weights_only=False)  # only for files you wrote yourself
        print(f"weights_only=False: {CALLS}")
        assert CALLS == ["code ran while loading"]
        print("weights_only=True refused the code; weights_only=False ran it")


if __name__ == "__main__":
    main()
