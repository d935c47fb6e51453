"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", eq. 3 and §4).

KID is the unbiased estimator of MMD² with the cubic polynomial kernel
k(x, y) = (γ x·y + c)^d, γ = 1/D, c = 1, d = 3, averaged over random subsets:

    MMD²_u = 1/(m(m-1)) Σ_{i≠j} [k(xᵢ,xⱼ) + k(yᵢ,yⱼ)] - 2/m² Σ_{i,j} k(xᵢ,yⱼ)

Subsets are drawn without replacement by ``np.random.RandomState(seed)``, the same draws as
torch-fidelity for the same seed; the returned std is over subsets (``ddof=0``, as there).
The unbiased estimate can be slightly negative when the two sets share a distribution.

Subset rule: ``m = min(subset_size, N_a, N_b)``. torch-fidelity refuses sets smaller than the
subset size (``kid_subset_size``, 1000); gankit warns and clips instead. When ``m`` equals a set's
size, every subset of that set is the whole set, so the spread over subsets no longer measures
the estimator's sampling error (with two such sets it is round-off, ~1e-16): the std is then NaN
(null in eval.json). The mean is the unbiased MMD² either way.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._util import _features

__all__ = ["kernel_inception_distance", "polynomial_mmd2"]


def _kernel(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> np.ndarray:
    return (gamma * (x @ y.T) + coef0) ** degree


def polynomial_mmd2(x, y, degree: int = 3, gamma: float | None = None, coef0: float = 1) -> float:
    """Unbiased MMD² between equal-size sets ``x`` and ``y`` with the polynomial kernel."""
    x, y = _features(x, "x", 2), _features(y, "y", 2)
    if x.shape != y.shape:
        raise ValueError(f"polynomial_mmd2 needs equal-size sets, got {x.shape} and {y.shape}")
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    m = x.shape[0]
    k_xx, k_yy = _kernel(x, x, degree, gamma, coef0), _kernel(y, y, degree, gamma, coef0)
    k_xy = _kernel(x, y, degree, gamma, coef0)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(feats_a, feats_b, num_subsets: int = 100, subset_size: int = 1000,
                              degree: int = 3, gamma: float | None = None, coef0: float = 1,
                              seed: int = 0) -> tuple[float, float]:
    """KID (mean, std) of unbiased polynomial MMD² over ``num_subsets`` random subsets.

    ``subset_size`` is clipped to ``min(len(feats_a), len(feats_b))`` with a warning; the std is
    NaN when a subset is a whole set (see the module docstring). Deterministic given ``seed``.
    """
    a, b = _features(feats_a, "feats_a", 2), _features(feats_b, "feats_b", 2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"KID: feature dims differ ({a.shape[1]} vs {b.shape[1]})")
    if num_subsets < 1 or subset_size < 2:
        raise ValueError("KID: num_subsets must be ≥ 1 and subset_size ≥ 2")
    m = min(subset_size, a.shape[0], b.shape[0])
    whole = m in (a.shape[0], b.shape[0])  # that set is never resampled: the spread means nothing
    if whole:
        warnings.warn(f"KID: {min(a.shape[0], b.shape[0])} samples and subset size {subset_size}: every subset "
                      f"of the smaller set is the whole set, so the std over subsets is not reported (NaN); "
                      f"use more samples than the subset size", RuntimeWarning, stacklevel=2)
    rng = np.random.RandomState(seed)
    mmds = np.empty(num_subsets)
    for i in range(num_subsets):
        xa = a[rng.choice(a.shape[0], m, replace=False)]
        xb = b[rng.choice(b.shape[0], m, replace=False)]
        mmds[i] = polynomial_mmd2(xa, xb, degree, gamma, coef0)
    return float(mmds.mean()), float("nan") if whole else float(mmds.std())
