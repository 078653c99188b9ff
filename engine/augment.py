"""Data augmentation for image batches: small random shifts and rotations.

Each training batch gets fresh random transforms, drawn from torch's global generator (as
dropout's masks are), so a checkpoint's saved RNG state replays them exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

MAX_DEGREES = 10.0  # a digit tilted by 10 degrees is still the same digit
MAX_SHIFT = 1  # pixels, on 8x8 digits; scaled up for larger images


def shift_and_rotate(images: Tensor, max_degrees: float = MAX_DEGREES) -> Tensor:
    """Each image of a (batch, channels, height, width) batch, rotated by up to
    ±max_degrees and shifted by up to one pixel per 8 (whole pixels), as one resampling."""
    batch, _, height, width = images.shape
    angle = (torch.rand(batch) * 2 - 1) * math.radians(max_degrees)
    max_shift = MAX_SHIFT * max(1, width // 8)
    shift = torch.randint(-max_shift, max_shift + 1, (batch, 2)).float()
    cos, sin = angle.cos(), angle.sin()
    # affine_grid works in [-1, 1] coordinates: one pixel is 2 / size of them.
    theta = torch.stack(
        [
            torch.stack([cos, -sin, shift[:, 0] * 2 / width], dim=1),
            torch.stack([sin, cos, shift[:, 1] * 2 / height], dim=1),
        ],
        dim=1,
    ).to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # "border" repeats the edge pixels, which on digits are background.
    return F.grid_sample(images, grid, padding_mode="border", align_corners=False)
