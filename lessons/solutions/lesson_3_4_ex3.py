"""Lesson 3.4, exercise 3: gradient clipping by hand.

Write clip_by_hand(grads, c): g <- g * min(1, c / ||g||), where ||g|| is the norm of every
gradient tensor laid end to end. Compare it with nn.utils.clip_grad_norm_ on the gradient
of an 8-layer ReLU MLP, once with the norm above c and once below, and check that clipping
keeps the direction. Then see that clip_grad_value_, which clamps each entry on its own,
turns the gradient.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

C = 1.0  # max_norm


def clip_by_hand(grads: list[torch.Tensor], c: float) -> tuple[list[torch.Tensor], float]:
    """The clipped gradients and the norm they had before."""
    total = torch.sqrt(sum(g.pow(2).sum() for g in grads)).item()
    scale = min(1.0, c / total)
    return [g * scale for g in grads], total


def flat(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.flatten() for g in grads])


def fresh_gradient(model: nn.Module, size: float) -> list[torch.Tensor]:
    """Run backward on random data; scale the loss so the gradient's norm is `size`."""
    model.zero_grad()
    torch.manual_seed(1)
    x, y = torch.randn(32, 20), torch.randint(0, 10, (32,))
    F.cross_entropy(model(x), y).backward()
    norm = flat([p.grad for p in model.parameters()]).norm()
    for p in model.parameters():
        p.grad *= size / norm
    return [p.grad.clone() for p in model.parameters()]


def main() -> None:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(20, 128), nn.ReLU()]
    for _ in range(6):
        layers += [nn.Linear(128, 128), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(128, 10))  # 8 linear layers

    for size in (50.0, 0.5):  # above c, then below it
        before = fresh_gradient(model, size)
        by_hand, total_by_hand = clip_by_hand(before, C)
        total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=C)
        by_torch = flat([p.grad for p in model.parameters()])
        gap = (flat(by_hand) - by_torch).abs().max().item()
        turn = F.cosine_similarity(flat(before), by_torch, dim=0).item()
        print(f"norm {total_by_hand:.4f} (clip_grad_norm_ says {total.item():.4f}) -> ", end="")
        print(f"{by_torch.norm().item():.4f}; by hand vs torch: {gap:.1e}; cosine {turn:.4f}")
        assert abs(total.item() - total_by_hand) < 1e-4 * total_by_hand
        assert torch.allclose(flat(by_hand), by_torch, rtol=1e-5, atol=1e-9)
        assert abs(by_torch.norm().item() - min(size, C)) < 1e-4 and turn > 0.9999

    # clip_grad_value_ clamps every entry to [-v, v] on its own: the big entries lose most.
    before = fresh_gradient(model, 50.0)
    nn.utils.clip_grad_value_(model.parameters(), clip_value=0.01)
    after = flat([p.grad for p in model.parameters()])
    turn = F.cosine_similarity(flat(before), after, dim=0).item()
    print(f"clip_grad_value_(0.01): norm {after.norm().item():.4f}, cosine {turn:.4f}")
    assert turn < 0.99
    print("hand-written clipping matches clip_grad_norm_ and keeps the direction")


if __name__ == "__main__":
    main()
