"""Latent codes for the explorer: seeded noise, the truncation trick, lerp and slerp."""
from __future__ import annotations

import torch
from torch import Tensor

MAX_RESAMPLE_ROUNDS = 1000


def truncate_(z: Tensor, threshold: float, generator: torch.Generator) -> Tensor:
    """The truncation trick (Brock et al. 2019, Sec. 3.1): resample, in place, every component
    with |z| > threshold from N(0, 1) until all lie within it, i.e. z ~ N(0, I) truncated to
    [-threshold, threshold]. Smaller thresholds trade variety for fidelity."""
    for _ in range(MAX_RESAMPLE_ROUNDS):
        outside = z.abs() > threshold
        k = int(outside.sum())
        if not k:
            return z
        z[outside] = torch.randn(k, generator=generator, dtype=z.dtype)
    return z.clamp_(-threshold, threshold)  # unreachable in practice for thresholds >= 0.05


def latents(seed: int, n: int, z_dim: int, num_classes: int = 0, label: int | None = None,
            truncation: float | None = None) -> tuple[Tensor, Tensor | None]:
    """n codes z (and labels y for a conditional model) determined by ``seed``.

    Without truncation the draws are those of ``G.sample(n, seed=seed)``: z first, then the
    random labels, from one ``torch.Generator`` seeded with ``seed``.
    """
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, z_dim, generator=g)
    if truncation is not None:
        truncate_(z, truncation, g)
    y = None
    if num_classes:
        y = torch.full((n,), label, dtype=torch.long) if label is not None \
            else torch.randint(0, num_classes, (n,), generator=g)
    return z, y


def lerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Linear interpolation (1 - t) a + t b."""
    return a + (b - a) * t


def slerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Spherical linear interpolation (Shoemake 1985; for GAN latents, White 2016, Sec. 2.1):
    sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b with Ω the angle between a and b, along the last
    dimension. Falls back to lerp where a and b are (anti)parallel (sin Ω ≈ 0)."""
    t = torch.as_tensor(t, dtype=a.dtype)
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True))
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    so = torch.sin(omega)
    safe = so.abs() > 1e-6
    so = torch.where(safe, so, torch.ones_like(so))
    out = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / so
    return torch.where(safe, out, lerp(a, b, t))


INTERPOLATIONS = {"lerp": lerp, "slerp": slerp}


def path(za: Tensor, zb: Tensor, ts: list[float], mode: str) -> Tensor:
    """Codes along the path from ``za`` to ``zb`` (each (z_dim,)) at the fractions ``ts``."""
    t = torch.tensor(ts, dtype=za.dtype).unsqueeze(1)
    return INTERPOLATIONS[mode](za.unsqueeze(0), zb.unsqueeze(0), t)


__all__ = ["truncate_", "latents", "lerp", "slerp", "path", "INTERPOLATIONS"]
