"""Adam written out by hand, so a learner can read every line of the update and switch
its bias correction off. torch.optim.Adam and AdamW are what runs otherwise; with the
correction on, this one takes the same steps (tested).

A leaf like engine.step: it imports torch and nothing from the engine.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


class HandAdam(torch.optim.Optimizer):
    """Adam (decoupled=False, L2 added to the gradient) or AdamW (decoupled=True).

    bias_correction=False leaves out the division by 1 - beta^t: m and v start at zero,
    so the early averages are too small and the first steps come out the wrong size.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        bias_correction: bool = True,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "decoupled": decoupled,
            "bias_correction": bias_correction,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        """One Adam update of every parameter that has a gradient."""
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for weight in group["params"]:
                if weight.grad is not None:
                    self._update(weight, weight.grad, group, beta1, beta2)

    def _update(
        self, weight: Tensor, grad: Tensor, group: dict, beta1: float, beta2: float
    ) -> None:
        state = self.state[weight]
        if not state:
            state["t"] = 0
            state["m"] = torch.zeros_like(weight)  # running mean of the gradient
            state["v"] = torch.zeros_like(weight)  # running mean of its square
        state["t"] += 1
        t, m, v = state["t"], state["m"], state["v"]
        lr, decay = group["lr"], group["weight_decay"]
        if decay and group["decoupled"]:
            weight.mul_(1 - lr * decay)  # AdamW: shrink the weight itself, outside Adam
        elif decay:
            grad = grad + decay * weight  # Adam + L2: the decay joins the gradient
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if group["bias_correction"]:
            m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        else:  # at t = 1, m is 0.1 g and v is 0.001 g^2 (the defaults' 1 - beta)
            m_hat, v_hat = m, v
        weight.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-lr)
