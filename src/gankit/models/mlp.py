"""Fully connected G and D of Goodfellow et al. 2014 (and the conditional MLP of Mirza & Osindero
2014, as in the conditional-MNIST example: the label embedded and concatenated to the input)."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .latent import CategoricalCode
from .layers import GeneratorBase
from .network import ConfigMixin


def _label_embedding(num_classes: int, dim: int) -> nn.Embedding | None:
    return nn.Embedding(num_classes, dim) if num_classes else None


class MLPGenerator(GeneratorBase):
    """``latent_categories`` K > 0: z's first coordinate becomes a K-way categorical code
    (:class:`~gankit.models.latent.CategoricalCode`, InfoGAN's code without the information loss), its
    one-hot scaled by ``latent_scale``."""

    def __init__(self, out_shape, z_dim=100, hidden=(256, 512, 1024), num_classes=0, embed_dim=0,
                 tanh=True, latent_categories=0, latent_scale=10.0):
        super().__init__()
        self.out_shape, self.z_dim, self.num_classes = tuple(out_shape), z_dim, num_classes
        embed_dim = embed_dim or num_classes
        self.embed = _label_embedding(num_classes, embed_dim)
        self.code = CategoricalCode(latent_categories, z_dim, latent_scale) if latent_categories else None
        width = self.code.out_dim if self.code is not None else z_dim
        layers, width = [], width + (embed_dim if num_classes else 0)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, math.prod(self.out_shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.code is not None:
            z = self.code(z)
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z).view(-1, *self.out_shape)


class MLPDiscriminator(ConfigMixin, nn.Module):
    """Outputs a logit of 'real'; with ``aux_classes`` also class logits (AC-GAN)."""

    def __init__(self, in_shape, hidden=(512, 256), dropout=0.3, num_classes=0, embed_dim=0,
                 aux_classes=0):
        super().__init__()
        self.num_classes = num_classes
        embed_dim = embed_dim or num_classes
        self.embed = _label_embedding(num_classes, embed_dim)
        layers, width = [], math.prod(in_shape) + (embed_dim if num_classes else 0)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)
        self.classifier = nn.Linear(width, aux_classes) if aux_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None):
        h = x.flatten(1)
        if self.embed is not None:
            h = torch.cat([h, self.embed(y)], dim=1)
        h = self.body(h)
        logit = self.head(h).squeeze(1)
        return (logit, self.classifier(h)) if self.classifier is not None else logit
