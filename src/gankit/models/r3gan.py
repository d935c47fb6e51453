"""The R3GAN architecture (Huang, Gokaslan, Kuleshov & Tompkin, "The GAN is dead; long live the GAN!
A Modern GAN Baseline", NeurIPS 2024, Sec. 3 "Roadmap", config E): a modernised ResNet G and D.

* residual blocks with an inverted bottleneck: 1×1 (expand by ``expansion``) → grouped 3×3
  (``group_width`` channels per group) → 1×1 (back), leaky ReLU (0.2) with a learned bias after the
  first two; **no normalisation layers**;
* fix-up initialisation (Zhang et al. 2019, as the paper): the last 1×1 of every residual branch is
  zero, so each block starts as the identity; the other layers are MSR (He) initialised with the
  activation's gain scaled by L^(-1/(2m-2)) (L = residual blocks in the network, m = 3 layers per
  branch) to keep the variance of the residual stream bounded;
* bilinear resampling ([1, 2, 1] filter) between stages, a 1×1 projection where the width changes;
* G starts from a learned 4×4 (or 7×7) basis modulated per channel by a linear map of z and ends with a
  1×1 aggregation to the image (no tanh); D starts with a 1×1 extraction, ends with a depthwise
  4×4 (7×7) "basis" and a linear head; conditional D by projection (Miyato & Koyama 2018).

Sizes are ``base * 2**n`` with base 4 (16, 32, 64, 128, 256) or 7 (28, 56). No custom CUDA ops:
everything is plain PyTorch and trains on the CPU.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .penaltyconv import PenaltyConv2d, penalty_conv2d
from .layers import GeneratorBase
from .network import ConfigMixin

NEGATIVE_SLOPE = 0.2
#: the leaky ReLU's variance gain, sqrt(2 / (1 + a^2)) (He et al. 2015)
ACTIVATION_GAIN = math.sqrt(2 / (1 + NEGATIVE_SLOPE ** 2))


def r3gan_geometry(size: int) -> tuple[int, int]:
    """(base, stages) with size == base * 2**(stages - 1), base 4 or 7."""
    for base in (4, 7):
        n, s = 1, size
        while s > base and s % 2 == 0:
            s, n = s // 2, n + 1
        if s == base and size >= 2 * base:
            return base, n
    raise ValueError(f"R3GAN image size {size} is not 4*2^n or 7*2^n with n >= 1 (e.g. 16, 28, 32, 64, 256); "
                     f"pass --image-size with one of those")


def _stage_list(values, stages: int, name: str) -> list[int]:
    values = list(values) if isinstance(values, (list, tuple)) else [values] * stages
    if len(values) != stages:
        raise ValueError(f"{name} needs {stages} entries (one per resolution), got {len(values)}")
    return [int(v) for v in values]


def msr_init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Weights ~ N(0, gain² / fan_in) (He et al. 2015; MSR initialisation); gain 0 zero-initialises."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in)) if gain else nn.init.zeros_(layer.weight)
    return layer


class BiasedLeakyReLU(nn.Module):
    """leaky_relu(x + b, 0.2) with a per-channel bias b (the convolutions have none)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        # the bias in x's dtype: under bf16 autocast the activation stays bf16 (an fp32 bias would promote
        # it, and every activation would be cast back for the next convolution)
        return F.leaky_relu(x + self.bias.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2))), NEGATIVE_SLOPE)


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))): the paper's Fig. 4 block; the last 1×1 starts
    at zero, so the block starts as the identity (fix-up)."""

    def __init__(self, channels: int, expansion: int, group_width: int, total_blocks: int):
        super().__init__()
        wide = channels * expansion
        if wide % group_width:
            raise ValueError(f"group_width {group_width} must divide the expanded width {wide}")
        gain = ACTIVATION_GAIN * total_blocks ** (-1 / (2 * 3 - 2))
        self.expand = msr_init(PenaltyConv2d(channels, wide, 1, bias=False), gain)
        self.act1 = BiasedLeakyReLU(wide)
        self.grouped = msr_init(PenaltyConv2d(wide, wide, 3, padding=1, groups=wide // group_width, bias=False),
                               gain)
        self.act2 = BiasedLeakyReLU(wide)
        self.project = msr_init(PenaltyConv2d(wide, channels, 1, bias=False), 0.0)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.project(self.act2(self.grouped(self.act1(self.expand(x)))))


class Resample(nn.Module):
    """Bilinear ×2 up- or down-sampling with the separable [1, 2, 1] filter, channel by channel."""

    def __init__(self, up: bool):
        super().__init__()
        self.up = up
        f = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(f, f) / (4.0 if up else 16.0)  # up: unit gain after zero insertion
        self.register_buffer("kernel", kernel[None, None], persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return depthwise_in_fp32_on_cpu(self._resample, x)

    def _resample(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        k = self.kernel.to(x.dtype).expand(c, 1, 3, 3)
        if self.up:
            return penalty_conv2d(x, k, stride=2, padding=1, groups=c, transposed=True, output_padding=1)
        return penalty_conv2d(x, k, stride=2, padding=1, groups=c)


def depthwise_in_fp32_on_cpu(fn, x: Tensor) -> Tensor:
    """``fn(x)`` for a depthwise (channel-by-channel) convolution ``fn``; on a CPU under bf16/fp16 autocast
    (or on bf16/fp16 inputs) it runs in fp32 and its result is cast back to ``x``'s dtype. oneDNN's
    reduced-precision depthwise kernels are 8-40x slower there than its fp32 ones (forward + backward,
    measured on an AVX512-BF16 CPU: docs/benchmarks.md, the r3gan share of the matmul peak); fp32
    accumulates at least as exactly, and fp32 runs take the plain path unchanged."""
    if x.device.type != "cpu" or (x.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")):
        return fn(x)
    with torch.autocast("cpu", enabled=False):
        return fn(x.float()).to(x.dtype)


def _transition(c_in: int, c_out: int) -> nn.Module:
    return msr_init(PenaltyConv2d(c_in, c_out, 1, bias=False)) if c_in != c_out else nn.Identity()


class R3GANGenerator(GeneratorBase):
    """G: basis (base×base) · linear(z) → [residual blocks, then ×2 up] per stage → 1×1 to the image."""

    def __init__(self, channels: int, size: int, z_dim: int = 64, widths=256, blocks=2, expansion: int = 2,
                 group_width: int = 16, num_classes: int = 0, embed_dim: int = 0):
        super().__init__()
        base, stages = r3gan_geometry(size)
        widths, blocks = _stage_list(widths, stages, "widths"), _stage_list(blocks, stages, "blocks")
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, (channels, size, size)
        embed_dim = embed_dim or (num_classes and min(max(num_classes, 16), widths[0]))
        self.embed = msr_init(nn.Linear(num_classes, embed_dim, bias=False)) if num_classes else None
        self.basis = nn.Parameter(torch.randn(widths[0], base, base))
        self.modulation = msr_init(nn.Linear(z_dim + (embed_dim if num_classes else 0), widths[0], bias=False))
        total = sum(blocks)
        layers: list[nn.Module] = []
        for i, (w, b) in enumerate(zip(widths, blocks)):
            if i:
                layers += [_transition(widths[i - 1], w), Resample(up=True)]
            layers += [ResidualBlock(w, expansion, group_width, total) for _ in range(b)]
        self.main = nn.Sequential(*layers)
        self.to_image = msr_init(nn.Conv2d(widths[-1], channels, 1, bias=False))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(F.one_hot(y, self.num_classes).to(z.dtype))], dim=1)
        x = self.basis[None] * self.modulation(z)[:, :, None, None]
        if self._channels_last():  # the residual stream in the convolutions' layout, not NCHW from the product
            x = x.contiguous(memory_format=torch.channels_last)
        return self.to_image(self.main(x))

    def _channels_last(self) -> bool:
        """The network was moved to channels-last (``--channels-last``): its first 3x3 weight says so."""
        w = next(m for m in self.main if isinstance(m, ResidualBlock)).grouped.weight
        return not w.is_contiguous() and w.is_contiguous(memory_format=torch.channels_last)


class R3GANDiscriminator(ConfigMixin, nn.Module):
    """D: 1×1 from the image → [residual blocks, then ×2 down] per stage → depthwise base×base basis →
    linear head (a logit), plus the projection <embed(y), h> when conditional."""

    def __init__(self, channels: int, size: int, widths=256, blocks=2, expansion: int = 2, group_width: int = 16,
                 num_classes: int = 0):
        super().__init__()
        base, stages = r3gan_geometry(size)
        widths, blocks = _stage_list(widths, stages, "widths"), _stage_list(blocks, stages, "blocks")
        widths, blocks = widths[::-1], blocks[::-1]  # listed from low to high resolution, like G's
        self.num_classes = num_classes
        self.from_image = msr_init(PenaltyConv2d(channels, widths[0], 1, bias=False))
        total = sum(blocks)
        layers: list[nn.Module] = []
        for i, (w, b) in enumerate(zip(widths, blocks)):
            layers += [ResidualBlock(w, expansion, group_width, total) for _ in range(b)]
            if i < stages - 1:
                layers += [Resample(up=False), _transition(w, widths[i + 1])]
        self.main = nn.Sequential(*layers)
        c = widths[-1]
        self.basis = msr_init(PenaltyConv2d(c, c, base, groups=c, bias=False))
        self.head = msr_init(nn.Linear(c, 1, bias=False))
        self.projection = nn.Embedding(num_classes, c) if num_classes else None
        if self.projection is not None:
            nn.init.normal_(self.projection.weight, 0.0, 1.0 / math.sqrt(c))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = depthwise_in_fp32_on_cpu(self.basis, self.main(self.from_image(x))).flatten(1)
        logit = self.head(h).squeeze(1)
        if self.projection is not None:
            logit = logit + (self.projection(y) * h).sum(1)
        return logit
