"""Lesson 2.2's worked example: the chain rule by hand on a two-layer net, node by node,
beside what `loss.backward()` fills in."""

from __future__ import annotations

import pandas as pd
import torch

# One example through 2 inputs -> 2 sigmoid hidden units -> 1 output, squared error:
# lesson 2.2's worked example (its program, lessons/programs/lesson_2_2.py, uses the same).
X = (0.5, -1.0)
W1 = ((0.4, -0.6), (0.3, 0.8))  # [hidden, input]
B1 = (0.1, -0.2)
W2 = (0.9, -0.5)
B2 = 0.3
Y = 1.0


def chain_rule_table() -> pd.DataFrame:
    """One row per number in the graph: node, forward value, gradient by hand, gradient
    from autograd, and their absolute difference."""
    x = torch.tensor(X, dtype=torch.float64)
    w1 = torch.tensor(W1, dtype=torch.float64, requires_grad=True)
    b1 = torch.tensor(B1, dtype=torch.float64, requires_grad=True)
    w2 = torch.tensor(W2, dtype=torch.float64, requires_grad=True)
    b2 = torch.tensor(B2, dtype=torch.float64, requires_grad=True)
    z1 = w1 @ x + b1  # forward, keeping every node
    h = torch.sigmoid(z1)
    y_hat = w2 @ h + b2
    loss = (y_hat - Y) ** 2
    for node in (z1, h, y_hat):
        node.retain_grad()  # keep the gradients of the nodes in between, too
    loss.backward()
    with torch.no_grad():  # backward by hand, from the loss down
        d_y_hat = 2 * (y_hat - Y)
        d_w2, d_b2 = d_y_hat * h, d_y_hat
        d_h = d_y_hat * w2
        d_z1 = d_h * h * (1 - h)  # sigmoid'(z) = s(z) (1 - s(z))
        d_w1, d_b1 = torch.outer(d_z1, x), d_z1
    nodes = [
        ("loss", loss, torch.ones(()), torch.ones(())),
        ("y_hat", y_hat, d_y_hat, y_hat.grad),
        ("w2", w2, d_w2, w2.grad),
        ("b2", b2, d_b2, b2.grad),
        ("h", h, d_h, h.grad),
        ("z1", z1, d_z1, z1.grad),
        ("W1", w1, d_w1, w1.grad),
        ("b1", b1, d_b1, b1.grad),
    ]
    rows = []
    for name, value, by_hand, autograd in nodes:
        assert autograd is not None
        for index, (v, g, a) in enumerate(
            zip(value.detach().flatten(), by_hand.flatten(), autograd.flatten(), strict=True)
        ):
            label = name if value.numel() == 1 else f"{name}[{_index(value, index)}]"
            rows.append((label, float(v), float(g), float(a), abs(float(g - a))))
    return pd.DataFrame(rows, columns=["node", "value", "by_hand", "autograd", "difference"])


def _index(tensor: torch.Tensor, flat: int) -> str:
    if tensor.dim() == 1:
        return str(flat)
    return f"{flat // tensor.shape[1]},{flat % tensor.shape[1]}"
