"""Lesson 2.7, exercise 1: take the tanh out and the MLP folds into one straight line.

Build the lesson's 1-64-64-1 MLP with nn.Identity() where the two nn.Tanh() layers were,
train it with Adam on the wave data (full batch: every step sees all 420 training points),
then multiply its three layers out into one slope and one intercept. Check that:
- the folded line gives the network's outputs exactly (the algebra, to rounding);
- it is close to Module 1's closed-form line on the same points;
- its validation MSE sits on the line's floor, far above the noise variance 0.01.
"""

from __future__ import annotations

import torch
from torch import nn

NOISE_VAR = 0.01


def make_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n points of y = sin(2x) + 0.3x + noise (std 0.1), x uniform in [-3, 3], shape [n, 1]."""
    generator = torch.Generator().manual_seed(seed)
    x = 6 * torch.rand(n, 1, generator=generator) - 3
    y = torch.sin(2 * x) + 0.3 * x + 0.1 * torch.randn(n, 1, generator=generator)
    return x, y


def mlp(activation: type[nn.Module]) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(1, 64), activation(), nn.Linear(64, 64), activation(), nn.Linear(64, 1)
    )


def fold(model: nn.Sequential) -> tuple[float, float]:
    """The one line the network draws: W3 (W2 (W1 x + b1) + b2) + b3 multiplied out is
    (W3 W2 W1) x + (W3 W2 b1 + W3 b2 + b3); returns (slope, intercept)."""
    first, second, third = model[0], model[2], model[4]
    slope = third.weight @ second.weight @ first.weight  # [1, 64] @ [64, 64] @ [64, 1]
    intercept = third.weight @ second.weight @ first.bias + third.weight @ second.bias
    intercept = intercept + third.bias
    return slope.item(), intercept.item()


def closed_form_line(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    design = torch.cat([x, torch.ones_like(x)], dim=1).double()
    w, b = torch.linalg.lstsq(design, y.double()).solution.flatten().tolist()
    return w, b


def main() -> None:
    torch.set_num_threads(1)
    x, y = make_data(420, seed=1)
    x_val, y_val = make_data(90, seed=2)
    mean, std = x.mean(), x.std()  # standardise with the training set's numbers
    x, x_val = (x - mean) / std, (x_val - mean) / std

    model = mlp(nn.Identity)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(500):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()

    slope, intercept = fold(model)
    w, b = closed_form_line(x, y)
    with torch.no_grad():
        net_val = nn.functional.mse_loss(model(x_val), y_val).item()
        folded = slope * x_val + intercept
        gap = (model(x_val) - folded).abs().max().item()
    line_val = nn.functional.mse_loss(w * x_val + b, y_val).item()
    print(f"identity MLP folded: y = {slope:.4f} x {intercept:+.4f}")
    print(f"largest gap between the network's outputs and that line: {gap:.1e}")
    print(f"closed form (Module 1): y = {w:.4f} x {b:+.4f}")
    print(f"val MSE: identity MLP {net_val:.4f}, closed-form line {line_val:.4f}", end=" ")
    print(f"(noise variance {NOISE_VAR})")

    assert gap < 1e-4  # the network IS that line, to float32 rounding
    assert abs(slope - w) < 0.01 and abs(intercept - b) < 0.01
    assert abs(net_val - line_val) < 0.02 * line_val
    assert net_val > 30 * NOISE_VAR  # stuck far above the noise floor
    print("without activations the MLP is just a line: 4353 parameters, 2 numbers' worth")


if __name__ == "__main__":
    main()
