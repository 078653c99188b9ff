"""Lesson 1.4, exercise 3: trace the optimizer's path across a long, narrow valley.

Fit y_hat = w x + b to points whose x lies between 1 and 3 (not centred at 0), so the MSE
valley over (w, b) is long and narrow. Its steepest direction is the top eigenvector of
the Hessian H = (2/N) A^T A, with A = [x, 1], and the step-size limit is 2 / lambda_max.
Record the (w, b) path of plain gradient descent with the learning rate at 0.2, 0.9 and
1.1 times that limit. Check: the small step never crosses the valley floor, the 0.9 step
zig-zags across it every step, and the 1.1 step leaves the valley. None of them reaches
the minimum in 40 steps: along the flat floor (curvature lambda_min) each step keeps the
fraction 1 - lr * lambda_min of the distance, and (1 - lr * lambda_min)^40 is still far
from 0 for every lr below the limit.
"""

from __future__ import annotations

import torch

STEPS = 40


def make_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points near y = 2x - 1 with x between 1 and 3."""
    generator = torch.Generator().manual_seed(seed)
    x = 1 + 2 * torch.rand(n, generator=generator)
    y = 2 * x - 1 + 0.3 * torch.randn(n, generator=generator)
    return x, y


def descend(x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
    """The (w, b) path of full-batch gradient descent from (w, b) = (-1, 3): [STEPS + 1, 2]."""
    params = torch.tensor([-1.0, 3.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([params], lr=lr)
    path = [params.detach().clone()]
    for _ in range(STEPS):
        optimizer.zero_grad()
        w, b = params
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        path.append(params.detach().clone())
    return torch.stack(path)


def main() -> None:
    x, y = (t.double() for t in make_data())
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    hessian = 2 / len(x) * design.T @ design
    eigenvalues, eigenvectors = torch.linalg.eigh(hessian)  # ascending order
    steepest, flattest = eigenvectors[:, -1], eigenvectors[:, 0]
    limit = 2 / eigenvalues[-1].item()
    best = torch.linalg.lstsq(design, y[:, None]).solution.squeeze()
    print(
        f"curvatures {eigenvalues.tolist()}: the valley is "
        f"{(eigenvalues[-1] / eigenvalues[0]).item():.0f}x steeper across than along"
    )

    results = {}
    for factor in (0.2, 0.9, 1.1):
        path = descend(x, y, factor * limit)
        across = (path - best) @ steepest  # position across the valley at every step
        along = (path - best) @ flattest  # position along the valley floor
        flips = int((across[1:] * across[:-1] < 0).sum())
        distance = (path[-1] - best).norm().item()
        results[factor] = (flips, distance)
        kept = (1 - factor * limit * eigenvalues[0].item()) ** STEPS
        print(
            f"lr = {factor} x 2/lambda_max = {factor * limit:.4f}: crossed the valley "
            f"floor {flips} times, final distance from the minimum {distance:.3g}; "
            f"along the floor {(along[-1] / along[0]).item():.4f} of the way is left, "
            f"(1 - lr * lambda_min)^{STEPS} = {kept:.4f}"
        )
        # On a quadratic bowl the two directions do not mix: the floor shrinks exactly so.
        assert abs((along[-1] / along[0]).item() - kept) < 1e-9

    assert results[0.2][0] == 0  # glides down its side of the valley
    assert results[0.9][0] == STEPS  # crosses the floor on every single step
    assert results[0.9][1] < 3  # ...yet still gets closer overall
    assert results[1.1][1] > 100  # each crossing lands higher: it leaves the valley
    start = (torch.tensor([-1.0, 3.0], dtype=torch.float64) - best).norm().item()
    assert all(distance > 1 for _, distance in results.values())  # nobody arrived
    print(f"every walk started {start:.3g} from the minimum")
    print("at 0.9x the limit the path zig-zags across the valley; at 1.1x it leaves it")
    print("none of the three reaches the minimum in 40 steps: the valley floor is too flat")


if __name__ == "__main__":
    main()
