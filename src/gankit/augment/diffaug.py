"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same differentiable transformation T is applied to every image D sees (Eq. 4-5: D on T(x) and
T(G(z)) in D's loss, T(G(z)) in G's), each op drawing its parameters per sample. The three families
of the paper (Sec. 3.2, Fig. 5) at its default strengths, for images in [-1, 1]:

- ``color``: brightness + U(-0.5, 0.5) (times ``brightness`` / 0.5), saturation x U(0, 2) around each
  pixel's channel mean, contrast x U(0.5, 1.5) around each image's mean;
- ``translation``: an integer shift of up to 1/8 of the side (``translation``), zero filled;
- ``cutout``: a square of half the side (``cutout``) set to zero.

Each strength 0 turns its op into the identity.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Augmentation, cutout, per_sample, shift


class DiffAugment(Augmentation):
    OPS = ("color", "translation", "cutout")
    DEFAULT = OPS

    def __init__(self, policy=None, *, brightness: float = 0.5, saturation: float = 1.0, contrast: float = 0.5,
                 translation: float = 0.125, cutout: float = 0.5):
        super().__init__(policy)
        self.brightness, self.saturation, self.contrast = brightness, saturation, contrast
        self.translation, self.cutout = translation, cutout

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"DiffAugment needs image batches (B, C, H, W), got shape {tuple(x.shape)}")
        for op in self.policy:
            x = getattr(self, f"_{op}")(x)
        return x

    def _color(self, x):
        x = x + (per_sample(x) * 2 - 1) * self.brightness
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (1 + (per_sample(x) * 2 - 1) * self.saturation) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * (1 + (per_sample(x) * 2 - 1) * self.contrast) + mean

    def _translation(self, x):
        b, _, h, w = x.shape
        sy, sx = int(h * self.translation + 0.5), int(w * self.translation + 0.5)
        dy = torch.randint(-sy, sy + 1, (b,), device=x.device)
        dx = torch.randint(-sx, sx + 1, (b,), device=x.device)
        return shift(x, dy, dx)

    def _cutout(self, x):
        return cutout(x, int(x.shape[2] * self.cutout + 0.5))
