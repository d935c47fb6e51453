"""The optimisers a run trains with (``--optimizer``), and a layout-aware fused Adam for the CPU.

PyTorch's fused CPU Adam kernel (``torch._fused_adam_``, torch 2.14) reads a parameter, its gradient and
its two moment buffers as flat arrays. Given channels-last parameters it first copies them into
NCHW order and back (measured: 1.5 ms per step for a 512x256x4x4 weight, about 13 ms of every DCGAN-64
bf16 iteration), and where the gradient's or a moment's layout differs from the parameter's it pairs
the wrong elements and silently computes a wrong update (tests/test_optim.py shows both). :class:`Adam`
hands the kernel 1-D views of dense tensors in the parameter's own memory order instead, after making
any gradient or moment of another layout match it: the same kernel, the same arithmetic per element
(bit-for-bit equal results on contiguous parameters), no copies for channels-last ones.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..config import TrainConfig

#: memory formats whose tensors :class:`Adam` flattens without a copy, with the permutation that makes
#: such a tensor contiguous
_ORDERS = ((torch.contiguous_format, None), (torch.channels_last, (0, 2, 3, 1)),
           (torch.channels_last_3d, (0, 2, 3, 4, 1)))


def _layout(p: Tensor):
    """(memory format, permutation) of a dense parameter, or None for any other layout."""
    for fmt, perm in _ORDERS:
        if (perm is None or p.dim() == len(perm)) and p.is_contiguous(memory_format=fmt):
            return fmt, perm
    return None


def _flat(t: Tensor, perm) -> Tensor:
    return (t if perm is None else t.permute(perm)).view(-1)


class Adam(torch.optim.Adam):
    """``torch.optim.Adam`` (Kingma & Ba 2015, Algorithm 1; same state and state-dict), which with
    ``fused=True`` on the CPU passes the fused kernel flat views in each parameter's memory order (see
    the module docstring). Everything else — CUDA, foreach, the per-parameter loop — is PyTorch's."""

    def _init_group(self, group, params_with_grad, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps):
        flatten = group["fused"] and not group["differentiable"]
        layouts = {}
        if flatten:
            for p in group["params"]:
                if p.grad is None or p.device.type != "cpu" or (lay := _layout(p)) is None:
                    continue
                layouts[p] = lay
                if not p.grad.is_contiguous(memory_format=lay[0]):
                    p.grad = p.grad.contiguous(memory_format=lay[0])
                state = self.state.get(p, {})
                for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                    if key in state and not state[key].is_contiguous(memory_format=lay[0]):
                        state[key] = state[key].contiguous(memory_format=lay[0])  # e.g. loaded in another layout
        has_complex = super()._init_group(group, params_with_grad, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                          state_steps)
        if layouts:
            perms = [layouts[p][1] if p in layouts else False for p in params_with_grad]
            for lst in (params_with_grad, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs):
                if len(lst) == len(perms):  # max_exp_avg_sqs is empty without amsgrad
                    lst[:] = [t if perm is False else _flat(t, perm) for t, perm in zip(lst, perms)]
        return has_complex


def make_optimizer(cfg: TrainConfig, params, lr: float) -> torch.optim.Optimizer:
    """The optimiser ``cfg.optimizer`` names over ``params`` at learning rate ``lr``."""
    if cfg.optimizer == "adam":
        return Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=cfg.fused_adam or None)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum)
    return torch.optim.RMSprop(params, lr=lr)
