"""Lesson 3.7, exercise 2: batch norm and layer norm by hand.

Write batch_norm(x, gamma, beta) and layer_norm(x, gamma, beta) from the formulas and
check them against nn.BatchNorm1d (train mode) and nn.LayerNorm, with gamma and beta that
are not 1 and 0. Check batch norm's running averages after one batch, that eval mode uses
them, that nn.BatchNorm2d normalises each channel over batch, height and width, and that
train mode refuses a batch of one example.
"""

from __future__ import annotations

import torch
from torch import nn

EPS, MOMENTUM = 1e-5, 0.1  # PyTorch's defaults for both layers


def batch_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Each feature (column) standardised over the batch (dim 0), then scaled and shifted."""
    mean = x.mean(dim=0)
    var = x.var(dim=0, unbiased=False)  # divide by B, as the formula says
    return gamma * (x - mean) / torch.sqrt(var + EPS) + beta


def layer_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Each example (row) standardised over its own features (dim -1)."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return gamma * (x - mean) / torch.sqrt(var + EPS) + beta


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(32, 16) * 3 + 5  # 32 examples, 16 features, far from mean 0 and std 1
    gamma, beta = torch.rand(16) + 0.5, torch.randn(16)

    bn, ln = nn.BatchNorm1d(16), nn.LayerNorm(16)
    with torch.no_grad():
        for layer in (bn, ln):
            layer.weight.copy_(gamma)  # gamma is called weight, beta is called bias
            layer.bias.copy_(beta)
    bn_error = (bn(x) - batch_norm(x, gamma, beta)).abs().max().item()
    ln_error = (ln(x) - layer_norm(x, gamma, beta)).abs().max().item()
    print(f"largest difference from PyTorch: batch norm {bn_error:.1e}, layer norm {ln_error:.1e}")
    assert bn_error < 1e-5 and ln_error < 1e-5

    # One training-mode batch moved the running averages 10% of the way from 0 and 1.
    expected_mean = (1 - MOMENTUM) * torch.zeros(16) + MOMENTUM * x.mean(dim=0)
    expected_var = (1 - MOMENTUM) * torch.ones(16) + MOMENTUM * x.var(dim=0)  # unbiased here
    assert torch.allclose(bn.running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(bn.running_var, expected_var, atol=1e-4)
    print(f"running mean of feature 0 after one batch: {bn.running_mean[0].item():.3f} "
          f"(batch mean {x[:, 0].mean().item():.3f} times {MOMENTUM})")  # fmt: skip

    bn.eval()  # now the running averages are used, and each example stands alone
    with torch.no_grad():
        by_running = gamma * (x - bn.running_mean) / torch.sqrt(bn.running_var + EPS) + beta
        assert torch.allclose(bn(x), by_running, atol=1e-5)
        assert torch.allclose(bn(x[:1]), bn(x)[:1], atol=1e-6)  # a batch of one is fine
    print("eval mode uses the running averages, the same for every batch")

    images = torch.randn(8, 4, 5, 5) * 2 + 3  # 8 images, 4 channels, 5x5 pixels
    out = nn.BatchNorm2d(4)(images)
    per_channel = out.transpose(0, 1).reshape(4, -1)  # every value of one channel in a row
    assert per_channel.mean(dim=1).abs().max() < 1e-5
    assert torch.allclose(per_channel.std(dim=1, unbiased=False), torch.ones(4), atol=1e-3)
    print("BatchNorm2d: each of the 4 channels has mean 0 and std 1 over 8 x 5 x 5 values")

    bn.train()
    try:
        bn(x[:1])
        refused = False
    except ValueError as error:  # one value per feature: there is no spread to divide by
        refused = "Expected more than 1 value per channel" in str(error)
    print(f"train mode refuses a batch of one example: {refused}")
    assert refused
    print("hand-written batch norm and layer norm match PyTorch")


if __name__ == "__main__":
    main()
