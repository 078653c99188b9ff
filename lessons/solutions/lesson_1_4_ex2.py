"""Lesson 1.4, exercise 2: the step size limit on a one-dimensional valley.

Take the quadratic loss L(w) = (c / 2) w^2 with curvature c = 4, so its gradient is c w
and one gradient-descent step maps w to (1 - lr * c) w. Run 20 steps from w = 1 with
lr = 0.5/c, 1.5/c and 2.1/c, using autograd for the gradient. Check that the first glides
down, the second zig-zags (w flips sign every step) but still converges, and the third,
above 2/c, diverges.
"""

from __future__ import annotations

import torch

CURVATURE = 4.0
STEPS = 20


def path(lr: float) -> list[float]:
    """w after every step of gradient descent on L(w) = (c / 2) w^2, starting at 1."""
    w = torch.tensor(1.0, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    values = [w.item()]
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = 0.5 * CURVATURE * w**2
        loss.backward()
        optimizer.step()
        values.append(w.item())
    return values


def sign_flips(values: list[float]) -> int:
    """How many steps jumped to the other side of the minimum at w = 0."""
    return sum(1 for a, b in zip(values, values[1:], strict=False) if a * b < 0)


def main() -> None:
    limit = 2 / CURVATURE
    for factor in (0.5, 1.5, 2.1):
        lr = factor / CURVATURE
        values = path(lr)
        print(
            f"lr={lr:.3f} ({factor / 2:.2f} x the limit 2/c={limit}): "
            f"|w| 1 -> {abs(values[-1]):.3g}, sign flips {sign_flips(values)}"
        )
        # One step multiplies w by (1 - lr * c): check autograd + SGD did exactly that.
        assert abs(values[1] - (1 - lr * CURVATURE)) < 1e-6

    glide, zigzag, blowup = path(0.5 / CURVATURE), path(1.5 / CURVATURE), path(2.1 / CURVATURE)
    assert sign_flips(glide) == 0 and abs(glide[-1]) < 1e-5
    assert sign_flips(zigzag) == STEPS and abs(zigzag[-1]) < 1e-5
    assert abs(blowup[-1]) > 5  # |1 - 2.1| = 1.1 per step: 1.1^20 is about 6.7
    print("a step size above 2/curvature diverges; between 1/c and 2/c it zig-zags")


if __name__ == "__main__":
    main()
