"""Write MNIST-format IDX files, for offline tests and benchmarks of the MNIST code path.

The images are scikit-learn's bundled 8x8 digits scaled up to 28x28 with a random
shift and pixel noise, so the files read exactly like MNIST and are still learnable.
"""

from __future__ import annotations

import struct
from pathlib import Path

import torch

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def write_idx_images(path: Path, images: torch.Tensor) -> None:
    """images: uint8 tensor (n, 28, 28). Header >IIII: magic, n, rows, cols."""
    n, rows, cols = images.shape
    path.write_bytes(
        struct.pack(">IIII", IMAGE_MAGIC, n, rows, cols) + images.contiguous().numpy().tobytes()
    )


def write_idx_labels(path: Path, labels: torch.Tensor) -> None:
    """labels: uint8 tensor (n,). Header >II: magic, n."""
    path.write_bytes(
        struct.pack(">II", LABEL_MAGIC, len(labels)) + labels.to(torch.uint8).numpy().tobytes()
    )


def digits_as_mnist(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n 28x28 uint8 images made from the bundled 8x8 digits, with their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    generator = torch.Generator().manual_seed(seed)
    small = torch.tensor(digits.images, dtype=torch.float32) / 16.0
    pick = torch.randint(0, len(small), (n,), generator=generator)
    big = torch.nn.functional.interpolate(
        small[pick].unsqueeze(1), size=(20, 20), mode="bilinear", align_corners=False
    ).squeeze(1)
    canvas = torch.zeros(n, 28, 28)
    shifts = torch.randint(0, 9, (n, 2), generator=generator)
    for i in range(n):  # one-off file writing, not a training hot path
        top, left = int(shifts[i, 0]), int(shifts[i, 1])
        canvas[i, top : top + 20, left : left + 20] = big[i]
    canvas = (canvas + 0.05 * torch.rand(n, 28, 28, generator=generator)).clamp(0, 1)
    labels = torch.tensor(digits.target, dtype=torch.long)[pick]
    return (canvas * 255).round().to(torch.uint8), labels


def write_mnist_format(
    root: str | Path,
    folder: str = "MNIST",
    n_train: int = 60_000,
    n_test: int = 10_000,
    seed: int = 0,
) -> Path:
    """Write ROOT/FOLDER/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte; returns the raw dir."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, offset in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = digits_as_mnist(n, seed + offset)
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw
