"""Mode counting on Stacked MNIST (Metz et al. 2017, §3.3; Srivastava et al. 2017, §5.2).

A pretrained digit classifier labels each of the three channels; the triple is one of 1,000
modes, ``100·d_R + 10·d_G + d_B``. Reported: how many modes receive at least one sample, and
KL(q || uniform) of the mode histogram q (0 for a balanced sampler, log 1000 ≈ 6.91 for a
fully collapsed one). The papers use 25,600 (VEEGAN, PacGAN) or 26,000 samples.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .features import LeNetExtractor
from .modes import class_distribution_kl, count_modes

__all__ = ["stacked_mnist_modes", "stacked_labels"]

#: a channel reading is "uncertain" when its top class has probability below this
UNCERTAIN_BELOW = 0.9


def _extractor(classifier) -> LeNetExtractor:
    return classifier if isinstance(classifier, LeNetExtractor) else LeNetExtractor(classifier)


def _stacked_logp(images: Tensor, ext: LeNetExtractor) -> Tensor:
    """(N, 1000) joint log-probabilities: the sum of the three channels' log-softmaxes."""
    if images.dim() != 4 or images.shape[1] != 3 * ext.model.in_channels or ext.num_classes != 10:
        raise ValueError(f"stacked_mnist_modes expects (N, 3, H, W) images and a 10-class classifier, "
                         f"got {tuple(images.shape)}")
    return ext.extract(images)["logits"]


def stacked_labels(images: Tensor, classifier: nn.Module | LeNetExtractor) -> Tensor:
    """The joint class ``100·d_R + 10·d_G + d_B`` of (N, 3, H, W) images in [-1, 1]."""
    return _stacked_logp(images, _extractor(classifier)).argmax(1)


def stacked_mnist_modes(images: Tensor, classifier: nn.Module | LeNetExtractor,
                        confident: float = UNCERTAIN_BELOW) -> dict:
    """``{"modes", "num_modes", "kl", "digit_kl", "uncertain"}`` of Stacked MNIST images under a
    10-class ``classifier``.

    Two diagnostics of where ``kl`` comes from: ``digit_kl``, each channel's KL(digit histogram ||
    uniform over 10) — when the channels are independent the joint ``kl`` is about their sum plus the
    finite-sample floor (≈ 999 / 2N for a uniform sampler); and ``uncertain``, the share of channel
    readings whose top class has probability below ``confident`` (for real digits about 1%; badly drawn
    digits fall into a few "sink" classes and unbalance the histogram)."""
    logp = _stacked_logp(images, _extractor(classifier))
    labels = logp.argmax(1)
    channel_p = [logp.view(-1, 10, 10, 10).logsumexp(dims).exp() for dims in ((2, 3), (1, 3), (1, 2))]
    return {"modes": count_modes(labels, 1000), "num_modes": 1000, "kl": class_distribution_kl(labels, 1000),
            "digit_kl": [class_distribution_kl(p.argmax(1), 10) for p in channel_p],
            "uncertain": float(torch.cat([p.amax(1) for p in channel_p]).lt(confident).float().mean())}
