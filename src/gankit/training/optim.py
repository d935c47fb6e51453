"""The optimisers a run trains with (``--optimizer``), and a layout-aware fused Adam for the CPU.

PyTorch's fused CPU Adam kernel (``torch._fused_adam_``, torch 2.14) reads a parameter, its gradient and
its two moment buffers as flat arrays. Given channels-last parameters it first copies them into
NCHW order and back (measured: 1.5 ms per step for a 512x256x4x4 weight, about 13 ms of every DCGAN-64
bf16 iteration), and where the gradient's or a moment's layout differs from the parameter's it pairs
the wrong elements and silently computes a wrong update (tests/test_optim.py shows both). :class:`Adam`
hands the kernel 1-D views of dense tensors in the parameter's own memory order instead, after making
any gradient or moment of another layout match it: the same kernel, the same arithmetic per element
(bit-for-bit equal results on contiguous parameters), no copies for channels-last (or otherwise permuted)
dense ones.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..config import TrainConfig


def _order(p: Tensor) -> tuple[int, ...] | None:
    """The permutation of ``p``'s dims that makes it contiguous (dims by decreasing stride: (0, 2, 3, 1)
    for channels-last), or None if no permutation does (a parameter that is not dense)."""
    perm = tuple(sorted(range(p.dim()), key=lambda d: -p.stride(d)))
    return perm if p.permute(perm).is_contiguous() else None


def _in_order(t: Tensor, perm: tuple[int, ...]) -> bool:
    """``t``'s elements lie in memory in the order ``perm`` gives (what a flat view of it then reads)."""
    return t.permute(perm).is_contiguous()


class Adam(torch.optim.Adam):
    """``torch.optim.Adam`` (Kingma & Ba 2015, Algorithm 1; same state and state-dict), which with
    ``fused=True`` on the CPU passes the fused kernel flat views in each dense parameter's memory order
    (see the module docstring). Everything else — CUDA, foreach, the per-parameter loop, sparse
    gradients — is PyTorch's."""

    def _init_group(self, group, params_with_grad, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps):
        orders = {}
        if group["fused"] and not group["differentiable"]:
            for p in group["params"]:
                if (p.grad is None or p.device.type != "cpu" or p.grad.layout != torch.strided
                        or (perm := _order(p)) is None):
                    continue
                orders[p] = perm
                if not _in_order(p.grad, perm):  # a gradient in another layout: into the parameter's
                    p.grad = torch.empty_like(p).copy_(p.grad)
                state = self.state.get(p, {})
                for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                    if key in state and not _in_order(state[key], perm):  # e.g. loaded in another layout
                        state[key] = torch.empty_like(p).copy_(state[key])
        has_complex = super()._init_group(group, params_with_grad, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                          state_steps)
        if orders:
            perms = [orders.get(p) for p in params_with_grad]
            for lst in (params_with_grad, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs):
                if len(lst) == len(perms):  # max_exp_avg_sqs is empty without amsgrad
                    lst[:] = [t if perm is None else t.permute(perm).view(-1) for t, perm in zip(lst, perms)]
        return has_complex


def make_optimizer(cfg: TrainConfig, params, lr: float) -> torch.optim.Optimizer:
    """The optimiser ``cfg.optimizer`` names over ``params`` at learning rate ``lr``."""
    if cfg.optimizer == "adam":
        return Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=cfg.fused_adam or None)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum)
    return torch.optim.RMSprop(params, lr=lr)
