"""Reference features of real data, computed once per (dataset, split, size, extractor) and stored.

A cache entry is one safetensors file (never a pickle) in the cache folder (default
``~/.cache/gankit/stats``; ``$GANKIT_CACHE`` or ``cache_dir`` override it) holding the reference
set's ``features`` (float32), ``logits`` (when the extractor has a classifier), ``labels`` (when
the data has them), and their FID statistics ``mu`` / ``sigma`` (float64). Its name is the key::

    <dataset>-<split>-<size>px-<extractor>-<weights hash>-n<count>-<data hash>.safetensors

The data hash (of the image bytes and labels) keeps two folders or roots of the same dataset
apart; the weights hash keeps evaluators apart. Files are written atomically, so an interrupted
computation leaves no partial entry, and an unreadable entry, or one whose shapes do not fit (count,
feature or logit width), is recomputed with a one-line warning. Writers hold a shared ``flock`` on
``.lock`` in the folder; the first use of the cache by a :class:`FeatureCache` that gets it
exclusively (no writer is active) deletes the temporary files killed writers left.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..utils.io import FolderLock, remove_stale, temp_files
from .features import FeatureExtractor
from .frechet import feature_statistics

log = logging.getLogger(__name__)

__all__ = ["FeatureCache", "ReferenceFeatures", "default_cache_dir", "data_fingerprint", "CACHE_ENV"]

CACHE_ENV = "GANKIT_CACHE"
MAX_REFERENCE = 50_000  # FID's customary reference size; larger splits use a seeded subset


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gankit" / "stats"


def data_fingerprint(x: Tensor, y: Tensor | None = None) -> str:
    """A short hash of a dataset's samples (and labels): same data, same fingerprint."""
    h = hashlib.sha256()
    h.update(str(tuple(x.shape)).encode())
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    if y is not None:
        h.update(y.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


@dataclass
class ReferenceFeatures:
    """Features of the reference (real) set, with their FID statistics."""

    features: Tensor             # (N, D) float32
    logits: Tensor | None        # (N, C) float32
    labels: Tensor | None        # (N,) int64
    mu: np.ndarray               # (D,) float64
    sigma: np.ndarray            # (D, D) float64
    path: Path
    cached: bool                 # True when read from the cache, False when just computed


def _slug(s) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", str(s)).strip("_") or "none"


class FeatureCache:
    """Reference features on disk; ``computed`` counts the entries this object had to compute."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else default_cache_dir()
        self.computed = 0
        self._cleaned = False

    def clean(self) -> None:
        """Delete the temporary files of writers that were killed (only when no writer is active)."""
        self._cleaned = True
        lock = FolderLock(self.root)
        if self.root.is_dir() and lock.acquire():
            count, size = remove_stale(temp_files(self.root))
            lock.release()
            if count:
                log.info("removed %d temporary file(s) (%.1f MB) left in %s by interrupted computations",
                         count, size / 1e6, self.root)

    def key(self, dataset: str, split: str, size: int, extractor: FeatureExtractor, count: int,
            fingerprint: str) -> str:
        return "-".join([_slug(dataset), _slug(split), f"{int(size)}px", _slug(extractor.key()),
                         f"n{int(count)}", _slug(fingerprint)])

    def reference(self, data, extractor: FeatureExtractor, *, dataset: str, split: str,
                  max_count: int = MAX_REFERENCE) -> ReferenceFeatures:
        """The extractor's features of ``data`` (a TensorData of images), from the cache if present.

        Sets larger than ``max_count`` are replaced by a seeded (seed 0) subset of that size.
        """
        idx = torch.arange(len(data))
        if len(data) > max_count:
            idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:max_count].sort().values
        x = data.x[idx]
        y = None if data.y is None else data.y[idx]
        key = self.key(dataset, split, x.shape[-1], extractor, len(idx), data_fingerprint(x, y))
        path = self.root / f"{key}.safetensors"
        if not self._cleaned:
            self.clean()
        if path.is_file():
            entry, problem = self._read(path, len(idx), extractor.extract(x[:1]), y is not None)
            if entry is not None:
                return entry
            log.warning("cached features %s are %s; recomputing them", path, problem)
        self.root.mkdir(parents=True, exist_ok=True)
        writing = FolderLock(self.root, shared=True)  # keeps clean() off this computation's temp files
        writing.acquire(blocking=True)
        try:
            return self._compute(path, key, x, y, extractor, dataset, split)
        finally:
            writing.release()

    def _compute(self, path, key, x, y, extractor, dataset, split) -> ReferenceFeatures:
        out = extractor.extract(x)
        self.computed += 1
        mu, sigma = feature_statistics(out["features"])
        tensors = {"features": out["features"].contiguous(), "mu": torch.from_numpy(mu),
                   "sigma": torch.from_numpy(np.ascontiguousarray(sigma))}
        if "logits" in out:
            tensors["logits"] = out["logits"].contiguous()
        if y is not None:
            tensors["labels"] = y.to(torch.int64).contiguous()
        self._write(path, tensors, {"key": key, "dataset": dataset, "split": split,
                                    "extractor": extractor.key(), "count": str(len(x))})
        return ReferenceFeatures(out["features"], out.get("logits"), tensors.get("labels"), mu, sigma,
                                 path, cached=False)

    def _write(self, path: Path, tensors: dict, metadata: dict) -> None:
        from safetensors.torch import save_file

        from ..utils.io import atomic_write

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda p: save_file(tensors, str(p), metadata=metadata))

    @staticmethod
    def _read(path: Path, count: int, probe: dict, labelled: bool) -> tuple[ReferenceFeatures | None, str]:
        """The entry at ``path`` if it is readable and fits (``count`` rows; the widths of ``probe``,
        the extractor's output for one image), else (None, what is wrong)."""
        from safetensors.torch import load_file

        try:
            t = load_file(str(path))
            f, mu, sigma = t["features"], t["mu"], t["sigma"]
        except Exception:  # truncated or foreign file: recompute and overwrite it
            return None, "unreadable"
        width = probe["features"].shape[1]
        want = {"features": (count, width), "mu": (width,), "sigma": (width, width)}
        if "logits" in probe:
            want["logits"] = (count, probe["logits"].shape[1])
        if labelled:
            want["labels"] = (count,)
        wrong = [f"{k} {tuple(t[k].shape) if k in t else 'missing'} instead of {v}" for k, v in want.items()
                 if k not in t or tuple(t[k].shape) != v]
        if wrong:
            return None, f"of the wrong shape ({'; '.join(wrong)})"
        return ReferenceFeatures(f, t.get("logits"), t.get("labels"), mu.numpy(), sigma.numpy(), path,
                                 cached=True), ""
