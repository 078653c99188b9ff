"""Lesson 1.4: walks of gradient descent across the loss landscape of a line.

The model y_hat = w x + b has two parameters, so its MSE is a surface over the (w, b)
plane. The program maps that surface on a grid, measures its curvature, and lets plain
gradient descent walk 40 steps from one starting point with the learning rate at 0.2,
0.9 and 1.1 times the stability limit 2 / lambda_max. For each walk it prints where it
ends, how often it crossed the valley floor and how far it still is from the minimum.
It does this for inputs x between 1 and 3 (a long, narrow valley) and again for the same
inputs centred on 0 (a round bowl).

Run it with: python lesson_1_4.py   (needs torch)
"""

from __future__ import annotations

import torch

SEED = 0
N = 200
STEPS = 40
START = (-1.0, 3.0)  # (w, b) where every walk begins
FACTORS = (0.2, 0.9, 1.1)  # learning rates as multiples of the limit 2 / lambda_max
ARRIVED = 0.01  # "at the minimum": closer than this in the (w, b) plane


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_points(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """N points near y = 2x - 1 with x spread evenly between 1 and 3 (so not centred)."""
    generator = torch.Generator().manual_seed(SEED)
    x = 1 + 2 * torch.rand(N, generator=generator)
    y = 2 * x - 1 + 0.3 * torch.randn(N, generator=generator)
    return x.to(device), y.to(device)


def loss_surface(
    x: torch.Tensor, y: torch.Tensor, ws: torch.Tensor, bs: torch.Tensor
) -> torch.Tensor:
    """The MSE at every grid point at once: broadcasting builds a [W, B, N] forward pass."""
    predictions = ws[:, None, None] * x + bs[None, :, None]
    return ((predictions - y) ** 2).mean(dim=-1)  # average over the N examples: [W, B]


def lowest_grid_point(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
    """(w, b, loss) of the lowest point on a 121 x 121 map of the surface."""
    ws = torch.linspace(-1, 5, 121, device=x.device)
    bs = torch.linspace(-4, 4, 121, device=x.device)
    surface = loss_surface(x, y, ws, bs)
    i, j = divmod(int(surface.argmin()), len(bs))
    return ws[i].item(), bs[j].item(), surface[i, j].item()


def curvature(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors of the Hessian H = (2/N) A^T A, A = [x, 1]."""
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    hessian = 2 / len(x) * design.T @ design
    # A 2 x 2 matrix: the CPU handles it on every backend, and in float64 for clean digits.
    return torch.linalg.eigh(hessian.cpu().double())


def least_squares(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The exact bottom of the bowl, (w*, b*), from the normal equations A^T A p = A^T y."""
    design = torch.stack([x, torch.ones_like(x)], dim=1).cpu().double()
    return torch.linalg.solve(design.T @ design, design.T @ y.cpu().double())


def descend(x: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    """The (w, b) path of full-batch gradient descent from START: [steps + 1, 2]."""
    params = torch.tensor(START, device=x.device, requires_grad=True)
    optimizer = torch.optim.SGD([params], lr=lr)
    path = [params.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        w, b = params
        loss = ((w * x + b - y) ** 2).mean()  # forward and loss over all N points
        loss.backward()  # backward: dL/dw and dL/db into params.grad
        optimizer.step()  # step: (w, b) <- (w, b) - lr * gradient
        path.append(params.detach().clone())
    return torch.stack(path).cpu().double()


def floor_crossings(path: torch.Tensor, best: torch.Tensor, steepest: torch.Tensor) -> int:
    """How many steps jumped from one wall of the valley to the other."""
    across = (path - best) @ steepest  # signed position across the valley, one per step
    return int((across[1:] * across[:-1] < 0).sum())


def steps_to_arrive(x: torch.Tensor, y: torch.Tensor, lr: float, best: torch.Tensor) -> int:
    """Steps until the walk is within ARRIVED of the minimum (or -1 after 1,000)."""
    path = descend(x, y, lr, 1000)
    near = ((path - best).norm(dim=1) < ARRIVED).nonzero()
    return int(near[0]) if len(near) else -1


def walk_the_landscape(name: str, x: torch.Tensor, y: torch.Tensor) -> None:
    """Print the curvature of one landscape and where each learning rate's walk ends."""
    eigenvalues, eigenvectors = curvature(x)
    lambda_min, lambda_max = eigenvalues.tolist()
    limit = 2 / lambda_max
    best = least_squares(x, y)
    grid_w, grid_b, grid_loss = lowest_grid_point(x, y)
    print(f"\n{name}")
    print(f"  lowest grid point w={grid_w:.2f}, b={grid_b:.2f} (loss {grid_loss:.4f})")
    print(f"  exact minimum     w={best[0]:.3f}, b={best[1]:.3f}")
    print(
        f"  curvatures {lambda_min:.4f} and {lambda_max:.4f}: "
        f"{lambda_max / lambda_min:.0f}x steeper across the valley than along it"
    )
    start_distance = (torch.tensor(START, dtype=torch.float64) - best).norm()
    print(
        f"  limit 2/lambda_max = {limit:.4f}; start (w, b) = {START}, "
        f"{start_distance:.3g} from the minimum"
    )
    for factor in FACTORS:
        lr = factor * limit
        path = descend(x, y, lr, STEPS)
        end = path[-1]
        crossings = floor_crossings(path, best, eigenvectors[:, -1])
        print(
            f"  lr {factor} x limit = {lr:.4f}: after {STEPS} steps w={end[0]:.4g}, "
            f"b={end[1]:.4g}, distance to minimum {(end - best).norm():.3g}, "
            f"crossed the floor {crossings} times"
        )
    # Along the floor each step keeps the fraction 1 - lr * lambda_min of the distance.
    lr = FACTORS[1] * limit
    print(
        f"  at {FACTORS[1]} x limit each step keeps {1 - lr * lambda_min:.4f} of the distance "
        f"along the floor; {steps_to_arrive(x, y, lr, best)} steps to get within {ARRIVED}"
    )


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    x, y = make_points(device)
    print(f"device: {device.type}; {N} points near y = 2x - 1")
    walk_the_landscape("x between 1 and 3: a long, narrow valley", x, y)
    walk_the_landscape("the same x, centred on 0: a round bowl", x - x.mean(), y)


if __name__ == "__main__":
    main()
