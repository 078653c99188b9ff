"""Lesson 1.2: fit a line with gradient descent, once by hand and once with autograd.

The data are 100 points scattered around the line y = 3x + 2. The same 200 steps of
full-batch gradient descent run twice from the same start: with gradients derived on
paper, and with loss.backward() and torch.optim.SGD. The program prints both gradients,
both final lines and how far apart they are, next to the exact least-squares answer.

Run it with: python lesson_1_2.py   (needs torch)
"""

from __future__ import annotations

import torch

SEED = 42
N = 100
TRUE_W, TRUE_B, NOISE_STD = 3.0, 2.0, 0.5  # the line behind the data, and its scatter
LR = 0.1
STEPS = 200


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_line(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """x of shape [N, 1] (a table with one feature) and y of shape [N]."""
    generator = torch.Generator().manual_seed(SEED)  # the same points on every run
    x = torch.randn(N, generator=generator)
    y = TRUE_W * x + TRUE_B + NOISE_STD * torch.randn(N, generator=generator)
    return x.unsqueeze(1).to(device), y.to(device)


def forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """y_hat = Xw + b: [N, 1] @ [1] gives [N], and b is added to every entry."""
    return x @ w + b


def mse(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean of the squared residuals: one number."""
    return ((y_hat - y) ** 2).mean()


def mse_gradients(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """dL/dw = (2/N) X^T r and dL/db = (2/N) sum(r), with r = y_hat - y: no autograd."""
    residual = forward(x, w, b) - y  # r, shape [N]
    grad_w = (2 / len(x)) * x.T @ residual  # shape [1], like w
    grad_b = (2 / len(x)) * residual.sum()  # one number, like b
    return grad_w, grad_b


def train_by_hand(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """STEPS updates with the gradients from paper; returns the final (w, b)."""
    for _ in range(STEPS):
        grad_w, grad_b = mse_gradients(x, y, w, b)
        w, b = w - LR * grad_w, b - LR * grad_b  # new tensors: the caller's start is kept
    return w, b


def train_with_autograd(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same STEPS updates as a PyTorch loop; returns the final (w, b)."""
    w = w.clone().requires_grad_(True)  # autograd tracks everything computed from w and b
    b = b.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([w, b], lr=LR)
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = mse(forward(x, w, b), y)  # 1. forward and 2. loss
        loss.backward()  # 3. backward: w.grad and b.grad
        optimizer.step()  # 4. step: w -= lr * w.grad, b -= lr * b.grad
    return w.detach(), b.detach()


def autograd_gradients(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """What loss.backward() puts in w.grad and b.grad at this (w, b)."""
    w = w.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    mse(forward(x, w, b), y).backward()
    return w.grad, b.grad


def least_squares(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The exact bottom of the loss, solved directly, to see where descent should end."""
    design = torch.cat([x, torch.ones_like(x)], dim=1).cpu()  # columns: x and a constant 1
    solution = torch.linalg.lstsq(design, y.cpu().unsqueeze(1)).solution.flatten()
    return solution[0].item(), solution[1].item()


def main() -> None:
    # Work this small is faster on one CPU thread: splitting it costs more than it saves.
    torch.set_num_threads(1)
    device = pick_device()
    x, y = make_line(device)
    w0 = torch.zeros(1, device=device)  # start from the flat line y = 0
    b0 = torch.zeros((), device=device)
    print(f"device: {device.type}; {N} points around y = {TRUE_W:g}x + {TRUE_B:g}")

    hand_w, hand_b = mse_gradients(x, y, w0, b0)
    auto_w, auto_b = autograd_gradients(x, y, w0, b0)
    print(f"first gradient by hand:  dL/dw = {hand_w.item():.6f}, dL/db = {hand_b.item():.6f}")
    print(f"first gradient autograd: dL/dw = {auto_w.item():.6f}, dL/db = {auto_b.item():.6f}")

    w_hand, b_hand = train_by_hand(x, y, w0, b0)
    w_auto, b_auto = train_with_autograd(x, y, w0, b0)
    gap = max((w_hand - w_auto).abs().item(), (b_hand - b_auto).abs().item())
    print(f"after {STEPS} steps at lr={LR}:")
    print(f"  by hand:  w = {w_hand.item():.6f}, b = {b_hand.item():.6f}")
    print(f"  autograd: w = {w_auto.item():.6f}, b = {b_auto.item():.6f}")
    print(f"  largest difference: {gap:.1e}")

    best_w, best_b = least_squares(x, y)
    print(f"least squares:  w = {best_w:.6f}, b = {best_b:.6f}")
    start_loss = mse(forward(x, w0, b0), y).item()
    final_loss = mse(forward(x, w_auto, b_auto), y).item()
    # The best line cannot fit the scatter, so the lowest loss is about NOISE_STD ** 2.
    lowest = mse(forward(x.cpu(), torch.tensor([best_w]), torch.tensor(best_b)), y.cpu()).item()
    print(f"loss {start_loss:.4f} -> {final_loss:.4f} (least squares: {lowest:.4f})")


if __name__ == "__main__":
    main()
