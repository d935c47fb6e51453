"""The base class of the augmentations and the per-sample ops they share."""
from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError


class Augmentation:
    """``aug(x)``: the batch ``x`` (B, C, H, W) as D sees it. ``observe(real_logits)`` is shown D's
    source logits on each augmented real batch (ADA adjusts p from them); ``state_dict`` is saved in
    checkpoints; ``scalars()`` are logged at log steps."""

    #: the ops a policy may name, and the default policy
    OPS: tuple[str, ...] = ()
    DEFAULT: tuple[str, ...] = ()

    def __init__(self, policy=None):
        self.policy = self.parse_policy(policy)

    @classmethod
    def parse_policy(cls, policy) -> tuple[str, ...]:
        """A policy: a comma-separated string or a list of op names (None: the default)."""
        if policy is None:
            return cls.DEFAULT
        names = [p.strip() for p in policy.split(",")] if isinstance(policy, str) else list(policy)
        bad = [n for n in names if n not in cls.OPS]
        if bad or not names:
            raise ConfigError(f"unknown augment_policy entry {', '.join(bad) or '(empty)'!s} for "
                              f"{cls.__name__}; choose from: {', '.join(cls.OPS)}")
        return tuple(names)

    @classmethod
    def from_config(cls, cfg) -> "Augmentation":
        return cls(cfg.augment_policy)

    def __call__(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def observe(self, real_logits: Tensor) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def scalars(self) -> dict[str, float]:
        return {}


def per_sample(x: Tensor, shape=(1, 1, 1)) -> Tensor:
    """One U[0, 1) draw per sample of ``x``, shaped to broadcast against it."""
    return torch.rand(x.shape[0], *shape, dtype=x.dtype, device=x.device)


def shift(x: Tensor, dy: Tensor, dx: Tensor, fill: float = 0.0) -> Tensor:
    """Translate each image by its own integer offset (dy, dx) pixels, filling with ``fill``: a
    gather, so linear in ``x`` and differentiable w.r.t. it."""
    b, c, h, w = x.shape
    m = int(max(dy.abs().max(), dx.abs().max(), 0)) if dy.numel() else 0
    if m == 0:
        return x
    padded = torch.nn.functional.pad(x, (m, m, m, m), value=fill)
    rows = (torch.arange(h, device=x.device) + m - dy.view(b, 1)).view(b, 1, h, 1).expand(b, c, h, w + 2 * m)
    out = padded.gather(2, rows)
    cols = (torch.arange(w, device=x.device) + m - dx.view(b, 1)).view(b, 1, 1, w).expand(b, c, h, w)
    return out.gather(3, cols)


def cutout(x: Tensor, size: int, apply: Tensor | None = None) -> Tensor:
    """DeVries & Taylor 2017: zero a ``size`` x ``size`` square (clipped at the borders) at a random
    centre of each image (of those where ``apply``, a bool per sample, is true)."""
    b, _, h, w = x.shape
    if size <= 0:
        return x
    cy = torch.randint(0, h + (1 - size % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - size % 2), (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    dy, dx = ys - (cy - size // 2), xs - (cx - size // 2)
    inside = (dy >= 0) & (dy < size) & (dx >= 0) & (dx < size)
    if apply is not None:
        inside = inside & apply.view(b, 1, 1)
    return x * (~inside).unsqueeze(1).to(x.dtype)
