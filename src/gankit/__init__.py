"""gankit: Generative Adversarial Networks on PyTorch — the GAN family, one trainer, honest metrics.

``import gankit`` is light (no torch): the names below load on first use.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {"TrainConfig": "gankit.config", "Trainer": "gankit.training", "train": "gankit.training",
         "load": "gankit.pretrained", "Run": "gankit.runs"}
__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in ("translation", "models", "losses", "data", "metrics", "analysis", "training", "serve", "sampling"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
