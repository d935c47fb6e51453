"""Mode counting on Stacked MNIST (Metz et al. 2017, §3.3; Srivastava et al. 2017, §5.2).

A pretrained digit classifier labels each of the three channels; the triple is one of 1,000
modes, ``100·d_R + 10·d_G + d_B``. Reported: how many modes receive at least one sample, and
KL(q || uniform) of the mode histogram q (0 for a balanced sampler, log 1000 ≈ 6.91 for a
fully collapsed one). The papers use 25,600 (VEEGAN, PacGAN) or 26,000 samples.
"""
from __future__ import annotations

from torch import Tensor, nn

from .features import LeNetExtractor
from .modes import class_distribution_kl, count_modes

__all__ = ["stacked_mnist_modes", "stacked_labels"]


def _extractor(classifier) -> LeNetExtractor:
    return classifier if isinstance(classifier, LeNetExtractor) else LeNetExtractor(classifier)


def stacked_labels(images: Tensor, classifier: nn.Module | LeNetExtractor) -> Tensor:
    """The joint class ``100·d_R + 10·d_G + d_B`` of (N, 3, H, W) images in [-1, 1]."""
    ext = _extractor(classifier)
    if images.dim() != 4 or images.shape[1] != 3 * ext.model.in_channels:
        raise ValueError(f"stacked_mnist_modes expects (N, 3, H, W) images, got {tuple(images.shape)}")
    return ext.extract(images)["logits"].argmax(1)


def stacked_mnist_modes(images: Tensor, classifier: nn.Module | LeNetExtractor) -> dict:
    """``{"modes", "num_modes", "kl"}`` of Stacked MNIST images under a 10-class ``classifier``."""
    ext = _extractor(classifier)
    labels = stacked_labels(images, ext)
    k = ext.num_classes ** 3
    return {"modes": count_modes(labels, k), "num_modes": k, "kl": class_distribution_kl(labels, k)}
