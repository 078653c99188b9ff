"""Lesson 3.4: gradients in a 20-layer MLP, layer by layer, and four ways to build it.

Part 1 builds five MLPs of 20 linear layers (width 64) on the digits: plain with sigmoid,
plain with ReLU, ReLU with residual (skip) connections, ReLU with layer norm and ReLU with
batch norm. It prints each one's per-layer gradient norms at initialisation, trains each
for a few epochs with the same SGD settings, and prints the first- and last-layer gradient
norms before and after training, and the validation accuracy.
Part 2 makes a plain ReLU net whose weights are too large, so its gradient explodes, and
shows clip_grad_norm_ rescaling that gradient to norm 1 without turning it; then takes
a few SGD steps on that net, with and without clipping.

Run it with: python lesson_3_4.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import copy

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

SEED = 0
DEPTH, WIDTH = 20, 64  # 20 linear layers: 64 -> 64, eighteen of 64 -> 64, then 64 -> 10
N_TRAIN = 1297  # the other 500 digits are for validation
LR, MOMENTUM, BATCH_SIZE, EPOCHS = 0.003, 0.9, 64, 3
KINDS = ("plain sigmoid", "plain relu", "residual relu", "layer norm relu", "batch norm relu")
SHOWN = (1, 5, 10, 15, 20)  # the layers whose gradient norms are printed
KAIMING_STD = (2 / WIDTH) ** 0.5  # 0.177: keeps a ReLU layer's signal the same size
BIG_STD = 0.25  # about 1.41 times that: every layer multiplies by about 1.41
MAX_NORM = 1.0  # c in g <- g * min(1, c / ||g||)
STEPS = 5  # SGD steps on the exploding net, with and without clipping


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class DeepMLP(nn.Module):
    """DEPTH linear layers; `kind` says what sits between them."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.act = nn.Sigmoid() if kind == "plain sigmoid" else nn.ReLU()
        self.first = nn.Linear(64, WIDTH)
        self.middle = nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(DEPTH - 2))
        self.norms = nn.ModuleList(make_norm(kind) for _ in range(DEPTH - 2))
        self.last = nn.Linear(WIDTH, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.first(x))
        for linear, norm in zip(self.middle, self.norms, strict=True):
            if self.kind == "residual relu":
                h = h + linear(self.act(h))  # x + f(x): the skip path adds h back
            else:
                h = self.act(norm(linear(h)))  # norm is nn.Identity() in the plain nets
        return self.last(h)

    def linears(self) -> list[nn.Linear]:
        """The 20 linear layers, first to last."""
        return [self.first, *self.middle, self.last]


def make_norm(kind: str) -> nn.Module:
    if kind == "layer norm relu":
        return nn.LayerNorm(WIDTH)
    if kind == "batch norm relu":
        return nn.BatchNorm1d(WIDTH)
    return nn.Identity()


def load_split(device: torch.device) -> tuple[torch.Tensor, ...]:
    """Digits standardised with the training split's statistics: train_x, train_y, val_x, val_y."""
    digits = load_digits()  # bundled with scikit-learn: no download
    x = torch.tensor(digits.data, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    train, val = order[:N_TRAIN], order[N_TRAIN:]
    mean, std = x[train].mean(dim=0), x[train].std(dim=0)
    x = (x - mean) / torch.where(std > 1e-6, std, torch.ones_like(std))  # blank pixels stay 0
    return tuple(t.to(device) for t in (x[train], y[train], x[val], y[val]))


def layer_grad_norms(model: DeepMLP, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """||dL/dW|| for each linear layer's weight, on one batch. Measured on a copy, so that
    batch norm's running averages are not touched by the measuring."""
    probe = copy.deepcopy(model)
    probe.zero_grad()
    F.cross_entropy(probe(x), y).backward()
    return [layer.weight.grad.norm().item() for layer in probe.linears()]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()  # batch norm uses its running averages
    correct = (model(x).argmax(dim=1) == y).float().mean().item()
    model.train()
    return correct


def train(model: nn.Module, train_x: torch.Tensor, train_y: torch.Tensor) -> float:
    """EPOCHS of mini-batch SGD with momentum; returns the last epoch's mean training loss."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    generator = torch.Generator().manual_seed(SEED)  # the same batches for every model
    for _ in range(EPOCHS):
        losses = []
        for batch in torch.randperm(len(train_y), generator=generator).split(BATCH_SIZE):
            batch = batch.to(train_x.device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(train_x[batch]), train_y[batch])  # forward, loss
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return sum(losses) / len(losses)


def compare_depths(data: tuple[torch.Tensor, ...], device: torch.device) -> None:
    """Part 1: per-layer gradient norms, then training, for every kind of net."""
    train_x, train_y, val_x, val_y = data
    results = []
    print(f"gradient norm of each layer's weights at initialisation ({DEPTH} layers):")
    print(f"{'model':<16}" + "".join(f"{'layer ' + str(n):>10}" for n in SHOWN))
    for kind in KINDS:
        torch.manual_seed(SEED)  # the same weights in every net's linear layers
        model = DeepMLP(kind).to(device)
        before = layer_grad_norms(model, train_x, train_y)
        print(f"{kind:<16}" + "".join(f"{before[n - 1]:10.1e}" for n in SHOWN))
        loss = train(model, train_x, train_y)
        after = layer_grad_norms(model, train_x, train_y)
        results.append((kind, before, after, loss, accuracy(model, val_x, val_y)))

    steps = EPOCHS * -(-len(train_y) // BATCH_SIZE)
    print(f"\nafter {EPOCHS} epochs ({steps} steps) of SGD, lr {LR}, momentum {MOMENTUM}:")
    print(f"{'model':<16} {'first layer':>19} {'last layer':>19} {'loss':>6} {'val acc':>7}")
    for kind, before, after, loss, val_acc in results:
        first, last = f"{before[0]:.1e} -> {after[0]:.1e}", f"{before[-1]:.1e} -> {after[-1]:.1e}"
        print(f"{kind:<16} {first:>19} {last:>19} {loss:6.3f} {val_acc:7.3f}")


def total_grad_norm(model: nn.Module) -> float:
    """||g||: every parameter's gradient laid end to end as one vector."""
    return torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item()


def show_clipping(data: tuple[torch.Tensor, ...], device: torch.device) -> None:
    """Part 2: weights slightly too large make the gradient explode; clipping rescales it."""
    train_x, train_y = data[0], data[1]
    print()
    for std in (KAIMING_STD, BIG_STD):
        torch.manual_seed(SEED)
        model = DeepMLP("plain relu").to(device)
        for layer in model.linears():
            nn.init.normal_(layer.weight, std=std)
        model.zero_grad()
        loss = F.cross_entropy(model(train_x), train_y)
        loss.backward()
        print(f"plain relu, weights with std {std:.3f}: loss {loss.item():8.3f}, ", end="")
        print(f"gradient norm {total_grad_norm(model):9.2f}")

    before = [p.grad.clone() for p in model.parameters()]  # the std 0.25 net's gradient
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=MAX_NORM)  # after backward()
    after = [p.grad for p in model.parameters()]  # ... and before optimizer.step()
    print(
        f"clip_grad_norm_(max_norm={MAX_NORM}) returns {total.item():.2f}, the norm before; ",
        end="",
    )
    print(f"after it: {total_grad_norm(model):.4f}")
    shrink = [(g.norm() / g0.norm()).item() for g, g0 in zip(after, before, strict=True)]
    print(f"  every gradient tensor times {min(shrink):.4e} to {max(shrink):.4e}; ", end="")
    print(f"c / ||g|| = {MAX_NORM / total.item():.4e}")
    turn = F.cosine_similarity(
        torch.cat([g.flatten() for g in before]), torch.cat([g.flatten() for g in after]), dim=0
    )
    print(f"  the direction is kept: cosine similarity {turn.item():.4f}")


def first_steps(data: tuple[torch.Tensor, ...], device: torch.device, clip: bool) -> list[float]:
    """The losses of STEPS SGD steps on the exploding net, with or without clipping."""
    train_x, train_y = data[0], data[1]
    torch.manual_seed(SEED)
    model = DeepMLP("plain relu").to(device)
    for layer in model.linears():
        nn.init.normal_(layer.weight, std=BIG_STD)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    losses = []
    for batch in torch.arange(STEPS * BATCH_SIZE).split(BATCH_SIZE):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(train_x[batch]), train_y[batch])
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=MAX_NORM)
        optimizer.step()
        losses.append(loss.item())
    return losses


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    print(f"device: {device.type}")
    data = load_split(device)
    print(f"{len(data[1])} training digits, {len(data[3])} validation digits\n")
    compare_depths(data, device)
    show_clipping(data, device)
    print(f"\nthe std {BIG_STD} net, {STEPS} steps of the same SGD; loss at each step:")
    for clip in (False, True):
        losses = " ".join(f"{loss:.4g}" for loss in first_steps(data, device, clip))
        print(f"  {'with clipping' if clip else 'no clipping':<14} {losses}")


if __name__ == "__main__":
    main()
