"""Synthetic 2-D distributions for mode-collapse experiments (VEEGAN, Srivastava et al. 2017;
PacGAN, Lin et al. 2018): a ring of 8 Gaussians (radius 2, sigma 0.02) and a grid of 25
(spacing 2, sigma 0.05, as in PacGAN's code), plus a spiral."""
from __future__ import annotations

import math

import torch
from torch import Tensor

RING_RADIUS, RING_STD = 2.0, 0.02
GRID_SPACING, GRID_STD = 2.0, 0.05  # PacGAN's code: means -4..4 step 2, sigma 0.05


def ring_centres(n_modes: int = 8, radius: float = RING_RADIUS) -> Tensor:
    angle = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return (torch.stack([angle.cos(), angle.sin()], 1) * radius).float()


def grid_centres(side: int = 5, spacing: float = GRID_SPACING) -> Tensor:
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(ticks, ticks)


def sample_mixture(centres: Tensor, std: float, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """n points from an equal-weight isotropic Gaussian mixture; returns (points, mode index)."""
    mode = torch.randint(len(centres), (n,), generator=generator)
    return centres[mode] + std * torch.randn(n, 2, generator=generator), mode


def sample_spiral(n: int, generator: torch.Generator, noise: float = 0.05, turns: float = 2.0) -> Tensor:
    t = torch.rand(n, generator=generator).sqrt() * turns * 2 * math.pi
    r = t / (turns * 2 * math.pi) * 2.0
    pts = torch.stack([r * t.cos(), r * t.sin()], 1)
    return pts + noise * torch.randn(n, 2, generator=generator)


TOY_MODES = {"ring": (ring_centres, RING_STD), "grid": (grid_centres, GRID_STD)}
