"""Fréchet distance between Gaussians, the core of FID (Heusel et al. 2017, eq. 6).

    d² = ||μ₁ - μ₂||² + Tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^{1/2})

computed in float64. Two ways to get Tr (Σ₁Σ₂)^{1/2}:

* ``method="eigh"`` (default): Σ₁Σ₂ is similar to the symmetric PSD matrix
  S = Σ₁^{1/2} Σ₂ Σ₁^{1/2}, so Tr (Σ₁Σ₂)^{1/2} = Σᵢ √λᵢ(S). Two symmetric eigendecompositions,
  negative round-off eigenvalues clipped to 0: stable for rank-deficient covariances and about
  10x faster than sqrtm at D = 2048 on a CPU, agreeing with it to ~1e-14 relative.
* ``method="sqrtm"``: ``scipy.linalg.sqrtm`` of Σ₁Σ₂ as in pytorch-fid, retried with ``eps·I``
  added to both covariances when the root is non-finite or clearly complex; tiny imaginary
  parts dropped, a clear ``ValueError`` when they stay large.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from ._util import _features, _to_numpy

__all__ = ["frechet_distance", "feature_statistics", "fid_from_features"]


def _trace_sqrt_product_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    def root(a, b):
        with warnings.catch_warnings():  # singular products are handled below, as pytorch-fid's disp=False
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            r = scipy.linalg.sqrtm(a @ b)
        return r if np.isfinite(r).all() else None

    def imag_ok(r):
        return not np.iscomplexobj(r) or np.allclose(np.diagonal(r).imag, 0, atol=1e-3)

    covmean = root(sigma1, sigma2)
    if covmean is None or not imag_ok(covmean):
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = root(sigma1 + offset, sigma2 + offset)
        if covmean is None:
            raise ValueError("Fréchet distance: sqrtm(Σ₁Σ₂) is not finite even with eps·I added")
    if np.iscomplexobj(covmean):
        if not imag_ok(covmean):
            raise ValueError(f"Fréchet distance: sqrtm(Σ₁Σ₂) has a large imaginary component "
                             f"({np.max(np.abs(covmean.imag)):.3g}); the covariances are ill-conditioned")
        covmean = covmean.real
    return float(np.trace(covmean))


def _trace_sqrt_product_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    s = root1 @ sigma2 @ root1
    lam = np.linalg.eigvalsh((s + s.T) / 2)
    return float(np.sqrt(np.clip(lam, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6, *, method: str = "eigh") -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as a float ≥ 0."""
    mu1, mu2 = np.atleast_1d(_to_numpy(mu1)), np.atleast_1d(_to_numpy(mu2))
    sigma1, sigma2 = np.atleast_2d(_to_numpy(sigma1)), np.atleast_2d(_to_numpy(sigma2))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"Fréchet distance: shapes do not match: mu {mu1.shape}, {mu2.shape}; "
                         f"sigma {sigma1.shape}, {sigma2.shape}")
    for a in (mu1, mu2, sigma1, sigma2):
        if not np.isfinite(a).all():
            raise ValueError("Fréchet distance: statistics contain NaN or inf")
    if method == "sqrtm":
        tr_covmean = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps)
    elif method == "eigh":
        tr_covmean = _trace_sqrt_product_eigh(sigma1, sigma2)
    else:
        raise ValueError(f"Fréchet distance: method must be 'sqrtm' or 'eigh', got {method!r}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean
    return max(float(value), 0.0)  # ≥ 0 exactly; only round-off can make it negative


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (``np.cov(rowvar=False)``) of ``(N, D)`` features, float64."""
    f = _features(features, min_rows=2)
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def fid_from_features(feats_a, feats_b, eps: float = 1e-6, *, method: str = "eigh") -> float:
    """FID between two ``(N, D)`` feature sets (e.g. Inception pool3, D=2048)."""
    mu_a, sigma_a = feature_statistics(feats_a)
    mu_b, sigma_b = feature_statistics(feats_b)
    return frechet_distance(mu_a, sigma_a, mu_b, sigma_b, eps, method=method)
