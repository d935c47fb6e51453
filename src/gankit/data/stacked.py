"""Stacked MNIST (Metz et al. 2017, "Unrolled GANs", §3.3; VEEGAN; PacGAN): 1,000 modes.

Each image stacks three independently drawn MNIST digits as its R, G and B channels; its class
is ``100·d_R + 10·d_G + d_B``, so ``num_classes = 1000``. The set holds ``num_points`` images
(default 100,000; VEEGAN and PacGAN used 128,000), each channel drawn uniformly with replacement
from the MNIST ``split`` by a generator seeded with the run's seed: the same seed gives the same
set. ``image_size`` resizes the digits as for MNIST.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .base import DataSpec, TensorData

__all__ = ["stack_digits", "load_stacked_mnist"]

STACKED_SEED_OFFSET = 31337


def stack_digits(x: Tensor, y: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
    """Images ``x[idx[:, 0]], x[idx[:, 1]], x[idx[:, 2]]`` (N, 1, H, W) as the R, G, B channels of
    (M, 3, H, W) images, with labels ``100·y_R + 10·y_G + y_B``."""
    if x.dim() != 4 or x.shape[1] != 1 or idx.dim() != 2 or idx.shape[1] != 3:
        raise ValueError(f"stack_digits needs (N, 1, H, W) digits and (M, 3) indices, "
                         f"got {tuple(x.shape)} and {tuple(idx.shape)}")
    images = torch.cat([x[idx[:, c]] for c in range(3)], dim=1)
    labels = 100 * y[idx[:, 0]] + 10 * y[idx[:, 1]] + y[idx[:, 2]]
    return images, labels.to(torch.int64)


def load_stacked_mnist(cfg) -> TensorData:
    """Stacked MNIST built from the MNIST ``split`` under ``data_root`` (see the module docstring)."""
    from .vision import load_idx_dataset

    mnist = load_idx_dataset(cfg.replace(data="mnist"))
    g = torch.Generator().manual_seed(cfg.seed + STACKED_SEED_OFFSET)
    idx = torch.randint(len(mnist), (cfg.num_points, 3), generator=g)
    x, y = stack_digits(mnist.x, mnist.y, idx)
    return TensorData(x, y, DataSpec(tuple(x.shape[1:]), 1000, "image"), "stacked-mnist")
