"""Feature extractors by name: the ``--extractor`` choices of ``gankit evaluate``.

``lenet`` and ``pixels`` need no download; ``inception`` (FID), ``dinov2`` (FD-DINOv2) and ``clip``
(CMMD) read published weights, found locally or fetched with ``download=True`` and hash-checked
(:mod:`gankit.metrics.weights`).
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import GankitError
from ..utils.io import file_digest
from .features import FeatureExtractor, InceptionExtractor, LeNetExtractor, PixelExtractor
from .foundation import build_foundation_extractor
from .inception import find_inception_weights, load_inception
from .lenet import load_evaluator

__all__ = ["EXTRACTORS", "build_extractor"]

EXTRACTORS = ("lenet", "inception", "pixels", "dinov2", "clip")


def build_extractor(name: str, *, evaluator=None, inception_weights=None, device: str | torch.device = "cpu",
                    is_logits: str = "unbiased", resize: str = "legacy-pytorch-fid",
                    weights=None, download: bool = False) -> FeatureExtractor:
    """The extractor ``name`` (one of :data:`EXTRACTORS`); ``evaluator`` is a folder or a loaded
    LeNet for ``lenet``, ``inception_weights`` a file or folder for ``inception``, ``weights`` a
    file for ``dinov2`` / ``clip``; ``is_logits`` and ``resize`` as :class:`InceptionExtractor`."""
    if name == "lenet":
        if evaluator is None:
            raise GankitError("the lenet extractor needs an evaluator; train one with "
                              "`gankit train-evaluator --data DATA --out DIR` and pass --evaluator DIR")
        if not isinstance(evaluator, nn.Module):
            evaluator = load_evaluator(evaluator, device)
        return LeNetExtractor(evaluator, device)
    if name == "inception":
        file = find_inception_weights(inception_weights, download)
        return InceptionExtractor(load_inception(file, device), device, file_digest(file)[:16], is_logits, resize)
    if name in ("dinov2", "clip"):
        return build_foundation_extractor(name, weights=weights, download=download, device=device)
    if name == "pixels":
        return PixelExtractor(device)
    raise GankitError(f"unknown extractor {name!r}; choose one of: {', '.join(EXTRACTORS)}")
