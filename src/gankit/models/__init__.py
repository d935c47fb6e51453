"""Model families by name. A builder takes (config, DataSpec) and returns (generator, discriminator)."""
from __future__ import annotations

import math

from torch import nn

from ..errors import ConfigError
from ..registry import Registry
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .layers import GeneratorBase, source_logits
from .network import add_spectral_norm
from .mlp import MLPDiscriminator, MLPGenerator
from .r3gan import R3GANDiscriminator, R3GANGenerator, r3gan_geometry

MODELS: Registry = Registry("model")
MODELS.lazy(("pix2pix", "cyclegan"), "gankit.translation")  # image-to-image: registered there


def d_norm(cfg) -> str:
    """'auto': batchnorm (DCGAN), but none under spectral norm and layer norm under a gradient
    penalty (batchnorm couples samples, which WGAN-GP's per-sample penalty forbids)."""
    if cfg.d_norm != "auto":
        return cfg.d_norm
    from ..losses import effective_gp_weight

    if cfg.spectral_norm:
        return "none"
    return "layer" if effective_gp_weight(cfg.loss, cfg.gp_weight) > 0 else "batch"


def pack(x, m: int):
    """PacGAN (Lin et al. 2018, Sec. 3): D judges m samples jointly, concatenated along the first
    feature axis (channels for images): (B, C, ...) -> (B/m, m*C, ...)."""
    return x if m == 1 else x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


def _build(cfg, spec, backbone: str, num_classes: int, conditioning: str, aux: int):
    if cfg.pack > 1 and (num_classes or aux):
        raise ConfigError("--pack (PacGAN) works with unconditional models only; use --model mlp or dcgan")
    d_shape = (spec.shape[0] * cfg.pack, *spec.shape[1:])  # the packed input D sees
    if cfg.latent_categories and backbone == "r3gan":
        raise ConfigError("--latent-categories works with the MLP and DCGAN generators (--model mlp / dcgan, or "
                          "cgan / acgan --backbone mlp / dcgan), not the r3gan backbone")
    if backbone == "mlp":
        g = MLPGenerator(spec.shape, cfg.z_dim, cfg.g_hidden, num_classes, cfg.embed_dim, tanh=spec.kind == "image",
                         latent_categories=cfg.latent_categories)
        d = MLPDiscriminator(d_shape, cfg.d_hidden, cfg.dropout, num_classes if conditioning else 0,
                             cfg.embed_dim, aux)
    elif backbone == "r3gan":
        g, d = _build_r3gan(cfg, spec, d_shape[0], num_classes if conditioning else 0, aux)
    else:
        if spec.kind != "image" or spec.shape[1] != spec.shape[2]:
            raise ConfigError(f"the dcgan architecture needs square images, but {cfg.data} gives shape "
                              f"{spec.shape}; use --model mlp for 2-D point data")
        c, size = spec.shape[0], spec.shape[1]
        g = DCGANGenerator(c, size, cfg.z_dim, cfg.g_width, num_classes, cfg.embed_dim, cfg.g_norm,
                           latent_categories=cfg.latent_categories)
        d = DCGANDiscriminator(d_shape[0], size, cfg.d_width, d_norm(cfg), num_classes if conditioning else 0,
                               conditioning or "concat", aux)
    if cfg.spectral_norm:
        add_spectral_norm(d)
    return g, d


def _build_r3gan(cfg, spec, d_channels: int, num_classes: int, aux: int):
    if spec.kind != "image" or spec.shape[1] != spec.shape[2]:
        raise ConfigError(f"the r3gan architecture needs square images, but {cfg.data} gives shape {spec.shape}; "
                          f"use --model mlp for 2-D point data")
    if aux or (num_classes and cfg.conditioning != "projection"):
        raise ConfigError("the r3gan backbone conditions D by projection only (as the paper's CIFAR-10 model); "
                          "use --model cgan --backbone r3gan --conditioning projection")
    if cfg.spectral_norm:  # each residual branch's last conv starts at zero (fix-up): sigma = 0 gives NaN
        raise ConfigError("--spectral-norm does not apply to the r3gan backbone: its residual branches start at "
                          "zero weight (fix-up), which spectral norm divides by its zero norm; R3GAN uses R1 + R2 "
                          "instead (--r1-gamma / --r2-gamma): drop --spectral-norm")
    c, size = spec.shape[0], spec.shape[1]
    shared = dict(blocks=cfg.r3gan_blocks or 2, expansion=cfg.expansion, group_width=cfg.group_width)
    try:  # the networks' own checks (a bad image size) as one-line errors, after ours that name the options
        _check_r3gan_lists(cfg, size)
        g = R3GANGenerator(c, size, cfg.z_dim, cfg.r3gan_widths or cfg.g_width, num_classes=num_classes,
                           embed_dim=cfg.embed_dim, **shared)
        d = R3GANDiscriminator(d_channels, size, cfg.r3gan_widths or cfg.d_width, num_classes=num_classes, **shared)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return g, d


def _check_r3gan_lists(cfg, size: int) -> None:
    """One line naming the option and the fix where --r3gan-widths / --r3gan-blocks has the wrong length for
    the image size, or --group-width does not divide an expanded width."""
    base, stages = r3gan_geometry(size)
    sides = ", ".join(str(base * 2 ** i) for i in range(stages))
    for option, values in (("--r3gan-widths", cfg.r3gan_widths), ("--r3gan-blocks", cfg.r3gan_blocks)):
        if values is not None and len(values) != stages:
            n = len(values)
            other = f", or --image-size {base * 2 ** (n - 1)} for {n}" if n >= 2 else ""
            raise ConfigError(f"{option} needs {stages} values at {size} px, one per resolution ({sides}), got "
                              f"{n} ({' '.join(map(str, values))}): pass {stages} values{other}")
    expanded = [w * cfg.expansion for w in (cfg.r3gan_widths or (cfg.g_width, cfg.d_width))]
    bad = next((e for e in expanded if e % cfg.group_width), None)
    if bad is not None:
        raise ConfigError(f"--group-width {cfg.group_width} must divide every expanded width (width x --expansion "
                          f"{cfg.expansion}), and does not divide {bad}: pick a --group-width that divides "
                          f"{math.gcd(*expanded)}, or widths that are multiples of it")


def _need_labels(cfg, spec):
    if not spec.num_classes:
        raise ConfigError(f"--model {cfg.model} needs labelled data, and {cfg.data} has no labels; "
                          f"use --model dcgan or mlp, or a labelled dataset")
    return spec.num_classes


@MODELS.register("mlp")
def build_mlp(cfg, spec):
    """Goodfellow et al. 2014: fully connected G and D."""
    return _build(cfg, spec, "mlp", 0, None, 0)


@MODELS.register("dcgan")
def build_dcgan(cfg, spec):
    """Radford et al. 2016: the all-convolutional DCGAN."""
    return _build(cfg, spec, "dcgan", 0, None, 0)


@MODELS.register("r3gan")
def build_r3gan(cfg, spec):
    """Huang et al. 2024: the R3GAN ResNet G and D (grouped bottleneck blocks, fix-up init, no norm)."""
    return _build(cfg, spec, "r3gan", 0, None, 0)


@MODELS.register("cgan")
def build_cgan(cfg, spec):
    """Mirza & Osindero 2014: G and D both see the label (concat, or projection D)."""
    return _build(cfg, spec, cfg.backbone, _need_labels(cfg, spec), cfg.conditioning, 0)


@MODELS.register("acgan")
def build_acgan(cfg, spec):
    """Odena et al. 2017: conditional G; D predicts source and class."""
    k = _need_labels(cfg, spec)
    return _build(cfg, spec, cfg.backbone, k, None, k)


def build_models(cfg, spec) -> tuple[nn.Module, nn.Module]:
    return MODELS.get(cfg.model)(cfg, spec)


__all__ = ["MODELS", "build_models", "pack", "GeneratorBase", "source_logits", "DCGANGenerator",
           "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator", "R3GANGenerator", "R3GANDiscriminator",
           "add_spectral_norm"]
