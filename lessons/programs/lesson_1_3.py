"""Lesson 1.3: batch vs stochastic vs mini-batch gradient descent, measured.

Part 1 holds the weights still and measures how far a mini-batch gradient lands from the
full-data gradient, for batch sizes from 1 to all N examples, next to the formula
sigma^2 / B * (N - B) / (N - 1) for batches drawn without replacement.
Part 2 trains the same line for 3 epochs with a full batch, single examples and
mini-batches of 32, and prints how many updates each made and how far each got.

Run it with: python lesson_1_3.py   (needs torch)
"""

from __future__ import annotations

import math

import torch

SEED = 0
N = 512
TRUE_W, TRUE_B, NOISE_STD = 3.0, 2.0, 0.5  # the line behind the data, and its scatter
BATCH_SIZES = (1, 4, 16, 64, 256, N)  # each divides N: equal batches
SHUFFLES = 500  # shuffled epochs per batch size: enough to average out the luck of the draw
EPOCHS = 3
LR = 0.05


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_line(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """x of shape [N, 1] and y of shape [N]: points scattered around y = 3x + 2."""
    generator = torch.Generator().manual_seed(SEED)
    x = torch.randn(N, generator=generator)
    y = TRUE_W * x + TRUE_B + NOISE_STD * torch.randn(N, generator=generator)
    return x.unsqueeze(1).to(device), y.to(device)


def full_gradient(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """What loss.backward() gives for the mean loss over all N examples: (dL/dw, dL/db)."""
    w = w.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    return torch.cat([w.grad, b.grad.reshape(1)])


def example_gradients(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """One row per example: the gradient of its own loss, 2 r_i (x_i, 1), from lesson 1.2."""
    residual = (x @ w + b - y).unsqueeze(1)  # r_i, shape [N, 1]
    return 2 * residual * torch.cat([x, torch.ones_like(x)], dim=1)  # shape [N, 2]


def batch_misses(grads: torch.Tensor, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """|g_B - full gradient|^2 for every batch of SHUFFLES shuffled epochs, as a flat list."""
    # Exactly what a shuffled epoch does: a random order (from sorting random numbers),
    # cut into N / B batches of B different examples each. No example is drawn twice.
    order = torch.rand(SHUFFLES, N, generator=generator).argsort(dim=1).to(grads.device)
    batches = grads[order].reshape(SHUFFLES, N // batch_size, batch_size, 2)
    g_batch = batches.mean(dim=2)  # the mean over each batch: g_B, [SHUFFLES, N / B, 2]
    return (g_batch - grads.mean(dim=0)).pow(2).sum(dim=-1).flatten()


def measure_noise(x: torch.Tensor, y: torch.Tensor) -> None:
    """Part 1: the miss of a mini-batch gradient against the formula, at fixed weights."""
    w = torch.zeros(1, device=x.device)  # weights held still at the usual start
    b = torch.zeros((), device=x.device)
    grads = example_gradients(x, y, w, b)
    full = full_gradient(x, y, w, b)
    assert torch.allclose(grads.mean(dim=0), full, atol=1e-4)  # the mean of rows IS it
    sigma2 = (grads - full).pow(2).sum(dim=1).mean().item()  # spread of single examples
    print(f"full gradient (dL/dw, dL/db) = {[round(v, 4) for v in full.tolist()]}")
    print(f"sigma^2 = {sigma2:.2f}")
    print("    B   mean squared miss   sigma^2/B*(N-B)/(N-1)   sigma^2/B   typical miss")
    generator = torch.Generator().manual_seed(SEED)
    for batch_size in BATCH_SIZES:
        measured = batch_misses(grads, batch_size, generator).mean().item()
        predicted = sigma2 / batch_size * (N - batch_size) / (N - 1)
        print(
            f"{batch_size:5d}   {measured:17.4f}   {predicted:21.4f}   "
            f"{sigma2 / batch_size:9.4f}   {math.sqrt(measured):12.4f}"
        )


def train(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[int, list[float]]:
    """Part 2: EPOCHS of SGD with this batch size; (updates, full-data loss after each epoch)."""
    w = torch.zeros(1, device=x.device, requires_grad=True)
    b = torch.zeros((), device=x.device, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=LR)
    generator = torch.Generator().manual_seed(SEED)  # every run sees the same orders
    updates, losses = 0, []
    for _ in range(EPOCHS):
        order = torch.randperm(N, generator=generator).to(x.device)  # a fresh order each epoch
        for batch in order.split(batch_size):  # ceil(N / B) batches, the last maybe smaller
            optimizer.zero_grad()
            loss = ((x[batch] @ w + b - y[batch]) ** 2).mean()  # forward and loss
            loss.backward()  # backward: g_B into w.grad and b.grad
            optimizer.step()  # step
            updates += 1
        with torch.no_grad():
            losses.append(((x @ w + b - y) ** 2).mean().item())
    return updates, losses


def lowest_loss(x: torch.Tensor, y: torch.Tensor) -> float:
    """The loss of the best line (least squares): the floor every run is heading for."""
    design = torch.cat([x, torch.ones_like(x)], dim=1).cpu()  # columns: x and a constant 1
    solution = torch.linalg.lstsq(design, y.cpu().unsqueeze(1)).solution.flatten()
    return ((design @ solution - y.cpu()) ** 2).mean().item()


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    x, y = make_line(device)
    print(f"device: {device.type}; N = {N} points around y = {TRUE_W:g}x + {TRUE_B:g}")
    measure_noise(x, y)

    print(f"\n{EPOCHS} epochs at lr={LR}, full-data loss after each epoch")
    print(f"(the best line's loss is {lowest_loss(x, y):.4f}):")
    for name, batch_size in (("full batch", N), ("stochastic", 1), ("mini-batch", 32)):
        updates, losses = train(x, y, batch_size)
        shown = "  ".join(f"{loss:7.4f}" for loss in losses)
        print(f"{name:<10} B={batch_size:<4d} updates={updates:<4d} loss {shown}")


if __name__ == "__main__":
    main()
