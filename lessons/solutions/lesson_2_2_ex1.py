"""Lesson 2.2, exercise 1: the worked example with a ReLU instead of a sigmoid.

Same numbers as the lesson: x = (0.5, -1), W1 = [[0.4, -0.6], [0.3, 0.8]], b1 = (0.1, -0.2),
w2 = (0.9, -0.5), b2 = 0.3, target y = 1. Only the activation changes: h = relu(z). Work out
every gradient by hand with the chain rule (relu'(z) is 1 where z > 0 and 0 where z < 0),
then check each one against what loss.backward() fills in, and see what the switched-off
hidden unit does to the gradients of its weights.
"""

from __future__ import annotations

import torch

Tensors = dict[str, torch.Tensor]


def parameters() -> Tensors:
    """The worked example's weights as leaf tensors that ask for gradients (float64)."""
    values = {
        "W1": [[0.4, -0.6], [0.3, 0.8]],
        "b1": [0.1, -0.2],
        "w2": [0.9, -0.5],
        "b2": 0.3,
    }
    return {
        name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
        for name, value in values.items()
    }


def forward(params: Tensors, x: torch.Tensor, y: torch.Tensor) -> Tensors:
    """Every node of the forward pass, the loss last."""
    z = params["W1"] @ x + params["b1"]
    h = torch.relu(z)
    y_hat = params["w2"] @ h + params["b2"]
    loss = (y_hat - y) ** 2
    return {"z": z, "h": h, "y_hat": y_hat, "loss": loss}


def by_hand(params: Tensors, x: torch.Tensor, y: torch.Tensor, nodes: Tensors) -> Tensors:
    """The chain rule from the loss back to W1, with relu'(z) = 1 if z > 0 else 0."""
    with torch.no_grad():
        d_y_hat = 2 * (nodes["y_hat"] - y)
        d_h = d_y_hat * params["w2"]
        d_z = d_h * (nodes["z"] > 0).double()  # the ReLU passes a gradient or blocks it
        return {
            "y_hat": d_y_hat,
            "w2": d_y_hat * nodes["h"],
            "b2": d_y_hat,
            "h": d_h,
            "z": d_z,
            "W1": torch.outer(d_z, x),
            "b1": d_z,
        }


def show(tensor: torch.Tensor) -> str:
    """Entries rounded to 4 decimals (+ 0.0 turns a -0.0 into 0.0)."""
    return "[" + ", ".join(f"{v + 0.0:.4f}" for v in tensor.flatten().tolist()) + "]"


def main() -> None:
    x = torch.tensor([0.5, -1.0], dtype=torch.float64)
    y = torch.tensor(1.0, dtype=torch.float64)
    params = parameters()
    nodes = forward(params, x, y)
    for name in ("z", "h", "y_hat"):
        nodes[name].retain_grad()  # in-between nodes: keep their .grad too
    nodes["loss"].backward()
    print(f"z = {show(nodes['z'])}, h = {show(nodes['h'])}, loss = {nodes['loss']:.4f}")

    hand = by_hand(params, x, y, nodes)
    auto = {name: nodes[name].grad for name in ("y_hat", "h", "z")}
    auto |= {name: param.grad for name, param in params.items()}
    largest = 0.0
    for name, value in hand.items():
        print(f"dL/d{name:<5} by hand {show(value):<34} autograd {show(auto[name])}")
        largest = max(largest, (value - auto[name]).abs().max().item())
    print(f"largest difference: {largest:.1e}")

    assert largest < 1e-12
    # Hidden unit 2 has z < 0: the ReLU outputs 0 and passes no gradient back, so neither its
    # row of W1 and its bias (behind it) nor its output weight (in front of it) gets any.
    assert nodes["z"][1] < 0 and nodes["h"][1] == 0
    assert not params["W1"].grad[1].any() and params["b1"].grad[1] == 0
    assert params["w2"].grad[1] == 0
    print("every hand gradient matches autograd; the switched-off unit gets zero gradient")


if __name__ == "__main__":
    main()
