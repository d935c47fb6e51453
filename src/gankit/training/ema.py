"""Exponential moving average of the generator's weights (Karras et al. 2018; Yazici et al. 2019)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """ema <- d * ema + (1 - d) * weights after each generator step; buffers (BN stats) copied.

    The decay warms up as d_t = min(decay, (1 + t) / (10 + t)) (as TensorFlow's
    ExponentialMovingAverage with num_updates), so short runs are not dominated by the
    random initial weights.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        torch._foreach_lerp_(list(self.model.parameters()), [p.detach() for p in model.parameters()], 1.0 - d)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)
