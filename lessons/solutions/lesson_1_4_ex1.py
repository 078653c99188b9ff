"""Lesson 1.4, exercise 1: draw the loss landscape as numbers and find its lowest point.

For a one-feature linear model y_hat = w x + b, evaluate the MSE at every point of a
121 x 121 grid of (w, b) values in one broadcast operation (no Python loop over the grid).
Find the grid point with the lowest loss and check that it sits within one grid spacing
of the exact least-squares answer from torch.linalg.lstsq.
"""

from __future__ import annotations

import torch


def make_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points near the line y = 2x - 1."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=generator)
    y = 2 * x - 1 + 0.3 * torch.randn(n, generator=generator)
    return x, y


def loss_surface(
    x: torch.Tensor, y: torch.Tensor, ws: torch.Tensor, bs: torch.Tensor
) -> torch.Tensor:
    """MSE for every (w, b) pair: shape [len(ws), len(bs)]."""
    w = ws[:, None, None]  # [W, 1, 1]
    b = bs[None, :, None]  # [1, B, 1]
    predictions = w * x + b  # broadcasts to [W, B, N]
    return ((predictions - y) ** 2).mean(dim=-1)


def main() -> None:
    torch.manual_seed(0)
    x, y = make_data()
    ws = torch.linspace(-1, 5, 121)
    bs = torch.linspace(-4, 2, 121)
    spacing = (ws[1] - ws[0]).item()
    surface = loss_surface(x, y, ws, bs)

    best = surface.argmin()
    i, j = divmod(best.item(), len(bs))
    grid_w, grid_b = ws[i].item(), bs[j].item()

    design = torch.stack([x, torch.ones_like(x)], dim=1)  # columns: x and 1 (for b)
    exact = torch.linalg.lstsq(design, y[:, None]).solution.squeeze()
    exact_w, exact_b = exact.tolist()

    print(
        f"surface shape {tuple(surface.shape)}, loss from {surface.min():.4f} "
        f"to {surface.max():.1f}"
    )
    print(
        f"grid minimum at w={grid_w:.3f}, b={grid_b:.3f}; "
        f"least squares w={exact_w:.3f}, b={exact_b:.3f}"
    )

    assert surface.shape == (121, 121)
    assert abs(grid_w - exact_w) <= spacing and abs(grid_b - exact_b) <= spacing
    print("grid minimum matches the least-squares solution within one grid step")


if __name__ == "__main__":
    main()
