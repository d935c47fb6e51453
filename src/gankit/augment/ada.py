"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data", NeurIPS).

The pipeline is the differentiable subset of the paper's that matters at small image sizes, in its
order (Appendix B, the ``bgc`` set of stylegan2-ada-pytorch plus cutout): x-flip, 90° rotations, integer
translation (up to 1/8 of the side), isotropic scaling (lognormal, std 0.2 log2), rotation (uniform,
applied before and after the anisotropic scaling with probability 1 - sqrt(1 - p) each), anisotropic
scaling (std 0.2 log2); brightness (normal, std 0.2), contrast (lognormal, std 0.5 log2), luma flip,
saturation (lognormal, std 1 log2); cutout (half the side). Each op is applied to each sample
independently with probability p; the geometric ones compose into one affine map sampled bilinearly
with reflection padding, the colour ones into one affine colour map (grey images: averaged over the
RGB rows, as the paper's code does).

p is adjusted every ``interval`` D steps from the over-fitting heuristic r_t = E[sign(D(x_real))]
(Eq. 1, on the augmented reals of D's steps): p += sign(r_t - target) * images / (kimg * 1000), so p
can go from 0 to 1 in ``kimg`` thousand real images, clipped to [0, 1]. The paper: target 0.6,
interval 4, 500 kimg; a short run needs a faster ``kimg``. ``target=None``: p stays fixed.
Augmentations leak into G's samples only for p above about 0.8 (Sec. 2.2, Fig. 3).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Augmentation, cutout, per_sample

GEOMETRIC = ("xflip", "rot90", "xint", "scale", "rotate", "aniso")
COLOUR = ("brightness", "contrast", "lumaflip", "saturation")


def _rotation(theta: Tensor) -> Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    z, o = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1), torch.stack([z, z, o], -1)], -2)


def _scaling(sx: Tensor, sy: Tensor) -> Tensor:
    z, o = torch.zeros_like(sx), torch.ones_like(sx)
    return torch.stack([torch.stack([sx, z, z], -1), torch.stack([z, sy, z], -1), torch.stack([z, z, o], -1)], -2)


def _translation(tx: Tensor, ty: Tensor) -> Tensor:
    z, o = torch.zeros_like(tx), torch.ones_like(tx)
    return torch.stack([torch.stack([o, z, tx], -1), torch.stack([z, o, ty], -1), torch.stack([z, z, o], -1)], -2)


class AdaptiveAugment(Augmentation):
    OPS = GEOMETRIC + COLOUR + ("cutout",)
    DEFAULT = OPS

    def __init__(self, policy=None, *, p: float = 0.0, target: float | None = 0.6, interval: int = 4,
                 kimg: float = 100.0, translate: float = 0.125, scale_std: float = 0.2, aniso_std: float = 0.2,
                 brightness_std: float = 0.2, contrast_std: float = 0.5, saturation_std: float = 1.0,
                 cutout_size: float = 0.5):
        super().__init__(policy)
        self.p = torch.tensor(float(p))
        self.target, self.interval, self.kimg = target, interval, kimg
        self.translate, self.scale_std, self.aniso_std = translate, scale_std, aniso_std
        self.brightness_std, self.contrast_std, self.saturation_std = brightness_std, contrast_std, saturation_std
        self.cutout_size = cutout_size
        self.rt = torch.tensor(0.0)
        self._signs = torch.zeros(2)  # sum of sign(D(x_real)) and the count, since the last adjustment
        self._batches = 0

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.augment_policy, p=cfg.ada_p, target=cfg.ada_target, interval=cfg.ada_interval,
                   kimg=cfg.ada_kimg)

    # ---------------------------------------------------------------- the pipeline
    def _draw(self, x: Tensor, p: Tensor | float) -> Tensor:
        """True for the samples an op applies to (probability ``p`` each)."""
        return per_sample(x, ()) < p

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"ADA needs image batches (B, C, H, W), got shape {tuple(x.shape)}")
        if self.p.device != x.device:
            self.p, self.rt, self._signs = (t.to(x.device) for t in (self.p, self.rt, self._signs))
        ops = set(self.policy)
        if ops & set(GEOMETRIC):
            x = self._geometric(x, ops)
        if ops & set(COLOUR):
            x = self._colour(x, ops)
        if "cutout" in ops:
            x = cutout(x, int(x.shape[2] * self.cutout_size + 0.5), self._draw(x, self.p))
        return x

    def _geometric(self, x: Tensor, ops: set) -> Tensor:
        """One inverse map (output pixel -> input pixel, centred pixel units) per sample."""
        b, _, h, w = x.shape
        p, dev, dt = self.p.to(x.dtype), x.device, x.dtype
        one = torch.ones(b, device=dev, dtype=dt)
        M = torch.eye(3, device=dev, dtype=dt).expand(b, 3, 3)

        def on(value: Tensor, identity, prob=p):  # value where the op is drawn, identity elsewhere
            return torch.where(self._draw(x, prob), value, identity)

        if "xflip" in ops:
            M = M @ _scaling(1 - 2 * on(torch.randint(0, 2, (b,), device=dev).to(dt), 0 * one), one)
        if "rot90" in ops:
            M = M @ _rotation(on(torch.randint(0, 4, (b,), device=dev).to(dt), 0 * one) * (math.pi / 2))
        if "xint" in ops:
            t = (torch.rand(2, b, device=dev, dtype=dt) * 2 - 1) * self.translate
            apply = self._draw(x, p)
            tx, ty = (torch.where(apply, (t[0] * w).round(), 0 * one), torch.where(apply, (t[1] * h).round(), 0 * one))
            M = M @ _translation(tx, ty)
        if "scale" in ops:
            s = on(torch.exp2(torch.randn(b, device=dev, dtype=dt) * self.scale_std), one)
            M = M @ _scaling(s, s)
        p_rot = 1 - torch.sqrt((1 - p).clamp(min=0))
        if "rotate" in ops:
            M = M @ _rotation(on((torch.rand(b, device=dev, dtype=dt) * 2 - 1) * math.pi, 0 * one, p_rot))
        if "aniso" in ops:
            s = on(torch.exp2(torch.randn(b, device=dev, dtype=dt) * self.aniso_std), one)
            M = M @ _scaling(s, 1 / s)
        if "rotate" in ops:
            M = M @ _rotation(on((torch.rand(b, device=dev, dtype=dt) * 2 - 1) * math.pi, 0 * one, p_rot))
        # centred pixel units -> affine_grid's normalised coordinates (align_corners=False)
        N = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], device=dev, dtype=dt))
        N_inv = torch.diag(torch.tensor([w / 2, h / 2, 1.0], device=dev, dtype=dt))
        theta = (N @ M @ N_inv)[:, :2]
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def _colour(self, x: Tensor, ops: set) -> Tensor:
        """One affine colour map per sample, C (B, 4, 4) on homogeneous RGB."""
        b, c = x.shape[:2]
        p, dev, dt = self.p.to(x.dtype), x.device, x.dtype
        I4 = torch.eye(4, device=dev, dtype=dt)
        C = I4.expand(b, 4, 4)
        v = torch.tensor([1, 1, 1, 0], device=dev, dtype=dt) / math.sqrt(3)  # the luma axis
        vv = torch.outer(v, v)
        zero = torch.zeros(b, device=dev, dtype=dt)

        def on(value, identity):
            return torch.where(self._draw(x, p), value, identity)

        if "brightness" in ops:
            t = on(torch.randn(b, device=dev, dtype=dt) * self.brightness_std, zero)
            T = I4.repeat(b, 1, 1)
            T[:, :3, 3] = t[:, None]
            C = T @ C
        if "contrast" in ops:
            s = on(torch.exp2(torch.randn(b, device=dev, dtype=dt) * self.contrast_std), zero + 1)
            C = torch.diag_embed(torch.stack([s, s, s, zero + 1], -1)) @ C
        if "lumaflip" in ops:
            i = on(torch.randint(0, 2, (b,), device=dev).to(dt), zero)
            C = (I4 - 2 * vv * i.view(b, 1, 1)) @ C
        if "saturation" in ops:
            s = on(torch.exp2(torch.randn(b, device=dev, dtype=dt) * self.saturation_std), zero + 1)
            C = (vv + (I4 - vv) * s.view(b, 1, 1)) @ C
        if c == 3:
            return torch.einsum("bij,bjhw->bihw", C[:, :3, :3], x) + C[:, :3, 3, None, None]
        if c == 1:  # grey as R = G = B; the output averages the three rows
            rows = C[:, :3].mean(dim=1)  # (B, 4)
            return x * rows[:, :3].sum(1).view(b, 1, 1, 1) + rows[:, 3].view(b, 1, 1, 1)
        return x  # other channel counts (packed inputs are augmented before packing): colour ops off

    # ---------------------------------------------------------------- adapting p
    def observe(self, real_logits: Tensor) -> None:
        """Accumulate sign(D(x_real)); every ``interval`` D steps move p toward ``target``."""
        if self.target is None:
            return
        logits = real_logits.detach().float().flatten()
        if self._signs.device != logits.device:
            self.p, self.rt, self._signs = (t.to(logits.device) for t in (self.p, self.rt, self._signs))
        self._signs = self._signs + torch.stack([logits.sign().sum(), logits.new_tensor(float(logits.numel()))])
        self._batches += 1
        if self._batches % self.interval:
            return
        signs = self._signs
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            signs = signs.clone()
            torch.distributed.all_reduce(signs)
        self.rt = signs[0] / signs[1]
        adjust = torch.sign(self.rt - self.target) * signs[1] / (self.kimg * 1000)
        self.p = (self.p + adjust).clamp(0, 1)
        self._signs = torch.zeros_like(self._signs)

    def state_dict(self) -> dict:
        return {"p": self.p.detach().cpu().clone(), "rt": self.rt.detach().cpu().clone(),
                "signs": self._signs.detach().cpu().clone(), "batches": self._batches}

    def load_state_dict(self, state: dict) -> None:
        if "p" not in state:
            return
        self.p, self.rt, self._signs = (state[k].detach().clone().float() for k in ("p", "rt", "signs"))
        self._batches = int(state["batches"])

    def scalars(self) -> dict[str, float]:
        return {"ada_p": float(self.p), "ada_rt": float(self.rt)}
