"""k-NN manifold metrics on feature sets: precision/recall and density/coverage.

Each real sample rᵢ gets the radius NND_k(rᵢ): the distance to its k-th nearest *other* real
sample (likewise for fake samples); B(x, r) is the closed ball.

* Precision / recall (Kynkäänniemi et al. 2019, eq. 1-2; k=3): precision is the fraction of fake
  samples inside some real ball B(rᵢ, NND_k(rᵢ)); recall is the fraction of real samples inside
  some fake ball B(fⱼ, NND_k(fⱼ)).
* Density / coverage (Naeem et al. 2020, eq. 3-4; k=5): density = 1/(kM) Σⱼ Σᵢ 1[fⱼ ∈ B(rᵢ, NND_k(rᵢ))]
  (can exceed 1); coverage = 1/N Σᵢ 1[∃j fⱼ ∈ B(rᵢ, NND_k(rᵢ))].

Distances come from ``torch.cdist`` in float64, in row chunks of at most ``chunk_elems`` entries,
so 10k × 10k sets never build a full distance matrix. Distances are only compared, never summed.
The balls are closed (≤), as in Kynkäänniemi et al.'s code; ties only matter for hand-made sets.
"""
from __future__ import annotations

import torch

from ._util import _features

__all__ = ["prdc", "precision_recall", "density_coverage"]

_CHUNK_ELEMS = 1 << 24  # 16M float64 distances (128 MiB) per chunk


def _tensor(x, name: str, k: int) -> torch.Tensor:
    a = _features(x, name, min_rows=k + 1)  # k neighbours besides the point itself
    return torch.from_numpy(a)


def _chunks(n_rows: int, n_cols: int, chunk_elems: int):
    step = max(1, chunk_elems // max(n_cols, 1))
    for lo in range(0, n_rows, step):
        yield lo, min(lo + step, n_rows)


def _knn_radii(x: torch.Tensor, k: int, chunk_elems: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row (self excluded by index)."""
    n = x.shape[0]
    radii = torch.empty(n, dtype=x.dtype)
    for lo, hi in _chunks(n, n, chunk_elems):
        d = torch.cdist(x[lo:hi], x)
        rows = torch.arange(hi - lo)
        d[rows, rows + lo] = float("inf")
        radii[lo:hi] = d.topk(k, dim=1, largest=False).values[:, k - 1]
    return radii


def _prdc(real, fake, k_pr: int | None, k_dc: int | None, chunk_elems: int) -> dict[str, float]:
    k_max = max(k for k in (k_pr, k_dc) if k is not None)
    r, f = _tensor(real, "real", k_max), _tensor(fake, "fake", k_pr or 0)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"prdc: feature dims differ ({r.shape[1]} vs {f.shape[1]})")
    n_real, n_fake = r.shape[0], f.shape[0]
    r_pr = _knn_radii(r, k_pr, chunk_elems) if k_pr else None
    f_pr = _knn_radii(f, k_pr, chunk_elems) if k_pr else None
    r_dc = _knn_radii(r, k_dc, chunk_elems) if k_dc else None
    fake_in_real = torch.zeros(n_fake, dtype=torch.bool)
    real_in_fake = torch.zeros(n_real, dtype=torch.bool)
    covered = torch.zeros(n_real, dtype=torch.bool)
    density_count = torch.zeros(n_fake, dtype=torch.int64)
    for lo, hi in _chunks(n_real, n_fake, chunk_elems):
        d = torch.cdist(r[lo:hi], f)  # (chunk of real, fake)
        if k_pr:
            fake_in_real |= (d <= r_pr[lo:hi, None]).any(dim=0)
            real_in_fake[lo:hi] = (d <= f_pr[None, :]).any(dim=1)
        if k_dc:
            inside = d <= r_dc[lo:hi, None]
            density_count += inside.sum(dim=0)
            covered[lo:hi] = inside.any(dim=1)
    out = {}
    if k_pr:
        out["precision"] = fake_in_real.double().mean().item()
        out["recall"] = real_in_fake.double().mean().item()
    if k_dc:
        out["density"] = density_count.double().mean().item() / k_dc
        out["coverage"] = covered.double().mean().item()
    return out


def _check_k(name: str, k: int) -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k}")
    return int(k)


def precision_recall(real, fake, k: int = 3, *, chunk_elems: int = _CHUNK_ELEMS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``fake`` against ``real``."""
    out = _prdc(real, fake, _check_k("k", k), None, chunk_elems)
    return out["precision"], out["recall"]


def density_coverage(real, fake, k: int = 5, *, chunk_elems: int = _CHUNK_ELEMS) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) of ``fake`` against ``real``."""
    out = _prdc(real, fake, None, _check_k("k", k), chunk_elems)
    return out["density"], out["coverage"]


def prdc(real, fake, k_pr: int = 3, k_dc: int = 5, *, chunk_elems: int = _CHUNK_ELEMS) -> dict[str, float]:
    """``{"precision", "recall", "density", "coverage"}`` in one pass over the real-fake distances."""
    return _prdc(real, fake, _check_k("k_pr", k_pr), _check_k("k_dc", k_dc), chunk_elems)
