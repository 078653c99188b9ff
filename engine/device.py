"""Where a run computes: cuda -> mps -> cpu, and how many CPU threads it may use."""

from __future__ import annotations

import torch


def pick_device(preference: str = "auto") -> torch.device:
    """The requested device, or with "auto" the fastest available: cuda, then mps, then cpu.

    Raises ValueError when a specific device is requested but not present.
    """
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(preference, False):
        raise ValueError(
            f"device = {preference!r} is not available on this machine; "
            "use 'auto' to pick the best one present"
        )
    return torch.device(preference)


def limit_threads(threads: int) -> None:
    """Cap intra-op CPU threads so several runs on one server share the cores.

    Small models gain almost nothing from a second thread, so one thread per run lets
    a shared server train several learners' runs side by side.
    """
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
