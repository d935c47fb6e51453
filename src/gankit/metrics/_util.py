"""Small input helpers shared by the metric functions: numpy arrays or torch tensors accepted."""
from __future__ import annotations

import numpy as np
import torch


def _to_numpy(x, dtype=np.float64) -> np.ndarray:
    """``x`` (array-like or tensor, on any device) as a numpy array of ``dtype`` (``None`` keeps it)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _features(x, name: str = "features", min_rows: int = 1) -> np.ndarray:
    """``x`` as a finite float64 ``(N, D)`` matrix with at least ``min_rows`` rows."""
    a = _to_numpy(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {a.shape}")
    if a.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {a.shape[0]}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a
