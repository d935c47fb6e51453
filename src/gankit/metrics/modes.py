"""Mode metrics: toy 2-D mixtures (VEEGAN / PacGAN protocol) and class histograms.

Toy protocol (Srivastava et al. 2017, §5.1; Lin et al. 2018, §5.1), for a mixture of M isotropic
Gaussians with per-axis std σ (ring: 8 centres on a circle of radius 2; grid: 25 centres
(-4+2i, -4+2j); σ = 0.02 for the ring and 0.05 for the grid, :mod:`gankit.data.toy`):

* each sample is assigned to its nearest centre, and is *high quality* if it lies within
  ``threshold_sigma``·σ (Euclidean) of it. A perfect 2-D sampler scores 1 - exp(-t²/2) at
  threshold t (98.89% at t = 3), not the 1-D 99.73%;
* ``modes``: a mode is *captured* if at least one high-quality sample is nearest to it: the
  papers' rule (VEEGAN §5.1 text; the count in PacGAN's released code);
* ``modes_strict``: gankit's stricter count, a mode needing at least ``min_count`` high-quality
  samples, by default one fifth of the uniform expectation ceil(N / (5M)) (a grid mode needs 20
  of 2,500 samples, 100 expected). It is not PacGAN's rule; it flags modes kept only by a few
  stray samples;
* *reverse KL* = KL(q || u) = Σᵢ qᵢ log(qᵢ M), q the histogram of high-quality samples over the
  modes, u uniform, 0·log 0 = 0: 0 for a balanced sampler, log M for a fully collapsed one,
  NaN when no sample is high quality.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import xlogy

from ._util import _to_numpy

__all__ = ["toy_mode_metrics", "class_distribution_kl", "count_modes", "class_kl_to_target"]


def _kl_to_uniform(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return float("nan")
    q = counts / total
    return float(xlogy(q, q * len(counts)).sum())


def _labels(labels, num_classes: int, name: str = "labels") -> np.ndarray:
    a = _to_numpy(labels, dtype=None)
    if a.ndim != 1 or (not np.issubdtype(a.dtype, np.integer) and not np.all(a == np.round(a))):
        raise ValueError(f"{name} must be a 1-D array of integer class indices")
    a = a.astype(np.int64)
    if num_classes < 1 or a.size and (a.min() < 0 or a.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}) (num_classes={num_classes})")
    return a


def toy_mode_metrics(samples, centres, std: float, threshold_sigma: float = 3.0,
                     min_count: int | None = None) -> dict:
    """``{"modes", "modes_strict", "num_modes", "high_quality", "reverse_kl"}`` of (N, 2) samples
    vs (M, 2) centres; ``min_count`` is the strict count's threshold (default ceil(N / 5M))."""
    x, c = _to_numpy(samples), _to_numpy(centres)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1] or len(x) == 0 or len(c) == 0:
        raise ValueError(f"toy_mode_metrics: need (N, D) samples and (M, D) centres, "
                         f"got {x.shape} and {c.shape}")
    if std <= 0:
        raise ValueError(f"toy_mode_metrics: std must be > 0, got {std}")
    n, m = len(x), len(c)
    if min_count is None:
        min_count = max(1, math.ceil(n / (5 * m)))
    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)  # (N, M); M is small
    nearest = d2.argmin(axis=1)
    good = np.sqrt(d2[np.arange(n), nearest]) <= threshold_sigma * std
    counts = np.bincount(nearest[good], minlength=m)
    return {
        "modes": int((counts >= 1).sum()),
        "modes_strict": int((counts >= min_count).sum()),
        "num_modes": m,
        "high_quality": float(good.mean()),
        "reverse_kl": _kl_to_uniform(counts),
    }


def class_distribution_kl(labels_pred, num_classes: int) -> float:
    """KL(histogram of predicted labels || uniform over ``num_classes``), 0·log 0 = 0."""
    return _kl_to_uniform(np.bincount(_labels(labels_pred, num_classes), minlength=num_classes))


def count_modes(labels_pred, num_classes: int, min_count: int = 1) -> int:
    """How many classes receive at least ``min_count`` predicted labels."""
    counts = np.bincount(_labels(labels_pred, num_classes), minlength=num_classes)
    return int((counts >= min_count).sum())


def class_kl_to_target(pred, target, num_classes: int) -> float:
    """KL(p_target || p_pred) between the requested-label and predicted-label histograms.

    For a conditional generator: ``target`` are the labels it was asked for, ``pred`` what a
    classifier sees in the samples. ``inf`` when a requested class is never predicted.
    """
    p = np.bincount(_labels(target, num_classes, "target"), minlength=num_classes).astype(np.float64)
    q = np.bincount(_labels(pred, num_classes, "pred"), minlength=num_classes).astype(np.float64)
    if p.sum() == 0 or q.sum() == 0:
        raise ValueError("class_kl_to_target: empty labels")
    p, q = p / p.sum(), q / q.sum()
    with np.errstate(divide="ignore"):
        return float(np.where(p > 0, xlogy(p, p) - xlogy(p, q), 0.0).sum())
