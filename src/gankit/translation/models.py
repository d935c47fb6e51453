"""Image-to-image networks: pix2pix's U-Net and PatchGAN (Isola et al. 2017, App. 6.1), CycleGAN's
ResNet generator (Zhu et al. 2017, App. 7.2, after Johnson et al. 2016), and the two-generator /
two-discriminator containers CycleGAN trains with one optimiser each.

Every generator maps images in [-1, 1] to images in [-1, 1] (Tanh) of the same size; sizes that
the strided layers cannot halve exactly are padded (with -1, the background) and cropped back.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.layers import dcgan_init
from ..models.network import ConfigMixin

UNET_DROPOUT = 0.5       # pix2pix: dropout in the first three decoder layers (its only noise source)
UNET_MAX_MULT = 8        # channel widths 64, 128, 256, 512, 512, ... (ngf x min(2^i, 8))
UNET_MAX_DEPTH = 8       # 256x256 -> 1x1 bottleneck; larger images keep a bigger bottleneck


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'batch' (pix2pix), 'instance' (CycleGAN; Ulyanov et al. 2016), 'layer' or 'none'."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of: batch, instance, layer, none")


def init_weights(module: nn.Module) -> nn.Module:
    """Both papers: weights ~ N(0, 0.02) (norm scales ~ N(1, 0.02))."""
    dcgan_init(module)
    return module


def pad_to_multiple(x: Tensor, m: int) -> tuple[Tensor, tuple[int, int]]:
    """Pad H and W up to multiples of ``m`` with -1 (black), bottom/right; returns the original size."""
    h, w = x.shape[-2:]
    ph, pw = -h % m, -w % m
    return (F.pad(x, (0, pw, 0, ph), value=-1.0) if ph or pw else x), (h, w)


class Translator(ConfigMixin):
    """Mixin of the image-to-image generators: ``translate(x, direction)``; no noise prior, so no
    ``sample`` (``gankit sample`` explains instead of failing)."""

    directions: tuple[str, ...] = ("ab",)

    def translate(self, x: Tensor, direction: str = "ab") -> Tensor:
        raise NotImplementedError

    def sample(self, *args, **kwargs):
        raise ValueError("this is an image-to-image generator (pix2pix/cyclegan): it translates images "
                         "instead of sampling noise; use `gankit translate RUN IMAGE... --out DIR`")


class UNet(Translator, nn.Module):
    """pix2pix's generator: an encoder-decoder with skip connections between mirrored layers
    (Isola et al. 2017, Sec. 3.2.1, App. 6.1.1).

    Encoder: Conv4x4/2 - BN - LeakyReLU(0.2) down to a 1x1 bottleneck (no BN on the first layer or
    the bottleneck); decoder: ConvT4x4/2 - BN - [Dropout 0.5 in the first three] - ReLU, each
    fed the previous decoder output concatenated with the mirrored encoder activation; a final
    ConvT to ``out_channels`` + Tanh. Widths ngf x (1, 2, 4, 8, 8, ...).
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, ngf: int = 64, norm: str = "batch",
                 dropout: float = UNET_DROPOUT):
        super().__init__()
        self.depth = max(1, min(UNET_MAX_DEPTH, math.ceil(math.log2(max(size, 2)))))
        widths = [ngf * min(2 ** i, UNET_MAX_MULT) for i in range(self.depth)]
        self.down = nn.ModuleList()
        for i, w in enumerate(widths):
            first, inner = i == 0, i == self.depth - 1
            layers: list[nn.Module] = [nn.Conv2d(in_channels if first else widths[i - 1], w, 4, 2, 1,
                                                 bias=first or inner or norm != "batch")]
            if not (first or inner):
                layers.append(norm_layer(norm, w))
            layers.append(nn.ReLU(True) if inner and not first else nn.LeakyReLU(0.2, True))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for j, i in enumerate(reversed(range(self.depth))):  # mirror of encoder layer i
            c_in = widths[i] * (1 if i == self.depth - 1 else 2)
            if i == 0:
                self.up.append(nn.Sequential(nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ConvTranspose2d(c_in, widths[i - 1], 4, 2, 1, bias=norm != "batch"),
                      norm_layer(norm, widths[i - 1])]
            if j < 3 and dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.ReLU(True))
            self.up.append(nn.Sequential(*layers))
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x, (h, w) = pad_to_multiple(x, 2 ** self.depth)
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = skips.pop()  # the bottleneck
        for j, layer in enumerate(self.up):
            x = layer(x if j == 0 else torch.cat([x, skips.pop()], 1))
        return x[..., :h, :w]

    def translate(self, x: Tensor, direction: str = "ab") -> Tensor:
        if direction != "ab":
            raise ValueError("a pix2pix generator translates A -> B only (direction 'ab')")
        return self(x)


def patch_layers(size: int) -> int:
    """Strided layers of the PatchGAN for ``size`` pixels: 3 (the paper's 70x70 patches) from 64 px
    up, 2 (34x34) at 32 px, 1 (16x16) below, so a patch stays smaller than the image."""
    return int(min(3, max(1, math.floor(math.log2(max(size, 2))) - 3)))


def receptive_field(n_layers: int) -> int:
    """Side of the input patch one PatchGAN output sees: 16, 34, 70 for 1, 2, 3 strided layers."""
    rf = 1
    for stride in reversed([2] * n_layers + [1, 1]):  # kernel 4 everywhere
        rf = rf * stride + (4 - stride)
    return rf


class PatchDiscriminator(ConfigMixin, nn.Module):
    """PatchGAN (Isola et al. 2017, Sec. 3.2.2): a fully convolutional D that classifies each
    overlapping N x N patch as real or fake, one logit per patch. C64-C128-C256-C512 (4x4 convs,
    the first ``n_layers`` strided), then a 1-channel conv; no norm on the first layer.

    With ``condition_channels`` it is conditional (pix2pix): D(a, b) sees the input image a
    concatenated with the real or translated b.
    """

    def __init__(self, channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch",
                 condition_channels: int = 0):
        super().__init__()
        self.n_layers = n_layers
        c_in = channels + condition_channels
        layers: list[nn.Module] = [nn.Conv2d(c_in, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = ndf
        for i in range(1, n_layers + 1):
            c_out = ndf * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(c, c_out, 4, stride, 1, bias=norm in ("none", "layer")),
                       norm_layer(norm, c_out), nn.LeakyReLU(0.2, True)]
            c = c_out
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Patch logits (B, 1, h, w) for images x (and the input images ``condition``)."""
        return self.net(x if condition is None else torch.cat([condition, x], 1))


class ResnetBlock(nn.Module):
    """x + [ReflPad - Conv3x3 - IN - ReLU - ReflPad - Conv3x3 - IN](x) (He et al. 2016; Johnson et al. 2016)."""

    def __init__(self, c: int, norm: str):
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3, bias=bias), norm_layer(norm, c),
                                  nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3, bias=bias),
                                  norm_layer(norm, c))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(Translator, nn.Module):
    """CycleGAN's generator (Zhu et al. 2017, App. 7.2): c7s1-64, d128, d256, R256 x n_blocks,
    u128, u64, c7s1-C + Tanh, instance norm, reflection padding; 6 blocks below 256 px, 9 from it."""

    def __init__(self, in_channels: int, out_channels: int, size: int, ngf: int = 64, norm: str = "instance",
                 n_blocks: int | None = None):
        super().__init__()
        self.n_blocks = n_blocks if n_blocks is not None else (9 if size >= 256 else 6)
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias),
                                   norm_layer(norm, ngf), nn.ReLU(True)]
        for m in (1, 2):  # d128, d256
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1, bias=bias), norm_layer(norm, ngf * m * 2),
                       nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm) for _ in range(self.n_blocks)]
        for m in (4, 2):  # u128, u64
            layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1, bias=bias),
                       norm_layer(norm, ngf * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x, (h, w) = pad_to_multiple(x, 4)
        return self.net(x)[..., :h, :w]

    def translate(self, x: Tensor, direction: str = "ab") -> Tensor:
        if direction != "ab":
            raise ValueError("a single ResNet generator translates in one direction only ('ab')")
        return self(x)


class CycleGenerators(Translator, nn.ModuleDict):
    """G: A -> B (``g_ab``) and F: B -> A (``g_ba``) in one ModuleDict, so one optimiser, one EMA and
    one checkpoint cover both (Zhu et al. 2017 train them with one Adam).

    ``forward(a, b, identity)`` runs the whole generator pass of Eq. 3 in one call (every weight
    used once per call, as DistributedDataParallel requires): G(a), F(b), F(G(a)), G(F(b)) and, with
    ``identity``, G(b), F(a). Instance norm keeps samples independent, so inputs are batched.
    """

    directions = ("ab", "ba")

    def __init__(self, g_ab: nn.Module, g_ba: nn.Module):
        super().__init__({"g_ab": g_ab, "g_ba": g_ba})

    def forward(self, a: Tensor, b: Tensor, identity: bool = True) -> dict[str, Tensor]:
        n = len(a)
        if identity:
            fake_b, idt_b = self["g_ab"](torch.cat([a, b])).split([n, len(b)])
            fake_a, idt_a = self["g_ba"](torch.cat([b, a])).split([len(b), n])
        else:
            fake_b, fake_a, idt_a, idt_b = self["g_ab"](a), self["g_ba"](b), None, None
        return {"fake_b": fake_b, "fake_a": fake_a, "rec_a": self["g_ba"](fake_b),
                "rec_b": self["g_ab"](fake_a), "idt_a": idt_a, "idt_b": idt_b}

    def translate(self, x: Tensor, direction: str = "ab") -> Tensor:
        if direction not in self.directions:
            raise ValueError(f"direction must be 'ab' or 'ba' (got {direction!r})")
        return self[f"g_{direction}"](x)


class CycleDiscriminators(ConfigMixin, nn.ModuleDict):
    """D_A (real A vs F(b)) and D_B (real B vs G(a)) in one ModuleDict; ``forward(x_a, x_b)`` returns
    both patch-logit maps from one call."""

    def __init__(self, d_a: nn.Module, d_b: nn.Module):
        super().__init__({"d_a": d_a, "d_b": d_b})

    def forward(self, x_a: Tensor, x_b: Tensor) -> tuple[Tensor, Tensor]:
        return self["d_a"](x_a), self["d_b"](x_b)
