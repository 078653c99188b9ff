"""Lesson 3.6, exercise 2: a NaN/Inf gradient check, and a step that refuses bad gradients.

Write has_nan_grad(model) -> bool: True when any parameter's .grad holds a NaN or an
infinity. Write grad_norm(model) -> float: the total gradient norm over all parameters.
Use them in a guarded training step that skips optimizer.step() when a gradient is not
finite. Check on a healthy batch (no NaN, finite norm, weights updated) and on a batch
with one NaN input value (NaN caught, step skipped, weights untouched).
"""

from __future__ import annotations

import torch
from torch import nn


def has_nan_grad(model: nn.Module) -> bool:
    """True when any parameter's gradient contains NaN or +/- infinity."""
    return any(p.grad is not None and not torch.isfinite(p.grad).all() for p in model.parameters())


def grad_norm(model: nn.Module) -> float:
    """The L2 norm of all gradients together, as if they were one long vector."""
    norms = [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]
    return torch.stack(norms).norm().item() if norms else 0.0


def guarded_step(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> tuple[float, bool]:
    """The four steps, but step() only runs on finite gradients. Returns (norm, stepped)."""
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    norm = grad_norm(model)
    if has_nan_grad(model):
        return norm, False  # skip: one bad step would turn every weight into NaN
    optimizer.step()
    return norm, True


def main() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.randn(16, 4), torch.randint(0, 3, (16,))

    before = [p.detach().clone() for p in model.parameters()]
    norm, stepped = guarded_step(model, inputs, targets, loss_fn, optimizer)
    print(
        f"healthy batch:  has_nan_grad={has_nan_grad(model)}, grad norm {norm:.4f}, "
        f"stepped={stepped}"
    )
    assert not has_nan_grad(model) and stepped and 0 < norm < float("inf")
    assert any(not torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))

    poisoned = inputs.clone()
    poisoned[3, 1] = float("nan")  # one bad value in the data is enough
    before = [p.detach().clone() for p in model.parameters()]
    norm, stepped = guarded_step(model, poisoned, targets, loss_fn, optimizer)
    print(
        f"poisoned batch: has_nan_grad={has_nan_grad(model)}, grad norm {norm}, stepped={stepped}"
    )
    assert has_nan_grad(model) and not stepped
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))
    assert all(torch.isfinite(p).all() for p in model.parameters())

    model.zero_grad(set_to_none=True)
    assert not has_nan_grad(model)  # no gradients at all is not a NaN gradient
    print(
        "has_nan_grad caught the NaN gradient; the step was skipped and the weights stayed finite"
    )


if __name__ == "__main__":
    main()
