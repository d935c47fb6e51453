"""DCGAN (Radford et al. 2016): all-convolutional G and D following the paper's guidelines —
strided convolutions in D, fractionally-strided ones in G, batchnorm in both (not on G's output
or D's input), ReLU in G with Tanh output, LeakyReLU(0.2) in D, no pooling, no hidden dense layers.

Sizes are ``base * 2**n`` with base 4 (8, 16, 32, 64, ...) or 7 (28). At size 64 with
``z_dim=100, width=64`` the networks are exactly pytorch/examples' dcgan (nz=100, ngf=ndf=64).
Conditioning options: ``concat`` embeds the label and concatenates it to z and, as an extra
image channel, to D's input (Mirza & Osindero 2014); ``projection`` adds <embed(y), phi(x)> to
D's logit (Miyato & Koyama 2018); ``aux_classes`` adds AC-GAN's class head (Odena et al. 2017).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError

from .latent import CategoricalCode
from .layers import GeneratorBase, dcgan_init, norm2d
from .smallconv import Conv2d, ConvTranspose2d
from .network import ConfigMixin


def _geometry(size: int) -> tuple[int, int]:
    """(base, n_up) with size == base * 2**n_up, n_up >= 1."""
    for base in (4, 7):
        n, s = 0, size
        while s > base and s % 2 == 0:
            s, n = s // 2, n + 1
        if s == base and n >= 1:
            return base, n
    raise ConfigError(f"DCGAN image size {size} is not 4*2^n or 7*2^n (e.g. 8, 16, 28, 32, 64); "
                      f"pass --image-size with one of those")


class DCGANGenerator(GeneratorBase):
    """``latent_categories`` K > 0: z's first coordinate becomes a K-way categorical code
    (:class:`~gankit.models.latent.CategoricalCode`), its one-hot scaled by ``latent_scale``, as in the
    MLP generator. The one-hot's share of the first layer is computed as the lookup it is
    (one_hot(k) W = W[k], ``code_map``), not as K mostly-zero input channels: with K = 1000 the
    concatenated form made a widths-32 Stacked MNIST G three times slower per step."""

    def __init__(self, channels: int, size: int, z_dim: int = 100, width: int = 64,
                 num_classes: int = 0, embed_dim: int = 0, norm: str = "batch",
                 latent_categories: int = 0, latent_scale: float = 10.0):
        super().__init__()
        base, n = _geometry(size)
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, (channels, size, size)
        embed_dim = embed_dim or (num_classes and max(num_classes, 10))
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.code = CategoricalCode(latent_categories, z_dim, latent_scale) if latent_categories else None
        c = width * 2 ** (n - 1)
        z_in = z_dim - 1 if self.code is not None else z_dim  # the code takes z's first coordinate
        layers = [ConvTranspose2d(z_in + (embed_dim if num_classes else 0), c, base, 1, 0, bias=False),
                  norm2d(norm, c), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), norm2d(norm, c // 2), nn.ReLU(True)]
            c //= 2
        layers += [ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        first = self.main[0]
        self.code_map = (nn.Embedding(latent_categories, first.out_channels * base * base)
                         if self.code is not None else None)
        dcgan_init(self)
        if self.code_map is not None:  # the rows of the first layer's weight the one-hot would select
            nn.init.normal_(self.code_map.weight, 0.0, 0.02)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        k = None
        if self.code is not None:
            k, z = self.code.code(z), z[:, 1:]
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        h = z[:, :, None, None]
        for i, layer in enumerate(self.main):
            h = layer(h)
            if i == 0 and k is not None:  # + scale * one_hot(k) W: the code's share of the first layer
                h = h + self.code.scale * self.code_map(k).to(h.dtype).view(h.shape)
        return h


class DCGANDiscriminator(ConfigMixin, nn.Module):
    def __init__(self, channels: int, size: int, width: int = 64, norm: str = "batch",
                 num_classes: int = 0, conditioning: str = "concat", aux_classes: int = 0):
        super().__init__()
        base, n = _geometry(size)
        self.num_classes, self.conditioning, self.size = num_classes, conditioning, size
        concat = bool(num_classes) and conditioning == "concat"
        self.label_map = nn.Embedding(num_classes, size * size) if concat else None
        layers = [Conv2d(channels + concat, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        c = width
        for _ in range(n - 1):
            layers += [Conv2d(c, c * 2, 4, 2, 1, bias=False), norm2d(norm, c * 2), nn.LeakyReLU(0.2, True)]
            c *= 2
        self.main = nn.Sequential(*layers)
        self.head = Conv2d(c, 1, base, 1, 0, bias=False)
        proj = bool(num_classes) and conditioning == "projection"
        self.projection = nn.Embedding(num_classes, c) if proj else None
        self.classifier = Conv2d(c, aux_classes, base, 1, 0) if aux_classes else None
        dcgan_init(self)

    def forward(self, x: Tensor, y: Tensor | None = None):
        if self.label_map is not None:
            x = torch.cat([x, self.label_map(y).view(-1, 1, self.size, self.size)], dim=1)
        h = self.main(x)
        logit = self.head(h).flatten()
        if self.projection is not None:
            logit = logit + (self.projection(y) * h.sum((2, 3))).sum(1)
        if self.classifier is not None:
            return logit, self.classifier(h).flatten(1)
        return logit
