"""Lesson 2.6, exercise 2: dropout by hand, and why validation needs model.eval().

Write dropout(h, p, training): in training, zero each entry with probability p and divide
the survivors by (1 - p); otherwise return h unchanged. On 100,000 ones check that about a
share p is zeroed, that every survivor is 1 / (1 - p) and that the mean stays about 1. Then
put nn.Dropout(0.5) in a small model and run the same inputs through it twice under
torch.no_grad(): in train mode the outputs differ, after model.eval() they are identical.
"""

from __future__ import annotations

import torch
from torch import nn


def dropout(h: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout: keep each entry with probability 1 - p and scale it by 1 / (1 - p)."""
    if not training or p == 0:
        return h  # eval mode: the identity
    keep = (torch.rand_like(h) >= p).to(h.dtype)  # m_i: 1 with probability 1 - p, else 0
    return h * keep / (1 - p)


def main() -> None:
    torch.manual_seed(0)
    ones = torch.ones(100_000)
    for p in (0.2, 0.5, 0.8):
        out = dropout(ones, p, training=True)
        zeroed = (out == 0).float().mean().item()
        survivors = out[out != 0].unique()
        print(
            f"p={p}: zeroed {zeroed:.4f}, survivors {survivors.tolist()}, "
            f"mean {out.mean().item():.4f}"
        )
        assert abs(zeroed - p) < 0.01
        assert torch.allclose(survivors, torch.tensor([1 / (1 - p)]))
        assert abs(out.mean().item() - 1) < 0.02  # the expected value is unchanged
        assert torch.equal(dropout(ones, p, training=False), ones)

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    inputs = torch.randn(8, 64)
    with torch.no_grad():  # no graph; dropout is still on, because the model is in train mode
        first, second = model(inputs), model(inputs)
        model.eval()  # now dropout is the identity
        third, fourth = model(inputs), model(inputs)
    print(f"train mode, two passes differ by up to {(first - second).abs().max().item():.4f}")
    print(f"eval mode, two passes differ by up to {(third - fourth).abs().max().item():.4f}")
    assert not torch.equal(first, second) and torch.equal(third, fourth)
    print("dropout keeps the mean in train mode and is the identity in eval mode")


if __name__ == "__main__":
    main()
