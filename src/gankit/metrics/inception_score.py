"""Inception Score (Salimans et al. 2016, §4): IS = exp(E_x KL(p(y|x) || p(y))).

The N predictions are cut into ``splits`` consecutive parts (boundaries ``i·N // splits``, as in
the original code); p(y) is each part's mean prediction, and the score is the mean ± std
(``ddof=0``) of the per-part scores. Computed in float64 with 0·log 0 = 0; logits go through
``log_softmax``. Shuffle beforehand if the order of the predictions is not random.
"""
from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, xlogy

from ._util import _to_numpy

__all__ = ["inception_score"]


def inception_score(probs_or_logits, splits: int = 10, from_logits: bool = False) -> tuple[float, float]:
    """(mean, std) Inception Score of ``(N, C)`` class probabilities, or logits with ``from_logits``."""
    x = _to_numpy(probs_or_logits)
    if x.ndim != 2:
        raise ValueError(f"inception_score expects (N, C) predictions, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("inception_score: predictions contain NaN or inf")
    n = x.shape[0]
    if not 1 <= splits <= n:
        raise ValueError(f"inception_score: splits must be in [1, N={n}], got {splits}")
    if from_logits:
        log_p = log_softmax(x, axis=1)
        p = np.exp(log_p)
        neg_entropy = (p * log_p).sum(axis=1)
    else:
        if (x < 0).any() or not np.allclose(x.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError("inception_score: rows are not probabilities (use from_logits=True for logits)")
        p = x / x.sum(axis=1, keepdims=True)
        neg_entropy = xlogy(p, p).sum(axis=1)
    scores = np.empty(splits)
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        part = p[lo:hi]
        p_y = part.mean(axis=0)
        kl = neg_entropy[lo:hi] - xlogy(part, p_y).sum(axis=1)
        scores[i] = np.exp(kl.mean())
    return float(scores.mean()), float(scores.std())
