"""Lesson 2.3's race: one hidden layer trained by hand (no autograd) against the same net
as an `nn.Module` with `torch.optim.SGD`, from the same weights on the same batches."""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor, nn

from engine.config import default_config
from engine.data import load_data


def hand_step(params: dict[str, Tensor], x: Tensor, labels: Tensor, lr: float) -> float:
    """Forward, loss, backward and update written out with tensors; returns the loss.

    Shapes: x [B, D], W1 [D, H], W2 [H, K]. The gradient of the mean cross-entropy with
    respect to the logits is (softmax - one_hot) / B; the chain rule carries it back.
    """
    w1, b1, w2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = x @ w1 + b1  # forward
    h = z1.clamp(min=0)  # ReLU
    logits = h @ w2 + b2
    log_p = logits.log_softmax(dim=1)  # loss: mean cross-entropy
    loss = -log_p[torch.arange(len(labels)), labels].mean()
    d_logits = log_p.exp()  # backward, by the chain rule
    d_logits[torch.arange(len(labels)), labels] -= 1.0
    d_logits /= len(labels)
    d_h = d_logits @ w2.T
    d_z1 = d_h * (z1 > 0)
    grads = {"W2": h.T @ d_logits, "b2": d_logits.sum(0), "W1": x.T @ d_z1, "b1": d_z1.sum(0)}
    for name, grad in grads.items():  # step: plain gradient descent
        params[name] -= lr * grad
    return loss.item()


def scratch_vs_module(
    epochs: int = 3, hidden: int = 32, lr: float = 0.1, batch_size: int = 32, seed: int = 0
) -> pd.DataFrame:
    """Per-step training losses of both nets on digits: columns step, epoch, by_hand,
    nn_module and difference (the absolute gap, which stays at float rounding)."""
    data = load_data(default_config("digits", seed=seed))
    x, labels = data.train.inputs.flatten(1), data.train.targets
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 10))
    params = {  # the hand net starts from the module's own weights, as [in, out] matrices
        "W1": model[0].weight.detach().T.clone(),
        "b1": model[0].bias.detach().clone(),
        "W2": model[2].weight.detach().T.clone(),
        "b2": model[2].bias.detach().clone(),
    }
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(seed)
    rows = []
    for epoch in range(1, epochs + 1):
        for batch in torch.randperm(len(x), generator=order).split(batch_size):
            by_hand = hand_step(params, x[batch], labels[batch], lr)
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            rows.append((len(rows) + 1, epoch, by_hand, loss.item()))
    table = pd.DataFrame(rows, columns=["step", "epoch", "by_hand", "nn_module"])
    table["difference"] = (table["by_hand"] - table["nn_module"]).abs()
    return table
