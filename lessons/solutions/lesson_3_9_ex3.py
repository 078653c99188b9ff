"""Lesson 3.9, exercise 3: which layers transfer?

Pretrain the lesson's MLP on every digit 0-4, as the lesson's program does. Then learn
digits 5-9 from 5 labelled examples per class, three draws, three ways:
  whole trunk   both pretrained layers frozen, a new head trained
  first layer   only the first pretrained layer (64 -> 128) frozen; the second layer is
                freshly initialised and trained with the head
  scratch       nothing pretrained, everything trained
Check that keeping only the first layer beats keeping the whole trunk on every draw: the
first layer's features (parts of strokes) are shared by all digits, the second layer's
were shaped to tell 0-4 apart.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED, SHOTS, DRAWS, STEPS, LR, HEAD_LR = 0, 5, 3, 100, 1e-3, 1e-2


def pick_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_trunk() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())


def pretrain(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> nn.Sequential:
    """The lesson's pretraining: digits 0-4, Adam 1e-3, batch 64, 10 epochs."""
    torch.manual_seed(SEED)
    trunk, head = make_trunk().to(device), nn.Linear(64, 5).to(device)
    optimizer = torch.optim.Adam([*trunk.parameters(), *head.parameters()], lr=LR)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(10):
        for batch in torch.randperm(len(y), generator=generator).to(device).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(head(trunk(x[batch])), y[batch]).backward()
            optimizer.step()
    return trunk


def learn(way: str, pretrained: nn.Sequential, data: tuple[torch.Tensor, ...],
          device: torch.device) -> float:  # fmt: skip
    """Train on the few examples one way; returns accuracy on the held-out 5-9 digits."""
    few_x, few_y, test_x, test_y = data
    torch.manual_seed(SEED + 1)  # the same fresh head and fresh layers for every way
    head, trunk = nn.Linear(64, 5).to(device), make_trunk().to(device)
    if way == "whole trunk":
        trunk.load_state_dict(pretrained.state_dict())
        trunk.requires_grad_(False)
    if way == "first layer":
        trunk[0].load_state_dict(pretrained[0].state_dict())  # trunk[2] stays fresh
        trunk[0].requires_grad_(False)
    trainable = [p for p in [*trunk.parameters(), *head.parameters()] if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=HEAD_LR)
    for _ in range(STEPS):
        optimizer.zero_grad()
        nn.functional.cross_entropy(head(trunk(few_x)), few_y).backward()
        optimizer.step()
    with torch.no_grad():
        return (head(trunk(test_x)).argmax(dim=1) == test_y).float().mean().item()


def main() -> None:
    torch.set_num_threads(1)
    device = pick_device()
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32, device=device) / 16
    y = torch.tensor(digits.target, dtype=torch.long, device=device)
    old = y < 5
    pretrained = pretrain(x[old], y[old], device)
    new_x, new_y = x[~old], y[~old] - 5
    ways = ("whole trunk", "first layer", "scratch")
    print("draw" + "".join(f"{way:>13}" for way in ways))
    results: dict[str, list[float]] = {way: [] for way in ways}
    for draw in range(DRAWS):
        order = torch.randperm(len(new_y), generator=torch.Generator().manual_seed(100 + draw))
        order = order.to(device)
        few = torch.cat([order[new_y[order] == c][:SHOTS] for c in range(5)])
        is_test = torch.ones(len(new_y), dtype=torch.bool, device=device)
        is_test[few] = False
        data = (new_x[few], new_y[few], new_x[is_test], new_y[is_test])
        for way in ways:
            results[way].append(learn(way, pretrained, data, device))
        print(f"{draw:4d}" + "".join(f"{results[way][-1]:13.3f}" for way in ways))
    means = {way: sum(accs) / DRAWS for way, accs in results.items()}
    print("mean" + "".join(f"{means[way]:13.3f}" for way in ways))
    first_wins = all(
        a > b for a, b in zip(results["first layer"], results["whole trunk"], strict=True)
    )
    assert first_wins, "keeping only the first layer did not beat the whole trunk"
    print("the first layer transfers better than the whole trunk on every draw")


if __name__ == "__main__":
    main()
