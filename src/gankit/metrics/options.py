"""The options of one evaluation (``gankit evaluate RUN``), in one object checked in one place."""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

from ..errors import GankitError
from .cache import MAX_REFERENCE, FeatureCache
from .features import FeatureExtractor
from .registry import parse_metrics

__all__ = ["EvalOptions"]


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate a run; :func:`gankit.metrics.evaluate_run` takes one (or its fields as keywords).

    ``metrics``: names or ``"fid,kid"`` (None: every metric that applies). ``n`` samples with noise
    from ``seed``. ``extractor``: ``"lenet"`` (needs ``evaluator``, a folder from ``gankit
    train-evaluator`` or a loaded LeNet), ``"inception"`` (``inception_weights``), ``"pixels"``, or a
    FeatureExtractor; with another extractor, an ``evaluator`` still provides the class metrics.
    Real features are cached in ``cache`` (default: a FeatureCache in ``cache_dir``), from at most
    ``n_ref`` real images. ``ema``: the EMA weights when kept. ``write``: eval.json and eval.md.
    ``is_logits``: Inception's IS logits, ``"unbiased"`` (pool3·Wᵀ, default) or ``"biased"``;
    ``resize``: ``"legacy-pytorch-fid"`` (default) or ``"clean"``. ``weights``/``download``: the
    dinov2 / clip extractors' weights file, or an opt-in, hash-checked download.
    """

    metrics: str | list[str] | None = None
    n: int = 10_000
    seed: int = 0
    extractor: str | FeatureExtractor = "lenet"
    evaluator: object = None
    inception_weights: str | Path | None = None
    cache_dir: str | Path | None = None
    n_ref: int = MAX_REFERENCE
    ema: bool = True
    device: str = "cpu"
    batch_size: int = 500
    write: bool = True
    cache: FeatureCache | None = None
    is_logits: str = "unbiased"
    resize: str = "legacy-pytorch-fid"
    weights: str | Path | None = None
    download: bool = False

    def validate(self) -> EvalOptions:
        """``self``, or a one-line GankitError naming the first bad value."""
        for flag, value, least in (("--n", self.n, 2), ("--n-ref", self.n_ref, 2),
                                   ("--batch-size", self.batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise GankitError(f"{flag} must be a whole number (got {value!r})")
            if value < least:
                raise GankitError(f"{flag} must be at least {least} (got {value})")
        if self.metrics is not None:
            parse_metrics(self.metrics)
        from .features import IS_LOGITS, RESIZE_MODES

        for flag, value, choices in (("--is-logits", self.is_logits, IS_LOGITS), ("--resize", self.resize, RESIZE_MODES)):
            if value not in choices:
                raise GankitError(f"{flag} must be one of {', '.join(choices)} (got {value!r})")
        return self

    def feature_cache(self) -> FeatureCache:
        """The reference-feature cache: ``cache``, or one in ``cache_dir``."""
        return self.cache if self.cache is not None else FeatureCache(self.cache_dir)
