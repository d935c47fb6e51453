"""CMMD (Jayasumana et al. 2024, "Rethinking FID: Towards a Better Evaluation Metric for Image
Generation", §4, eq. 3): the squared MMD between CLIP embeddings with a Gaussian RBF kernel.

    k(x, y) = exp(-||x - y||² / (2σ²)),   σ = 10
    CMMD = scale · ( mean_{i,j} k(xᵢ,xⱼ) + mean_{i,j} k(yᵢ,yⱼ) - 2 mean_{i,j} k(xᵢ,yⱼ) ),  scale = 1000

the *biased* (V-statistic) estimator with the diagonal included, on unit-norm embeddings (CLIP
ViT-L/14@336px image embeddings divided by their norm), as the authors' released code
(google-research/cmmd, ``distance.py``) and cmmd-pytorch compute it. The two sets may differ in
size. Computed here in float64, in row blocks, so 10k × 10k sets never build a full kernel matrix.
"""
from __future__ import annotations

import numpy as np

from ._util import _features

__all__ = ["rbf_mmd2", "cmmd", "CMMD_SIGMA", "CMMD_SCALE"]

CMMD_SIGMA = 10.0
CMMD_SCALE = 1000.0
_BLOCK = 2048


def _mean_kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> float:
    """mean_{i,j} exp(-gamma ||aᵢ - bⱼ||²), summed block by block."""
    a2, b2 = (a * a).sum(1), (b * b).sum(1)
    total = 0.0
    for lo in range(0, len(a), _BLOCK):
        d2 = a2[lo:lo + _BLOCK, None] + b2[None, :] - 2.0 * (a[lo:lo + _BLOCK] @ b.T)
        total += np.exp(-gamma * np.maximum(d2, 0.0)).sum()
    return total / (len(a) * len(b))


def rbf_mmd2(x, y, sigma: float = CMMD_SIGMA, scale: float = CMMD_SCALE) -> float:
    """``scale`` · biased MMD² between ``(N, D)`` and ``(M, D)`` sets, Gaussian kernel of width ``sigma``."""
    x, y = _features(x, "x", 1), _features(y, "y", 1)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"rbf_mmd2: feature dims differ ({x.shape[1]} vs {y.shape[1]})")
    if sigma <= 0:
        raise ValueError(f"rbf_mmd2: sigma must be > 0, got {sigma}")
    gamma = 1.0 / (2.0 * sigma ** 2)
    return float(scale * (_mean_kernel(x, x, gamma) + _mean_kernel(y, y, gamma) - 2.0 * _mean_kernel(x, y, gamma)))


def cmmd(real_embeddings, fake_embeddings, normalize: bool = True) -> float:
    """CMMD of two embedding sets; ``normalize`` divides each row by its norm first (CMMD's
    CLIP embeddings are unit-norm; pass False for embeddings already normalised)."""
    x, y = _features(real_embeddings, "real_embeddings"), _features(fake_embeddings, "fake_embeddings")
    if normalize:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        y = y / np.linalg.norm(y, axis=1, keepdims=True)
    return rbf_mmd2(x, y, CMMD_SIGMA, CMMD_SCALE)
