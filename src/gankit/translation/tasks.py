"""Offline translation tasks built from data gankit already has.

- ``edges2mnist`` (paired, pix2pix): A = the edge map of an MNIST digit, B = the digit, as
  edges2shoes/edges2handbags in Isola et al. 2017 (whose edges came from HED; ours are the
  thresholded Sobel gradient, computed here).
- ``mnist2digits`` (unpaired, CycleGAN): A = MNIST, B = scikit-learn's 8x8 digits upsampled —
  two real domains (thin sharp strokes vs blurry low-resolution ones), no pairs.
- ``digits2inverted`` (unpaired, CycleGAN): A = scikit-learn digits, B = *other* digits with
  their intensities inverted (255 - x), so the true mapping is known (x -> 255 - x) but no pair is.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .data import ImagePairs

EDGE_THRESHOLD = 0.5  # |Sobel| / 4 above this is an edge (4 = the response to a full 0 -> 1 step)


def sobel_edges(x: Tensor, threshold: float = EDGE_THRESHOLD) -> Tensor:
    """Binary edge maps (uint8 0/255, white edges on black) of uint8 NCHW images.

    The gradient magnitude of each channel's Sobel filters (Gx = [1 0 -1; 2 0 -2; 1 0 -1] / 4,
    Gy its transpose) on intensities in [0, 1], maximised over channels and thresholded: a pixel is
    an edge when the intensity changes by more than ``threshold`` across it.
    """
    v = x.float() / 255.0
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]) / 4.0
    k = torch.stack([kx, kx.t()])[:, None].to(v.device)              # (2, 1, 3, 3)
    n, c, h, w = v.shape
    g = F.conv2d(F.pad(v.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate"), k)
    mag = g.square().sum(1).sqrt().reshape(n, c, h, w).amax(1, keepdim=True)
    return ((mag > threshold).to(torch.uint8) * 255).expand(-1, c, -1, -1).contiguous()


def _mnist(cfg, size: int | None):
    from ..data import load_dataset

    d = load_dataset(cfg.replace(data="mnist", image_size=size))
    return d.x, d.y


def _sk_digits(size: int):
    from ..config import TrainConfig
    from ..data.vision import load_digits

    d = load_digits(TrainConfig(data="digits", image_size=size))
    return d.x, d.y


def load_edges2mnist(cfg) -> ImagePairs:
    """Paired: A = Sobel edges of an MNIST digit, B = the digit (``data_root``, ``split``;
    28x28 unless ``image_size``). Labels kept in ``y`` for evaluation."""
    x, y = _mnist(cfg, cfg.image_size)
    return ImagePairs(sobel_edges(x), x, True, "edges2mnist", y=y)


def load_mnist2digits(cfg) -> ImagePairs:
    """Unpaired: A = MNIST (``data_root``, ``split``), B = scikit-learn digits at the same size (28 default)."""
    size = cfg.image_size or 28
    a, _ = _mnist(cfg, size)
    b, _ = _sk_digits(size)
    return ImagePairs(a, b, False, "mnist2digits", seed=cfg.seed)


def load_digits2inverted(cfg) -> ImagePairs:
    """Unpaired: A = the even-indexed scikit-learn digits, B = the odd-indexed ones inverted
    (16x16 unless ``image_size``); disjoint halves, so no image has its partner in the other domain."""
    x, _ = _sk_digits(cfg.image_size or 16)
    return ImagePairs(x[0::2].contiguous(), 255 - x[1::2], False, "digits2inverted", seed=cfg.seed)


__all__ = ["sobel_edges", "load_edges2mnist", "load_mnist2digits", "load_digits2inverted"]
