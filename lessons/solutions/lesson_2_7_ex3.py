"""Lesson 2.7, exercise 3: read three runs against the noise floor.

The noise in the wave data has variance 0.01, so no model can score much below 0.01 on
points it has not seen. Write verdict(train_mse, val_mse) that names a run from those two
numbers alone, then train three models and check it names each one:
- the closed-form line on 420 points (both MSEs far above 0.01: it cannot bend);
- the tanh MLP on the same 420 points (validation close to 0.01);
- the same MLP on only 20 points (training below 0.01: it has fitted the noise).
"""

from __future__ import annotations

import torch
from torch import nn

NOISE_VAR = 0.01


def make_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n points of y = sin(2x) + 0.3x + noise (std 0.1), x uniform in [-3, 3], standardised
    with the population std sqrt(3)."""
    generator = torch.Generator().manual_seed(seed)
    x = 6 * torch.rand(n, 1, generator=generator) - 3
    y = torch.sin(2 * x) + 0.3 * x + 0.1 * torch.randn(n, 1, generator=generator)
    return x / 3**0.5, y


def verdict(train_mse: float, val_mse: float) -> str:
    if val_mse < 2 * NOISE_VAR:
        return "near the noise floor"
    if train_mse < NOISE_VAR:  # better than the noise allows: it has memorised the noise
        return "overfits"
    return "underfits"  # high on both: the model cannot follow the curve


def fit_line(x: torch.Tensor, y: torch.Tensor) -> nn.Module:
    design = torch.cat([x, torch.ones_like(x)], dim=1)
    w, b = torch.linalg.lstsq(design, y).solution.flatten().tolist()
    line = nn.Linear(1, 1)
    with torch.no_grad():
        line.weight.fill_(w)
        line.bias.fill_(b)
    return line


def fit_mlp(x: torch.Tensor, y: torch.Tensor, steps: int) -> nn.Module:
    """The lesson's 1-64-64-1 tanh MLP, Adam at 1e-2, every step on all of x (full batch)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model


def main() -> None:
    torch.set_num_threads(1)
    x, y = make_data(420, seed=1)
    x_val, y_val = make_data(500, seed=2)
    runs = {
        "line, 420 points": (fit_line(x, y), x, y),
        "MLP, 420 points": (fit_mlp(x, y, steps=300), x, y),
        "MLP, 20 points": (fit_mlp(x[:20], y[:20], steps=500), x[:20], y[:20]),
    }
    expected = ["underfits", "near the noise floor", "overfits"]
    named = []
    for name, (model, x_train, y_train) in runs.items():
        with torch.no_grad():
            train_mse = nn.functional.mse_loss(model(x_train), y_train).item()
            val_mse = nn.functional.mse_loss(model(x_val), y_val).item()
        named.append(verdict(train_mse, val_mse))
        print(f"{name:<17} train {train_mse:.4f}  val {val_mse:.4f}  -> {named[-1]}")
    assert named == expected, named
    print("each run named from its MSE and the noise floor")


if __name__ == "__main__":
    main()
