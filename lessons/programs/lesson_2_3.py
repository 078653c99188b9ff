"""Lesson 2.3: a one-hidden-layer net trained twice, by hand and as an nn.Module.

The data are scikit-learn's 1,797 handwritten digits (8x8 pixels, 64 inputs), each pixel
standardised. The net is 64 -> 32 -> 10 with a ReLU in the middle. Part 1 trains it with
forward, loss, backward and update all written by hand (no autograd), and the same net as
an nn.Module with torch.optim.SGD, from the same starting weights on the same batches in
the same order. It prints both losses per epoch and their largest difference, in float32
and in float64. Part 2 keeps the hidden layers in nn.ModuleList and in a plain Python list
and prints what the optimizer is given in each case.

Run it with: python lesson_2_3.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import math

import torch
from sklearn.datasets import load_digits
from torch import Tensor, nn

SEED = 0
HIDDEN = 32
N_CLASSES = 10
LR = 0.1
BATCH_SIZE = 32
EPOCHS = 5
Params = dict[str, Tensor]  # the hand-written net's weights: w1, b1, w2, b2


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def digits(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """x of shape [1797, 64], each pixel standardised, and integer labels y of shape [1797]."""
    data = load_digits()  # ships inside scikit-learn: nothing is downloaded
    x = torch.tensor(data.data, dtype=torch.float64)
    mean, std = x.mean(dim=0), x.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))  # blank border pixels never vary
    x = (x - mean) / std
    return x.to(dtype).to(device), torch.tensor(data.target).to(device)  # cast on the CPU first


# --- the hand-written net: plain tensors, every gradient worked out on paper -------------


def forward(params: Params, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """z1 = x W1^T + b1, h = relu(z1), z2 = h W2^T + b2; returns (z1, h, z2) for backward."""
    z1 = x @ params["w1"].T + params["b1"]  # [B, 64] @ [64, 32] -> [B, 32]
    h = z1.clamp(min=0)  # ReLU: negative values become 0
    z2 = h @ params["w2"].T + params["b2"]  # [B, 32] @ [32, 10] -> [B, 10], the logits
    return z1, h, z2


def cross_entropy(z2: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """L = mean over the batch of logsumexp(z) - z[y]; returns (L, softmax probabilities)."""
    log_total = torch.logsumexp(z2, dim=1)  # log(sum_j e^z_j), safe from overflow
    rows = torch.arange(len(y), device=y.device)
    loss = (log_total - z2[rows, y]).mean()  # z2[rows, y]: each row's right-class logit
    probs = torch.exp(z2 - log_total.unsqueeze(1))  # softmax: each row sums to 1
    return loss, probs


def backward(params: Params, x: Tensor, y: Tensor, z1: Tensor, h: Tensor, probs: Tensor) -> Params:
    """Every gradient of the mean loss, from the chain rule: no autograd."""
    one_hot = torch.zeros_like(probs)  # Y: a 1 in the column of the right class
    one_hot[torch.arange(len(y), device=y.device), y] = 1.0
    dz2 = (probs - one_hot) / len(y)  # softmax + cross-entropy: (P - Y) / B
    dh = dz2 @ params["w2"]  # back through the output layer: [B, 10] @ [10, 32]
    dz1 = dh * (z1 > 0)  # back through ReLU: the gradient passes only where z1 > 0
    return {
        "w1": dz1.T @ x,  # [32, B] @ [B, 64]: the shape of w1
        "b1": dz1.sum(dim=0),
        "w2": dz2.T @ h,  # [10, B] @ [B, 32]: the shape of w2
        "b2": dz2.sum(dim=0),
    }


def train_by_hand(
    params: Params, x: Tensor, y: Tensor, epochs: list[list[Tensor]]
) -> tuple[list[float], Params]:
    """Plain SGD without autograd; returns (the loss of every step, the final weights)."""
    params = {name: p.clone() for name, p in params.items()}  # keep the caller's start
    losses = []
    for batches in epochs:
        for batch in batches:
            xb, yb = x[batch.to(x.device)], y[batch.to(y.device)]
            z1, h, z2 = forward(params, xb)  # 1. forward
            loss, probs = cross_entropy(z2, yb)  # 2. loss
            grads = backward(params, xb, yb, z1, h, probs)  # 3. backward, by hand
            for name in params:  # 4. update: theta <- theta - lr * dL/dtheta
                params[name] -= LR * grads[name]
            losses.append(loss.item())
    return losses, params


# --- the same net as an nn.Module, trained by autograd and torch.optim.SGD ---------------


class MLP(nn.Module):
    """Hidden layers of the given widths with ReLU after each, then an output layer."""

    def __init__(self, widths: tuple[int, ...], n_out: int, registered: bool = True) -> None:
        super().__init__()
        layers = [nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)]
        # nn.ModuleList tells the module "these layers are mine"; a plain list tells it nothing
        self.hidden = nn.ModuleList(layers) if registered else layers
        self.out = nn.Linear(widths[-1], n_out)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.out(x)  # logits: one raw score per class


def train_module(model: MLP, x: Tensor, y: Tensor, epochs: list[list[Tensor]]) -> list[float]:
    """The same training with autograd and torch.optim.SGD; returns every step's loss."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()  # raw logits and integer labels in, the mean loss out
    losses = []
    for batches in epochs:
        for batch in batches:
            xb, yb = x[batch.to(x.device)], y[batch.to(y.device)]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)  # 1. forward and 2. loss
            loss.backward()  # 3. backward: autograd fills every .grad
            optimizer.step()  # 4. step
            losses.append(loss.item())
    return losses


# --- part 1: the two nets from one start --------------------------------------------------


def copy_weights(model: MLP) -> Params:
    """The module's current weights as plain tensors, named as in the hand-written net."""
    layers = {"1": model.hidden[0], "2": model.out}
    return {
        f"{kind}{i}": getattr(layer, name).detach().clone()
        for i, layer in layers.items()
        for kind, name in (("w", "weight"), ("b", "bias"))
    }


def batch_orders(n: int, epochs: int = EPOCHS) -> list[list[Tensor]]:
    """Shuffled orders cut into batches, one per epoch: both nets get exactly these."""
    generator = torch.Generator().manual_seed(SEED)
    return [list(torch.randperm(n, generator=generator).split(BATCH_SIZE)) for _ in range(epochs)]


def compare(device: torch.device, dtype: torch.dtype) -> tuple[list[float], list[float], float]:
    """Train both nets from one start; returns (hand losses, module losses, max weight gap)."""
    x, y = digits(device, dtype)
    torch.manual_seed(SEED)
    model = MLP((x.shape[1], HIDDEN), N_CLASSES).to(device=device, dtype=dtype)
    start = copy_weights(model)  # the very same starting weights for the hand-written net
    epochs = batch_orders(len(x))
    hand_losses, hand_params = train_by_hand(start, x, y, epochs)
    module_losses = train_module(model, x, y, epochs)
    trained = copy_weights(model)
    gap = max((hand_params[k] - trained[k]).abs().max().item() for k in trained)
    return hand_losses, module_losses, gap


def epoch_means(losses: list[float]) -> list[float]:
    """The average of each epoch's step losses: one point per epoch on the loss curve."""
    per_epoch = len(losses) // EPOCHS
    return [sum(losses[i : i + per_epoch]) / per_epoch for i in range(0, len(losses), per_epoch)]


def print_comparison(device: torch.device) -> None:
    """Part 1: both nets' losses per epoch (float32) and their largest gaps (both dtypes)."""
    # Apple GPUs (mps) have no float64
    dtypes = (torch.float32,) if device.type == "mps" else (torch.float32, torch.float64)
    for dtype in dtypes:
        hand, module, weight_gap = compare(device, dtype)
        print(f"\n{dtype}:")
        if dtype == torch.float32:
            print(f"first step's loss: {hand[0]:.4f} (ln 10 = {math.log(10):.4f})")
            print("epoch   by hand      nn.Module   (average loss of the epoch's steps)")
            means = zip(epoch_means(hand), epoch_means(module), strict=True)
            for epoch, (a, b) in enumerate(means, 1):
                print(f"{epoch:5d}   {a:.7f}    {b:.7f}")
        loss_gap = max(abs(a - b) for a, b in zip(hand, module, strict=True))
        print(f"largest difference over all {len(hand)} steps: {loss_gap:.1e} in the loss,")
        print(f"  {weight_gap:.1e} in any weight at the end")


# --- part 2: what model.parameters() hands the optimizer ----------------------------------


def print_registration(device: torch.device) -> None:
    """Part 2: the weights the optimizer is given, ModuleList vs plain list; what moved."""
    print("\nweights the optimizer is given      ModuleList            plain list")
    for widths in ((64, HIDDEN), (64, 128, 64)):  # this lesson's net, the course's MLP
        # built on the device directly: .to(device) would leave a plain list's layers behind
        with device:
            models = [MLP(widths, N_CLASSES, registered=flag) for flag in (True, False)]
        seen = [list(model.parameters()) for model in models]
        cells = [
            f"{sum(p.numel() for p in params):>6,} in {len(params)} tensors" for params in seen
        ]
        shape = " -> ".join(str(width) for width in (*widths, N_CLASSES))
        print(f"{shape:<30}{cells[0]:>18}{cells[1]:>22}")

    # Train the plain-list net for one epoch: which weights did the optimizer move?
    torch.manual_seed(SEED)
    with device:
        model = MLP((64, HIDDEN), N_CLASSES, registered=False)
    hidden_before = model.hidden[0].weight.detach().clone()
    out_before = model.out.weight.detach().clone()
    x, y = digits(device, torch.float32)
    train_module(model, x, y, batch_orders(len(x), epochs=1))
    hidden_moved = (model.hidden[0].weight - hidden_before).abs().max().item()
    out_moved = (model.out.weight - out_before).abs().max().item()
    print("plain list, 1 epoch of SGD: the largest change of any weight is")
    print(f"  {hidden_moved:g} in the hidden layer, {out_moved:.4f} in the output layer")
    print(f"its state_dict (what a checkpoint saves): {list(model.state_dict())}")


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    print(f"device: {device.type}; 1797 digits, net 64 -> {HIDDEN} -> {N_CLASSES} (ReLU)")
    steps = math.ceil(1797 / BATCH_SIZE)
    print(f"plain SGD, lr={LR}, batch {BATCH_SIZE}: {steps} steps per epoch, {EPOCHS} epochs")
    print_comparison(device)
    print_registration(device)


if __name__ == "__main__":
    main()
