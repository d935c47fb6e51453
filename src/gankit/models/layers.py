"""Building blocks shared by the architectures: normalisation choice, init, spectral norm."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn


def norm2d(kind: str, channels: int) -> nn.Module:
    """'batch' (DCGAN), 'layer' (for gradient penalties, Gulrajani et al. 2017 Sec. 4) or 'none'."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of: batch, layer, none")


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016, Sec. 4: weights ~ N(0, 0.02); batchnorm scale ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every conv/linear weight of ``module``."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.utils.parametrizations.spectral_norm(m)
    return module


@contextlib.contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Run a block with ``modules`` in eval mode (batchnorm statistics frozen, dropout off) and
    without gradients; each module's previous mode is restored afterwards, even on error."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


class GeneratorBase(nn.Module):
    """A generator maps noise z ~ N(0, I) (and, if conditional, a label y) to a sample."""

    z_dim: int
    num_classes: int  # 0 = unconditional

    def sample_z(self, n: int, device=None, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.z_dim, device=device, generator=generator)

    def sample_labels(self, n: int, device=None, generator: torch.Generator | None = None) -> Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(0, self.num_classes, (n,), device=device, generator=generator)


def source_logits(out) -> Tensor:
    """A discriminator returns source logits, or ``(source, class_logits)`` for AC-GAN."""
    return out[0] if isinstance(out, tuple) else out


def sample(generator: GeneratorBase, n: int, labels=None, seed: int | None = None,
           device=None) -> Tensor:
    """n samples in the data range ([-1, 1] for images), in eval mode, without gradients.

    ``labels``: an int (all the same class), a sequence/tensor of n labels, or None (random
    labels for conditional generators). ``seed`` makes the noise reproducible.
    """
    device = device or next(generator.parameters()).device
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    z = torch.randn(n, generator.z_dim, generator=g).to(device)
    y = None
    if generator.num_classes:
        if labels is None:
            y = torch.randint(0, generator.num_classes, (n,), generator=g).to(device)
        else:
            y = torch.as_tensor(labels, dtype=torch.long, device=device).expand(n).clone() \
                if torch.as_tensor(labels).dim() == 0 else torch.as_tensor(labels, dtype=torch.long, device=device)
            if y.min() < 0 or y.max() >= generator.num_classes:
                raise ValueError(f"label out of range: this generator has classes 0..{generator.num_classes - 1}")
    elif labels is not None:
        raise ValueError("this generator is unconditional; drop the label")
    with evaluating(generator):
        return generator(z, y)


GeneratorBase.sample = sample
