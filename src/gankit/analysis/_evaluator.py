"""A LeNet evaluator (``gankit train-evaluator``) as plain functions on a generator's images."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def load_classifier(path, image_size: int, channels: int) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """``(logits, features)`` of the evaluator in folder ``path``, resizing images to its size."""
    from ..errors import GankitError
    from ..metrics.lenet import load_evaluator

    model = load_evaluator(path)
    if model.in_channels != channels:
        raise GankitError(f"evaluator {path} reads {model.in_channels}-channel images but the generator makes "
                          f"{channels}-channel ones; train one on the same data with `gankit train-evaluator`")

    def fit(x: Tensor) -> Tensor:
        x = x.float().cpu()
        if x.shape[-1] != model.image_size:
            x = F.interpolate(x, size=(model.image_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
        return x

    @torch.no_grad()
    def logits(x: Tensor) -> Tensor:
        return torch.cat([model(fit(b)) for b in x.split(500)])

    @torch.no_grad()
    def features(x: Tensor) -> Tensor:
        return torch.cat([model.features(fit(b)) for b in x.split(500)])

    features.__name__ = "lenet"
    return logits, features
