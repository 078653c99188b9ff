"""Lesson 3.1: SGD, momentum, Nesterov, RMSProp, Adam and AdamW, raced and taken apart.

Part 1 races the optimizers on three loss surfaces of two parameters (a round bowl, a narrow
ravine, a saddle between two valleys) and prints how many steps each needs to get within
0.001 of the lowest loss.
Part 2 trains the course's digits MLP (64 -> 128 -> 64 -> 10, batch 32, 3 epochs) from the
same initial weights with each optimizer, and once more with momentum 0.9 added to plain
SGD's learning rate.
Part 3 writes Adam's update by hand and measures its first step on the digits MLP with and
without bias correction, and the size of its steps on a steady gradient.
Part 4 trains with Adam(weight_decay) and AdamW(weight_decay) at the same value and
compares the weights: all of them, and the ones no data gradient ever reaches.

Run it with: python lesson_3_1.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
EPOCHS, BATCH_SIZE = 3, 32  # 45 batches per epoch: 135 steps per run
WEIGHT_DECAY = 0.1  # Part 4: the same number given to Adam and to AdamW
Params = Iterable[nn.Parameter]
MakeOptimizer = Callable[[Params], torch.optim.Optimizer]


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# --- Part 1: three surfaces of two parameters --------------------------------------------


def bowl(p: torch.Tensor) -> torch.Tensor:
    """Round: the same curvature (1) in every direction. Lowest loss 0 at (0, 0)."""
    return (p[0] ** 2 + p[1] ** 2) / 2


def ravine(p: torch.Tensor) -> torch.Tensor:
    """Long and narrow: curvature 1 along x, 50 across y. Lowest loss 0 at (0, 0)."""
    return p[0] ** 2 / 2 + 25 * p[1] ** 2


def saddle(p: torch.Tensor) -> torch.Tensor:
    """Flat ridge at (0, 0) between two valleys at y = +1 and y = -1 (lowest loss -0.25)."""
    return p[0] ** 2 / 2 + p[1] ** 4 / 4 - p[1] ** 2 / 2


SURFACES = {  # name -> (loss, start, lowest loss)
    "bowl": (bowl, (-2.0, 1.0), 0.0),
    "ravine": (ravine, (-2.0, 1.0), 0.0),
    "saddle": (saddle, (-2.0, 0.001), -0.25),  # starts almost exactly on the ridge
}
RACERS_2D: dict[str, MakeOptimizer] = {
    "SGD": lambda ps: torch.optim.SGD(ps, lr=0.03),  # the ravine allows lr < 2/50 = 0.04
    "momentum": lambda ps: torch.optim.SGD(ps, lr=0.003, momentum=0.9),  # 0.003/(1-0.9)=0.03
    "Nesterov": lambda ps: torch.optim.SGD(ps, lr=0.003, momentum=0.9, nesterov=True),
    "RMSProp": lambda ps: torch.optim.RMSprop(ps, lr=0.05),  # steps of about lr per weight
    "Adam": lambda ps: torch.optim.Adam(ps, lr=0.05),
}


def steps_to_reach(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    start: tuple[float, float],
    make: MakeOptimizer,
    target: float,
    max_steps: int,
) -> int | None:
    """How many optimizer steps from `start` bring the loss below `target` (None: not yet)."""
    p = torch.tensor(start, requires_grad=True)  # the two "weights" of this toy model
    optimizer = make([p])
    for step in range(max_steps + 1):
        optimizer.zero_grad()
        loss = loss_fn(p)  # the loss where p stands after `step` steps
        if loss.item() < target:
            return step
        loss.backward()
        optimizer.step()
    return None


def path_2d(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    start: tuple[float, float],
    make: MakeOptimizer,
    steps: int,
) -> torch.Tensor:
    """The points an optimizer visits from `start`, one row per step: [steps, 2]."""
    p = torch.tensor(start, requires_grad=True)
    optimizer = make([p])
    points = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(p).backward()
        optimizer.step()
        points.append(p.detach().clone())
    return torch.stack(points)


def race_2d(max_steps: int = 400) -> None:
    print(f"Part 1: steps to get within 0.001 of the lowest loss (at most {max_steps})")
    print(f"{'':8}" + "".join(f"{name:>10}" for name in RACERS_2D))
    for surface, (loss_fn, start, lowest) in SURFACES.items():
        row = f"{surface:8}"
        for make in RACERS_2D.values():
            steps = steps_to_reach(loss_fn, start, make, lowest + 1e-3, max_steps)
            row += f"{'not yet' if steps is None else steps:>10}"
        print(row)
    for name in ("SGD", "Adam"):  # the same start, 50 steps on the bowl and on the ravine
        on_bowl = path_2d(bowl, (-2.0, 1.0), RACERS_2D[name], 50)
        on_ravine = path_2d(ravine, (-2.0, 1.0), RACERS_2D[name], 50)
        apart = (on_bowl - on_ravine).abs().max().item()
        print(f"{name}: its paths on the bowl and on the ravine differ by up to {apart:.1e}")


# --- Part 2: the digits MLP -----------------------------------------------------------------


def load_splits(device: torch.device) -> tuple[torch.Tensor, ...]:
    """Digits split 80 % / 20 % by a seeded permutation, each pixel standardised with the
    training digits' mean and std (a pixel that is blank in every training digit stays 0)."""
    x_np, y_np = load_digits(return_X_y=True)
    x, y = torch.tensor(x_np, dtype=torch.float32), torch.tensor(y_np)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    n_train = int(0.8 * len(y))
    train_idx, val_idx = order[:n_train], order[n_train:]
    mean, std = x[train_idx].mean(dim=0), x[train_idx].std(dim=0)
    x = (x - mean) / torch.where(std > 0, std, torch.ones_like(std))
    return tuple(t.to(device) for t in (x[train_idx], y[train_idx], x[val_idx], y[val_idx]))


def make_mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def train(
    make: MakeOptimizer, start: dict[str, torch.Tensor], data: tuple[torch.Tensor, ...]
) -> tuple[nn.Sequential, list[float], float]:
    """Train a copy of the MLP from the `start` weights; the same batch order every run.
    Returns the model, the training loss after each epoch and the validation accuracy."""
    train_x, train_y, val_x, val_y = data
    model = make_mlp().to(train_x.device)
    model.load_state_dict(start)
    optimizer = make(model.parameters())
    shuffler = torch.Generator().manual_seed(SEED)
    losses = []
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(train_y), generator=shuffler).split(BATCH_SIZE):
            batch = batch.to(train_x.device)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            losses.append(nn.functional.cross_entropy(model(train_x), train_y).item())
    with torch.no_grad():
        val_acc = (model(val_x).argmax(dim=1) == val_y).float().mean().item()
    return model, losses, val_acc


DIGITS_RACERS: dict[str, MakeOptimizer] = {
    "SGD": lambda ps: torch.optim.SGD(ps, lr=0.3),  # a good lr for plain SGD on this MLP
    "momentum": lambda ps: torch.optim.SGD(ps, lr=0.03, momentum=0.9),  # SGD's lr / 10
    "Nesterov": lambda ps: torch.optim.SGD(ps, lr=0.03, momentum=0.9, nesterov=True),
    "RMSProp": lambda ps: torch.optim.RMSprop(ps, lr=1e-3),
    "Adam": lambda ps: torch.optim.Adam(ps, lr=1e-3),
    "AdamW": lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01),
    "mom@SGD lr": lambda ps: torch.optim.SGD(ps, lr=0.3, momentum=0.9),  # SGD's lr kept
}


Result = tuple[nn.Sequential, list[float], float]


def race_digits(start: dict[str, torch.Tensor], data: tuple[torch.Tensor, ...]) -> Result:
    """Part 2: every optimizer from the same start; returns Adam's run for Part 4."""
    print(f"\nPart 2: digits MLP, training loss after each epoch ({len(data[1])} digits)")
    results = {name: train(make, start, data) for name, make in DIGITS_RACERS.items()}
    print("epoch" + "".join(f"{name:>11}" for name in results))
    for epoch in range(EPOCHS):
        print(f"{epoch + 1:5d}" + "".join(f"{r[1][epoch]:11.3f}" for r in results.values()))
    print("val acc" + "".join(f"{r[2]:11.3f}" for r in results.values())[2:])
    return results["Adam"]


# --- Part 3: Adam by hand, with and without bias correction -----------------------------


def adam_update(
    grad: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    t: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    bias_correction: bool = True,
) -> torch.Tensor:
    """Step t of Adam (counting from 1) for one tensor: updates m and v in place and
    returns the change to add to the weights."""
    beta1, beta2 = betas
    m.mul_(beta1).add_((1 - beta1) * grad)  # running mean of the gradient
    v.mul_(beta2).add_((1 - beta2) * grad**2)  # running mean of its square
    m_hat, v_hat = m, v
    if bias_correction:  # m and v started at 0: scale them up while they are young
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return -lr * m_hat / (v_hat.sqrt() + eps)


def first_steps(start: dict[str, torch.Tensor], data: tuple[torch.Tensor, ...]) -> None:
    print("\nPart 3: Adam's first step on the digits MLP (lr 0.001), by hand and by torch")
    train_x, train_y = data[0], data[1]
    model = make_mlp().to(train_x.device)
    model.load_state_dict(start)
    nn.functional.cross_entropy(model(train_x[:BATCH_SIZE]), train_y[:BATCH_SIZE]).backward()
    params = list(model.parameters())
    grads = [p.grad.detach().clone() for p in params]
    for correct in (True, False):
        changes = [
            adam_update(g, torch.zeros_like(g), torch.zeros_like(g), 1, bias_correction=correct)
            for g in grads
        ]
        moved = torch.cat([c[g != 0].abs() for c, g in zip(changes, grads, strict=True)])
        label = "on " if correct else "off"
        mean = moved.mean().item() / 1e-3
        print(f"  bias correction {label}: weights with a gradient move {mean:.3f} x lr on average")
        if correct:  # torch.optim.Adam's first step from the same weights and gradients
            before = [p.detach().clone() for p in params]
            torch.optim.Adam(params, lr=1e-3).step()
            after = [p.detach() - b for p, b in zip(params, before, strict=True)]
            gap = max((a - c).abs().max().item() for a, c in zip(after, changes, strict=True))
            print(f"  torch.optim.Adam's first step differs from the hand-written one by {gap:.1e}")

    print("  on a steady gradient, each step as a multiple of lr:")
    grad = torch.ones(1, dtype=torch.float64)
    sizes: dict[bool, list[float]] = {True: [], False: []}
    for correct in (True, False):
        m, v = torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
        for t in range(1, 1001):
            step = adam_update(grad, m, v, t, bias_correction=correct, eps=0.0)
            sizes[correct].append(-step.item() / 1e-3)
    for t in (1, 10, 100, 1000):
        with_it, without = sizes[True][t - 1], sizes[False][t - 1]
        print(f"  step {t:4d}: with correction {with_it:.3f}, without {without:.3f}")
    peak = max(range(1000), key=lambda i: sizes[False][i])
    print(f"  without it the steps peak at step {peak + 1}: {sizes[False][peak]:.3f} x lr")


# --- Part 4: Adam(weight_decay) against AdamW(weight_decay) ---------------------------------


def weight_decay_compared(
    start: dict[str, torch.Tensor], data: tuple[torch.Tensor, ...], no_decay: Result
) -> None:
    blank = data[0].abs().amax(dim=0) == 0  # pixels that are 0 in every training digit
    steps = EPOCHS * len(data[1][::BATCH_SIZE])
    n_blank = int(blank.sum())
    print(f"\nPart 4: weight_decay = {WEIGHT_DECAY}, lr 0.001, {steps} steps")
    print(f"  {n_blank} pixels are blank in every training digit: their {n_blank * 128}")
    print("  first-layer weights never get a gradient from the data")
    first = start["0.weight"][:, blank].norm().item()
    print(f"  {'run':10} {'train loss':>10} {'val acc':>8} {'norm':>6} {'blank weights':>14}")
    print(f"  {'start':10} {'':>10} {'':>8} {norm(start.values()):6.2f} {first:14.4f}")
    runs = {
        "no decay": no_decay,  # Part 2's Adam run
        "Adam + L2": train(
            lambda ps: torch.optim.Adam(ps, lr=1e-3, weight_decay=WEIGHT_DECAY), start, data
        ),
        "AdamW": train(
            lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=WEIGHT_DECAY), start, data
        ),
    }
    for name, (model, losses, val_acc) in runs.items():
        blank_norm = model[0].weight.detach()[:, blank].norm().item()
        size = norm(model.parameters())
        print(f"  {name:10} {losses[-1]:10.3f} {val_acc:8.3f} {size:6.2f} {blank_norm:14.4f}")
    shrink = (1 - 1e-3 * WEIGHT_DECAY) ** steps
    print(f"  AdamW's rule for the blank weights: (1 - lr * wd)^{steps} = {shrink:.4f}, ", end="")
    print(f"so {first:.4f} -> {first * shrink:.4f}")


def norm(tensors: Iterable[torch.Tensor]) -> float:
    """The L2 norm of all these tensors laid end to end."""
    return torch.sqrt(sum(t.detach().pow(2).sum() for t in tensors)).item()


def main() -> None:
    torch.set_num_threads(1)  # tiny models: one thread is faster, and repeatable
    race_2d()  # two numbers per model: the CPU is the right place for these
    device = pick_device()
    print(f"\ndevice for the digits: {device.type}")
    data = load_splits(device)
    torch.manual_seed(SEED)
    start = {k: v.clone() for k, v in make_mlp().to(device).state_dict().items()}
    adam_run = race_digits(start, data)
    first_steps(start, data)
    weight_decay_compared(start, data, adam_run)


if __name__ == "__main__":
    main()
