"""Augmentations of the discriminator's input, for GANs trained on little data.

An augmentation is one small registered class in ``AUGMENTATIONS`` (``--augment NAME``): called on a
batch of images in [-1, 1] it returns the batch as D sees it. The game applies it in one place, D's
input (``NoiseGame.d_input``): to the reals and the fakes of D's step, to the fakes of G's step
(differentiably: G's gradient flows back through it), and therefore also to what R1/R2 differentiate
(the gradient is taken w.r.t. the un-augmented batch, through the augmentation, as in
stylegan2-ada-pytorch's ``training/loss.py``). Every op draws its parameters per sample, independently,
from torch's global generator (seeded by ``--seed``, saved in checkpoints): "the same augmentation for
real and fake" means the same pipeline, policy and strength (and ADA's p), not the same draw.

- ``diffaug``: DiffAugment (Zhao et al. 2020), the policy ``color,translation,cutout``.
- ``ada``: adaptive discriminator augmentation (Karras et al. 2020), whose probability p follows the
  over-fitting heuristic r_t = E[sign(D(x_real))] (Eq. 1) toward a target.
"""
from __future__ import annotations

from ..registry import Registry
from .base import Augmentation
from .diffaug import DiffAugment
from .ada import AdaptiveAugment

AUGMENTATIONS: Registry[type[Augmentation]] = Registry("augmentation")
AUGMENTATIONS.register("diffaug")(DiffAugment)
AUGMENTATIONS.register("ada")(AdaptiveAugment)


def build_augmentation(cfg) -> Augmentation | None:
    """The augmentation ``cfg.augment`` names, or None for ``none``."""
    if cfg.augment == "none":
        return None
    return AUGMENTATIONS.get(cfg.augment).from_config(cfg)


def check_augment(cfg) -> None:
    """Raise ConfigError (one line) when the augmentation or its policy cannot be used."""
    from ..errors import ConfigError

    if cfg.augment == "none":
        return
    try:
        cls = AUGMENTATIONS.get(cfg.augment)
    except ValueError as e:
        raise ConfigError(f"{e}, or none") from None
    cls.parse_policy(cfg.augment_policy)


__all__ = ["AUGMENTATIONS", "Augmentation", "AdaptiveAugment", "DiffAugment", "build_augmentation", "check_augment"]
