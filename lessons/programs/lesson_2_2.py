"""Lesson 2.2: the chain rule on a two-layer net, by hand and by loss.backward().

A tiny network with fixed numbers: 2 inputs, 2 sigmoid hidden units, 1 output, and the
squared error against one target. The program prints every forward value, works out every
node's gradient by hand with the chain rule, and prints each next to what autograd puts in
.grad (retain_grad() keeps the gradients of the in-between nodes). Then it prints the graph
that backward() walks, shows that a stray .detach() after the hidden layer leaves the first
layer's .grad at None, and counts what backward costs next to forward for an MLP the size
of the course's digits model.

Run it with: python lesson_2_2.py   (needs torch)
"""

from __future__ import annotations

import torch
from torch import nn

# The fixed numbers of the worked example (float64: exact enough to compare to the last digit)
X = [[0.5, -1.0]]  # one example with 2 features
Y = [[1.0]]  # its target
FC1_WEIGHT = [[0.4, -0.6], [0.3, 0.8]]  # W1: row j holds hidden unit j's two weights
FC1_BIAS = [0.1, -0.2]  # b1
OUT_WEIGHT = [[0.9, -0.5]]  # w2: one weight per hidden unit
OUT_BIAS = [0.3]  # b2
DIGITS_MLP = ((64, 128), (128, 64), (64, 10))  # the course's model: fc1, fc2, out
BATCH = 32

Nodes = dict[str, torch.Tensor]


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(device: torch.device) -> torch.device:
    """Where float64 work can run: Apple's mps has no float64, so it falls back to cpu."""
    return torch.device("cpu") if device.type == "mps" else device


class TinyNet(nn.Module):
    """x -> fc1 -> sigmoid -> out: 2 inputs, 2 hidden units, 1 output, all in float64."""

    def __init__(self, stray_detach: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, 2, dtype=torch.float64)
        self.act1 = nn.Sigmoid()
        self.out = nn.Linear(2, 1, dtype=torch.float64)
        self.stray_detach = stray_detach
        with torch.no_grad():  # the worked example's weights, not random ones
            self.fc1.weight.copy_(torch.tensor(FC1_WEIGHT, dtype=torch.float64))
            self.fc1.bias.copy_(torch.tensor(FC1_BIAS, dtype=torch.float64))
            self.out.weight.copy_(torch.tensor(OUT_WEIGHT, dtype=torch.float64))
            self.out.bias.copy_(torch.tensor(OUT_BIAS, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> Nodes:
        """Every node of the forward pass by name, so we can read each one's gradient."""
        z1 = self.fc1(x)  # z = W1 x + b1
        h1 = self.act1(z1)  # h = sigmoid(z)
        if self.stray_detach:
            h1 = h1.detach()  # BUG: cuts the graph here; nothing flows back into fc1
        y_hat = self.out(h1)  # y_hat = w2 . h + b2
        return {"z1": z1, "h1": h1, "y_hat": y_hat}


def forward_and_backward(
    model: TinyNet, x: torch.Tensor, y: torch.Tensor
) -> tuple[Nodes, torch.Tensor]:
    """Forward, loss, backward; the in-between nodes keep their .grad via retain_grad()."""
    nodes = model(x)
    for node in nodes.values():
        if node.requires_grad:  # a detached node has no gradient to keep
            node.retain_grad()
    loss = nn.functional.mse_loss(nodes["y_hat"], y)  # (y_hat - y)^2 for one example
    loss.retain_grad()
    loss.backward()
    return nodes, loss


def hand_gradients(model: TinyNet, x: torch.Tensor, y: torch.Tensor, nodes: Nodes) -> Nodes:
    """The chain rule, node by node from the loss back to the input side. No autograd."""
    with torch.no_grad():
        h, y_hat = nodes["h1"], nodes["y_hat"]
        d_loss = torch.ones_like(y_hat)  # dL/dL = 1: where every backward pass starts
        d_y_hat = d_loss * 2 * (y_hat - y)  # L = (y_hat - y)^2
        d_out_weight = d_y_hat.T @ h  # y_hat = w2 . h + b2, so dy_hat/dw2 = h
        d_out_bias = d_y_hat.sum(dim=0)  # dy_hat/db2 = 1
        d_h = d_y_hat @ model.out.weight  # dy_hat/dh = w2
        d_z = d_h * h * (1 - h)  # dh/dz = sigmoid'(z) = h (1 - h)
        d_fc1_weight = d_z.T @ x  # z = W1 x + b1, so dz_j/dW1[j, k] = x_k
        d_fc1_bias = d_z.sum(dim=0)  # dz/db1 = 1
    return {
        "loss": d_loss.reshape(()),
        "y_hat": d_y_hat,
        "out.weight": d_out_weight,
        "out.bias": d_out_bias,
        "h1": d_h,
        "z1": d_z,
        "fc1.weight": d_fc1_weight,
        "fc1.bias": d_fc1_bias,
    }


def autograd_gradients(model: TinyNet, nodes: Nodes, loss: torch.Tensor) -> Nodes:
    """What loss.backward() filled in, in the same order as the hand gradients."""
    return {
        "loss": loss.grad,
        "y_hat": nodes["y_hat"].grad,
        "out.weight": model.out.weight.grad,
        "out.bias": model.out.bias.grad,
        "h1": nodes["h1"].grad,
        "z1": nodes["z1"].grad,
        "fc1.weight": model.fc1.weight.grad,
        "fc1.bias": model.fc1.bias.grad,
    }


def numbers(tensor: torch.Tensor | None) -> str:
    """A tensor's entries in one line, rounded to 6 decimals; None stays None."""
    if tensor is None:
        return "None"
    return "[" + ", ".join(f"{v:.6f}" for v in tensor.flatten().tolist()) + "]"


def show_forward(nodes: Nodes, loss: torch.Tensor) -> None:
    print("forward:")
    for name in ("z1", "h1", "y_hat"):
        print(f"  {name:<6} = {numbers(nodes[name])}")
    print(f"  loss   = {loss.item():.6f}")


def compare(hand: Nodes, auto: Nodes) -> float:
    """Print the hand gradient beside autograd's for every node; return the largest gap."""
    print(f"backward:          {'by hand':<46} autograd")
    largest = 0.0
    for name, by_hand in hand.items():
        print(f"  dL/d {name:<11} {numbers(by_hand):<46} {numbers(auto[name])}")
        largest = max(largest, (by_hand - auto[name]).abs().max().item())
    return largest


def show_graph(fn: object, names: dict[int, str], depth: int = 0) -> None:
    """The graph backward() walks: each grad_fn and the ones it passes gradients on to."""
    if fn is None:  # an input that needs no gradient: the walk stops here
        print("  " * depth + "  (no gradient: stop)")
        return
    label = type(fn).__name__
    if label == "AccumulateGrad":  # a leaf: this is where .grad gets filled in
        label += f" -> {names[id(fn.variable)]}.grad"
    print("  " * depth + f"  {label}")
    for next_fn, _ in fn.next_functions:
        show_graph(next_fn, names, depth + 1)


def count_flops(stray_detach: bool) -> tuple[int, int]:
    """Multiply-add FLOPs of one forward and one backward of the digits MLP, layer by layer.

    Forward, each layer multiplies its [B, n_in] input by its weight: 2 B n_in n_out FLOPs.
    Backward, the same layer does up to two multiplies of that size: one for its weight's
    gradient, and one for its input's gradient, passed on to the layer below. The first
    layer's input is the data, which needs no gradient, so that multiply is skipped.
    """
    forward = backward = 0
    for number, (n_in, n_out) in enumerate(DIGITS_MLP):
        size = 2 * BATCH * n_in * n_out
        forward += size
        cut_below = stray_detach and number == 1  # fc2's input is the detached h1
        if not (stray_detach and number == 0):  # fc1 gets no gradient at all if detached
            backward += size  # dL/dW = delta^T @ inputs: the weight's gradient
        if number > 0 and not cut_below:
            backward += size  # dL/dinputs = delta @ W: the gradient for the layer below
    return forward, backward


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = check_device(pick_device())
    print(f"device: {device.type}")
    x = torch.tensor(X, dtype=torch.float64, device=device)
    y = torch.tensor(Y, dtype=torch.float64, device=device)

    model = TinyNet().to(device)
    nodes, loss = forward_and_backward(model, x, y)
    show_forward(nodes, loss)
    largest = compare(hand_gradients(model, x, y, nodes), autograd_gradients(model, nodes, loss))
    print(f"largest difference, hand vs autograd: {largest:.1e}")

    names = {id(p): name for name, p in model.named_parameters()}
    print("the graph from loss.grad_fn:")
    show_graph(loss.grad_fn, names)

    broken = TinyNet(stray_detach=True).to(device)
    nodes, loss = forward_and_backward(broken, x, y)
    print("with a stray .detach() after the hidden layer:")
    print(f"  h1.requires_grad = {nodes['h1'].requires_grad}, h1.grad_fn = {nodes['h1'].grad_fn}")
    for name, param in broken.named_parameters():
        print(f"  {name:<10} .grad = {numbers(param.grad)}")
    print("the graph from loss.grad_fn:")
    names = {id(p): name for name, p in broken.named_parameters()}
    show_graph(loss.grad_fn, names)

    print("cost of the digits MLP (64-128-64-10) on a batch of 32, in multiply FLOPs:")
    for label, stray_detach in (("healthy", False), ("stray detach", True)):
        forward, backward = count_flops(stray_detach)
        print(
            f"  {label:<12} forward {forward:,}  backward {backward:,}  "
            f"({backward / forward:.2f}x the forward)"
        )


if __name__ == "__main__":
    main()
