"""Distances between translated images and their ground truth: L1 and SSIM (Wang et al. 2004)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    g = torch.exp(-(torch.arange(size, dtype=torch.float64) - (size - 1) / 2) ** 2 / (2 * sigma ** 2))
    g = (g / g.sum()).float()
    return g[:, None] * g[None, :]


def ssim(x: Tensor, y: Tensor, data_range: float = 2.0, window: int = 11, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Structural similarity of each image pair (N,), averaged over channels and window positions.

    Wang et al. 2004, Eq. 13: SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)
    (sigma_x^2 + sigma_y^2 + C2)) with local statistics under an 11x11 Gaussian window (sigma 1.5),
    C1 = (k1 L)^2, C2 = (k2 L)^2, L = ``data_range`` (2 for images in [-1, 1]); windows that fit
    inside the image only. Images smaller than the window use a window of their size.
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim needs two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    n, c, h, w = x.shape
    size = min(window, h, w)
    kernel = gaussian_window(size, sigma).to(x.device)[None, None]
    x, y = x.float().reshape(n * c, 1, h, w), y.float().reshape(n * c, 1, h, w)
    mean = lambda v: F.conv2d(v, kernel)  # noqa: E731
    mu_x, mu_y = mean(x), mean(y)
    var_x, var_y = mean(x * x) - mu_x ** 2, mean(y * y) - mu_y ** 2
    cov = mean(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.reshape(n, -1).mean(1)


def l1_distance(x: Tensor, y: Tensor) -> Tensor:
    """Mean absolute difference of each pair of images in [-1, 1] (N,), in intensity units of [0, 1]."""
    return (x.float() - y.float()).abs().flatten(1).mean(1) / 2
