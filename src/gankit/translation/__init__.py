"""Image-to-image translation on gankit's trainer: pix2pix (Isola et al. 2017) and CycleGAN
(Zhu et al. 2017). Registers the models, their games and the translation datasets by name::

    gankit train --model pix2pix --data edges2mnist --data-root ../shared/data/mnist --split test
    gankit train --model cyclegan --loss lsgan --data digits2inverted
    gankit translate RUN input.png --out translated/

``gankit.load(run)`` returns the generator; ``G.translate(x, "ab")`` (or ``"ba"`` for CycleGAN)
maps images in [-1, 1].
"""
from __future__ import annotations

from ..data import DATASETS
from ..errors import ConfigError
from ..losses import OBJECTIVES, effective_gp_weight
from ..models import MODELS
from ..models.network import add_spectral_norm
from ..training.games import GAMES
from .data import ImagePairs, load_paired_folder, load_unpaired_folder, read_image
from .games import CycleGANGame, ImagePool, Pix2PixGame
from .models import (CycleDiscriminators, CycleGenerators, PatchDiscriminator, ResnetGenerator, Translator, UNet,
                     patch_layers, receptive_field)
from .tasks import load_digits2inverted, load_edges2mnist, load_mnist2digits, sobel_edges

PAIRED_DATA = {"edges2mnist": load_edges2mnist, "paired-folder": load_paired_folder}
UNPAIRED_DATA = {"mnist2digits": load_mnist2digits, "digits2inverted": load_digits2inverted,
                 "unpaired-folder": load_unpaired_folder}
for _name, _loader in {**PAIRED_DATA, **UNPAIRED_DATA}.items():
    DATASETS.register(_name)(_loader)


def _check(cfg, spec, paired_only: bool) -> tuple[int, int]:
    """Refuse what the translation games do not implement; returns (channels, size)."""
    names = sorted(PAIRED_DATA) if paired_only else sorted({**PAIRED_DATA, **UNPAIRED_DATA})
    if cfg.data not in names:
        raise ConfigError(f"--model {cfg.model} translates between two image domains; --data {cfg.data} is not "
                          f"one: use {', '.join(names)}")
    if effective_gp_weight(cfg.loss, cfg.gp_weight) > 0 or cfg.r1_gamma > 0 or cfg.r2_gamma > 0 or cfg.pack > 1:
        raise ConfigError(f"--model {cfg.model} supports no gradient penalty, R1/R2 or --pack; use --loss "
                          f"{'nonsaturating' if cfg.model == 'pix2pix' else 'lsgan'} and drop those options")
    if OBJECTIVES.get(cfg.loss).relativistic:
        raise ConfigError(f"--model {cfg.model} has no relativistic objective (--loss {cfg.loss} pairs noise samples "
                          f"with data); use --loss {'nonsaturating' if cfg.model == 'pix2pix' else 'lsgan'}")
    return spec.shape[0], max(spec.shape[1:])


def _d_norm(cfg, paper: str) -> str:
    if cfg.d_norm == "auto":
        return "none" if cfg.spectral_norm else paper
    return cfg.d_norm


@MODELS.register("pix2pix")
def build_pix2pix(cfg, spec):
    """Isola et al. 2017: U-Net G (``g_width``, ``g_norm``), conditional PatchGAN D (``d_width``)."""
    c, size = _check(cfg, spec, paired_only=True)
    g = UNet(c, c, size, cfg.g_width, norm=cfg.g_norm)
    d = PatchDiscriminator(c, cfg.d_width, patch_layers(size), _d_norm(cfg, "batch"), condition_channels=c)
    return g, add_spectral_norm(d) if cfg.spectral_norm else d


@MODELS.register("cyclegan")
def build_cyclegan(cfg, spec):
    """Zhu et al. 2017: two ResNet generators (instance norm) and two PatchGAN Ds, as ModuleDicts."""
    c, size = _check(cfg, spec, paired_only=False)
    g = CycleGenerators(*(ResnetGenerator(c, c, size, cfg.g_width) for _ in range(2)))
    d = CycleDiscriminators(*(PatchDiscriminator(c, cfg.d_width, patch_layers(size), _d_norm(cfg, "instance"))
                              for _ in range(2)))
    return g, add_spectral_norm(d) if cfg.spectral_norm else d


GAMES.register("pix2pix")(Pix2PixGame)
GAMES.register("cyclegan")(CycleGANGame)

__all__ = ["UNet", "PatchDiscriminator", "ResnetGenerator", "CycleGenerators", "CycleDiscriminators", "Translator",
           "Pix2PixGame", "CycleGANGame", "ImagePool", "ImagePairs", "sobel_edges", "read_image",
           "patch_layers", "receptive_field", "build_pix2pix", "build_cyclegan"]
