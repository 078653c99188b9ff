"""Lesson 2.7: Module 1's straight line against Module 2's MLP, on a curve.

600 points with x uniform in [-3, 3] and y = sin(2x) + 0.3x + noise of std 0.1 (variance
0.01), split 420 / 90 / 90 into train, validation and test, x standardised with the
training set's mean and std: the very points of the app's "wave" set. Linear regression is
solved in closed form (least squares); a 1-64-64-1 tanh MLP trains with the app's baseline
settings (Adam, lr 3e-3, batch 32, 60 epochs, mean squared error). The program prints both
validation MSEs next to the noise variance, and the floor that no straight line can get
below on this curve, however long it trains.

Run it with: python lesson_2_7.py   (needs torch)
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = 42  # the app's default seed: this program makes exactly the app's wave points
N, N_VAL, N_TEST = 600, 90, 90  # 15% validation, 15% test, the other 70% (420) train
N_TRAIN = N - N_VAL - N_TEST
NOISE_STD = 0.1
HIDDEN = 64
LR, BATCH_SIZE, EPOCHS = 3e-3, 32, 60
REPORT_EPOCHS = (1, 2, 5, 10, 20, 40, 60)


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def curve(x: torch.Tensor) -> torch.Tensor:
    """The smooth truth behind the data, f(x) = sin(2x) + 0.3x."""
    return torch.sin(2 * x) + 0.3 * x


def make_splits(device: torch.device) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"train" | "val" | "test": (x standardised [n, 1], y [n, 1])}, plus the raw x of val
    under "val_raw" so the noise in the validation targets can be measured.

    Made in the app's order (x, then the noise, from one generator; then a shuffled split
    from a second one), so these are the very points the app's wave demo trains on.
    """
    generator = torch.Generator().manual_seed(SEED)
    x = 6 * torch.rand(N, 1, generator=generator) - 3  # uniform in [-3, 3]
    y = curve(x) + NOISE_STD * torch.randn(N, 1, generator=generator)
    split_generator = torch.Generator().manual_seed(SEED)
    order = torch.randperm(N, generator=split_generator)
    train = order[N_VAL + N_TEST :]
    parts = {
        "train": train[torch.randperm(N_TRAIN, generator=split_generator)],  # mixed again
        "val": order[:N_VAL],
        "test": order[N_VAL : N_VAL + N_TEST],
    }
    mean, std = x[parts["train"]].mean(), x[parts["train"]].std()  # training set only
    splits = {name: ((x[i] - mean) / std, y[i]) for name, i in parts.items()}
    splits["val_raw"] = (x[parts["val"]], y[parts["val"]])
    return {name: (a.to(device), b.to(device)) for name, (a, b) in splits.items()}


def mse(prediction: torch.Tensor, target: torch.Tensor) -> float:
    return nn.functional.mse_loss(prediction, target).item()


def fit_line(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Module 1's model in closed form: the (w, b) with the lowest training MSE."""
    design = torch.cat([x, torch.ones_like(x)], dim=1).cpu().double()  # columns x and 1
    solution = torch.linalg.lstsq(design, y.cpu().double()).solution.flatten()
    return solution[0].item(), solution[1].item()


def line_floor(points: int = 200_001) -> tuple[float, float]:
    """(the curve's part no line reaches, the lowest MSE any line can have on new data).

    On a dense grid over [-3, 3] (x is uniform, so every grid point weighs the same) the
    best line leaves Var(f) - Cov(x, f)^2 / Var(x) of the curve unexplained; the noise
    adds its variance on top, whatever the model.
    """
    x = torch.linspace(-3, 3, points, dtype=torch.float64)
    f = curve(x)
    cov = ((x - x.mean()) * (f - f.mean())).mean()
    unexplained = (f.var(correction=0) - cov**2 / x.var(correction=0)).item()
    return unexplained, unexplained + NOISE_STD**2


def build_mlp(device: torch.device) -> nn.Module:
    torch.manual_seed(SEED)  # the same starting weights on every run
    return nn.Sequential(
        nn.Linear(1, HIDDEN),
        nn.Tanh(),  # the bend: without it the three layers multiply out to one line
        nn.Linear(HIDDEN, HIDDEN),
        nn.Tanh(),
        nn.Linear(HIDDEN, 1),
    ).to(device)


@torch.no_grad()  # measuring only: no graph to build
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return mse(model(x), y)


def train_mlp(
    model: nn.Module, splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
) -> list[tuple[int, float, float]]:
    """The Module 1 loop, unchanged, on the MLP; (epoch, train MSE, val MSE) per epoch."""
    generator = torch.Generator().manual_seed(SEED)  # the same shuffles on every run
    loader = DataLoader(
        TensorDataset(*splits["train"]), batch_size=BATCH_SIZE, shuffle=True, generator=generator
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    history = []
    for epoch in range(1, EPOCHS + 1):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad()  # clear the last batch's gradients
            outputs = model(inputs)  # 1. forward
            loss = nn.functional.mse_loss(outputs, targets)  # 2. loss
            loss.backward()  # 3. backward: the chain rule through both tanh layers
            optimizer.step()  # 4. step
        history.append((epoch, evaluate(model, *splits["train"]), evaluate(model, *splits["val"])))
    steps = EPOCHS * math.ceil(N_TRAIN / BATCH_SIZE)
    print(f"MLP: {EPOCHS} epochs x ceil({N_TRAIN}/{BATCH_SIZE}) = {steps} steps")
    return history


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    splits = make_splits(device)
    noise_var = NOISE_STD**2
    print(f"device: {device.type}; train {N_TRAIN}, val {N_VAL}, test {N_TEST}")
    raw_x, val_y = splits["val_raw"]
    true_val = mse(curve(raw_x), val_y)  # the noise alone: the best any model can hope for
    print(f"noise variance {noise_var:.4f}; the true curve itself scores val MSE {true_val:.4f}")

    w, b = fit_line(*splits["train"])
    line = {name: mse(w * splits[name][0] + b, splits[name][1]) for name in ("train", "val")}
    print(f"line: y = {w:.4f} x {b:+.4f} (2 parameters)")
    print(f"line: train MSE {line['train']:.4f}, val MSE {line['val']:.4f}", end=" ")
    print(f"= {line['val'] / noise_var:.0f} x the noise variance")
    unexplained, floor = line_floor()
    print(f"floor of every line on this curve: {floor:.4f}", end=" ")
    print(f"= {noise_var:.4f} noise + {unexplained:.4f} of the curve no line can follow")

    model = build_mlp(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"MLP 1-{HIDDEN}-{HIDDEN}-1 with tanh: {n_params} parameters")
    history = train_mlp(model, splits)
    print("epoch  train MSE  val MSE")
    for epoch, train_mse, val_mse in history:
        if epoch in REPORT_EPOCHS:
            print(f"{epoch:5d}  {train_mse:9.4f}  {val_mse:7.4f}")
    val_mse = history[-1][2]
    print(f"MLP val MSE {val_mse:.4f} = {val_mse / noise_var:.2f} x the noise variance", end=" ")
    print(f"(the line's: {line['val']:.4f}, {line['val'] / val_mse:.1f} x higher)")

    # The test set is touched once, at the very end, after every choice was made on val.
    x_test, y_test = splits["test"]
    line_test, mlp_test = mse(w * x_test + b, y_test), evaluate(model, x_test, y_test)
    print(f"test MSE: line {line_test:.4f}, MLP {mlp_test:.4f}")


if __name__ == "__main__":
    main()
