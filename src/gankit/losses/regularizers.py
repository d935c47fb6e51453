"""Regularisers usable with any objective (spectral norm lives with the models)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

Critic = Callable[[Tensor], Tensor]  # x -> source logits, shape (B,)


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, Eq. 3): E[(||grad_x D(x_hat)||_2 - 1)^2]
    with x_hat = real + eps (fake - real), eps ~ U[0, 1] per sample. Unweighted."""
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device)
    eps = eps.to(real.dtype).view((-1,) + (1,) * (real.dim() - 1))
    x_hat = torch.lerp(real.detach(), fake.detach(), eps).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).square().mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018, Eq. 9) without the gamma/2 factor: E[||grad_x D(x)||^2]
    on real data. ``real`` must have had ``requires_grad_()`` before D's forward pass."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.flatten(1).square().sum(1).mean()
