"""Lesson 2.1, exercise 2: four linear layers without a bend are one linear layer.

Build a stack 2 -> 16 -> 16 -> 16 -> 3 of nn.Linear layers with nn.Identity between them.
Multiply its weight matrices into one W (3 x 2) and fold its biases into one b, and check
that x -> W x + b gives the network's outputs on 1,000 random points. Then test both the
identity stack and the same stack with ReLU against the rule every linear layer obeys:
the output at a point between a and b is the same mix of the outputs at a and b.
"""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (2, 16, 16, 16, 3)


def stack(activation: type[nn.Module]) -> nn.Sequential:
    """Linear layers of WIDTHS with the activation between them; same weights every call."""
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(WIDTHS, WIDTHS[1:], strict=False):
        layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers[:-1])  # no activation after the last layer: raw logits


def product_of_layers(model: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    """W = W4 W3 W2 W1 and b = W4 W3 W2 b1 + W4 W3 b2 + W4 b3 + b4."""
    weight = torch.eye(WIDTHS[0])
    bias = torch.zeros(WIDTHS[0])
    for layer in model:
        if isinstance(layer, nn.Linear):
            weight = layer.weight @ weight  # later layers multiply on the left
            bias = layer.weight @ bias + layer.bias
    return weight, bias


def mixing_gap(model: nn.Module, a: torch.Tensor, b: torch.Tensor, share: float) -> float:
    """How far f(share a + (1 - share) b) is from share f(a) + (1 - share) f(b)."""
    mixed_input = model(share * a + (1 - share) * b)
    mixed_output = share * model(a) + (1 - share) * model(b)
    return (mixed_input - mixed_output).abs().max().item()


@torch.no_grad()
def main() -> None:
    deep_linear, deep_relu = stack(nn.Identity), stack(nn.ReLU)
    weight, bias = product_of_layers(deep_linear)
    x = torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
    gap = (deep_linear(x) - (x @ weight.T + bias)).abs().max().item()
    parameters = sum(p.numel() for p in deep_linear.parameters())
    print(
        f"{parameters} parameters collapse into W {tuple(weight.shape)} and b {tuple(bias.shape)}"
    )
    print(f"largest difference from the single layer: {gap:.1e}")
    assert weight.shape == (3, 2) and gap < 1e-5

    a, b = x[:500], x[500:]
    linear_gap = mixing_gap(deep_linear, a, b, share=0.3)
    relu_gap = mixing_gap(deep_relu, a, b, share=0.3)
    print(
        f"f(0.3 a + 0.7 b) - (0.3 f(a) + 0.7 f(b)): identity {linear_gap:.1e}, ReLU {relu_gap:.3f}"
    )
    assert linear_gap < 1e-5 and relu_gap > 0.01
    print("the identity stack is one linear layer; the ReLU stack is not")


if __name__ == "__main__":
    main()
