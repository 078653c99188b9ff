"""Lesson 2.1: a straight line against a spiral, and why stacked linear layers stay a line.

Part 1 makes three spiral arms (one full turn each) and trains three models on them with
the same loop: logistic regression (a single nn.Linear), an MLP with two hidden layers of
64 ReLU units, and the same MLP with every activation replaced by nn.Identity. It prints
each model's accuracy and a text map of the class each one predicts over the plane.
Part 2 multiplies the identity MLP's weight matrices into one 3x2 matrix and checks that
this single linear layer gives the same outputs as the whole network.

Run it with: python lesson_2_1.py   (needs torch)
"""

from __future__ import annotations

import math

import torch
from torch import nn

SEED = 0
ARMS, PER_ARM = 3, 200  # 600 points, three classes
TURNS, ANGLE_NOISE = 1.0, 0.2  # each arm winds once around the centre
TEST_SIZE = 120
HIDDEN = (64, 64)
EPOCHS, LR = 200, 0.01  # full batch: one step per epoch keeps the program fast
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "identity": nn.Identity}
MAP_ROWS, MAP_COLS, MAP_EDGE = 15, 27, 1.1  # the text map covers [-1.1, 1.1] squared
MAP_SYMBOLS = ".o#"  # one symbol per class


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_spirals(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Points [ARMS * PER_ARM, 2] on ARMS interleaved spiral arms, and each point's arm."""
    t = torch.linspace(0.0, 1.0, PER_ARM).repeat(ARMS)  # how far along its arm, 0 to 1
    arm = torch.arange(ARMS).repeat_interleave(PER_ARM)  # the class label: 0, 1 or 2
    angle = arm * (2 * math.pi / ARMS) + t * (2 * math.pi * TURNS)
    angle = angle + ANGLE_NOISE * torch.randn(ARMS * PER_ARM, generator=generator)
    radius = 0.1 + 0.9 * t  # the arm starts near the centre and ends on the unit circle
    points = radius.unsqueeze(1) * torch.stack([angle.cos(), angle.sin()], dim=1)
    return points, arm


def build_model(hidden: tuple[int, ...], activation: str = "relu") -> nn.Sequential:
    """Linear layers of the given hidden widths, each followed by the activation.

    hidden=() is logistic regression: one nn.Linear from 2 inputs to ARMS logits.
    Seeding here gives every model with the same shape the same starting weights.
    """
    torch.manual_seed(SEED)
    layers: list[nn.Module] = []
    width = 2
    for size in hidden:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        width = size
    layers.append(nn.Linear(width, ARMS))
    return nn.Sequential(*layers)


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> nn.Module:
    """EPOCHS full-batch steps of Adam on the cross-entropy: forward, loss, backward, step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)  # forward and loss: raw logits in, class indices in
        loss.backward()
        optimizer.step()
    return model


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(cross-entropy loss, accuracy): accuracy counts points whose largest logit is theirs."""
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    return loss, (logits.argmax(dim=1) == y).float().mean().item()


@torch.no_grad()
def decision_map(model: nn.Module, device: torch.device) -> list[str]:
    """The predicted class at each point of a grid, as rows of text (top row: y = +1.1)."""
    xs = torch.linspace(-MAP_EDGE, MAP_EDGE, MAP_COLS, device=device)
    ys = torch.linspace(MAP_EDGE, -MAP_EDGE, MAP_ROWS, device=device)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)  # (x, y) pairs
    classes = model(grid.reshape(-1, 2)).argmax(dim=1).reshape(MAP_ROWS, MAP_COLS)
    return ["".join(MAP_SYMBOLS[c] for c in row) for row in classes.tolist()]


def collapse(model: nn.Sequential) -> nn.Linear:
    """One nn.Linear equal to a stack of linear layers with nothing (or nn.Identity) between.

    Each layer maps v to W v + b, so the stack maps x to (W3 W2 W1) x + (W3 W2 b1 + W3 b2 + b3).
    """
    linears = [layer for layer in model if isinstance(layer, nn.Linear)]
    first = linears[0]
    weight, bias = first.weight.detach(), first.bias.detach()
    for layer in linears[1:]:
        weight = layer.weight.detach() @ weight  # the new layer acts after the old product
        bias = layer.weight.detach() @ bias + layer.bias.detach()
    single = nn.Linear(
        first.in_features, linears[-1].out_features, device=weight.device, dtype=weight.dtype
    )
    with torch.no_grad():
        single.weight.copy_(weight)
        single.bias.copy_(bias)
    return single


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    torch.set_num_threads(1)  # tiny work: one thread is faster and gives repeatable numbers
    device = pick_device()
    generator = torch.Generator().manual_seed(SEED)
    points, labels = make_spirals(generator)
    order = torch.randperm(len(points), generator=generator)
    test, train_rows = order[:TEST_SIZE], order[TEST_SIZE:]
    x_train, y_train = points[train_rows].to(device), labels[train_rows].to(device)
    x_test, y_test = points[test].to(device), labels[test].to(device)
    print(f"device: {device.type}; {ARMS} spiral arms x {PER_ARM} points, {TURNS:g} turn each")
    print(f"{len(x_train)} points to train on, {len(x_test)} to test; {EPOCHS} full-batch epochs")

    models = {
        "linear (logistic regression)": build_model(()),
        "MLP 64-64, ReLU": build_model(HIDDEN, "relu"),
        "MLP 64-64, identity": build_model(HIDDEN, "identity"),
    }
    header = f"{'model':<30}{'parameters':>10}{'train loss':>12}{'train acc':>11}{'test acc':>10}"
    print(f"\n{header}")
    for name, model in models.items():
        train(model.to(device), x_train, y_train)
        loss, train_acc = evaluate(model, x_train, y_train)
        _, test_acc = evaluate(model, x_test, y_test)
        print(
            f"{name:<30}{count_parameters(model):>10,}"
            f"{loss:>12.4f}{train_acc:>11.1%}{test_acc:>10.1%}"
        )
    print(f"(even odds on {ARMS} classes: loss ln {ARMS} = {math.log(ARMS):.4f}, "
          f"accuracy {1 / ARMS:.1%})")  # fmt: skip

    print("\npredicted class over the square [-1.1, 1.1]^2 (. o # = arm 0, 1, 2):")
    maps = [decision_map(model, device) for model in models.values()]
    titles = "   ".join(f"{title:<{MAP_COLS}}" for title in ("linear", "ReLU", "identity"))
    print(titles.rstrip())
    for rows in zip(*maps, strict=True):
        print("   ".join(rows))

    deep_linear = models["MLP 64-64, identity"]
    single = collapse(deep_linear)
    with torch.no_grad():
        gap = (deep_linear(points.to(device)) - single(points.to(device))).abs().max().item()
    shapes = " @ ".join(str(tuple(m.weight.shape)) for m in reversed(deep_linear[::2]))
    print(f"\nidentity MLP as one layer: W = {shapes} -> {tuple(single.weight.shape)}")
    print(f"parameters: {count_parameters(deep_linear):,} in the MLP, "
          f"{count_parameters(single)} in the single layer")  # fmt: skip
    print(f"largest difference between their outputs on all {len(points)} points: {gap:.1e}")


if __name__ == "__main__":
    main()
