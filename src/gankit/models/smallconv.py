"""Convolutions whose small spatial side makes oneDNN slow, computed as one matrix product instead.

Where a layer meets a 4x4 (or 1x1) feature map — DCGAN's 1x1 -> 4x4 transposed conv, its 4x4 <-> 8x8
layers and the 4x4 -> 1 head — the whole layer is a few positions times many channels. oneDNN's
bf16 kernels run such shapes at a fraction of the matmul peak; the weight gradient is the worst case
(e.g. D's 256 -> 512 conv at 8x8 -> 4x4: ~60 GFLOP/s in bf16, slower than fp32). The same arithmetic
as one GEMM over im2col patches runs near the matmul rate:

* weight gradient of a conv:        dW = dY^T · im2col(X)          (rows: batch x output positions)
* weight gradient of a transposed conv: dW = X^T · im2col(dY)      (its adjoint: the conv of dY)
* a layer whose small side is 1x1 with the kernel covering the map (DCGAN's first and last layers):
  a linear layer, forward and both gradients.

:class:`Conv2d` and :class:`ConvTranspose2d` are drop-in ``nn`` subclasses (same parameters, same
state-dict keys, so saved weights load either way) that take this path only under bf16 autocast (or
on bf16 inputs) and only where the small side has at most :data:`MAX_POSITIONS` positions; everywhere
else, and in fp32 (whose results stay bit-for-bit those of earlier gankit versions), they are plain
``nn.Conv2d`` / ``nn.ConvTranspose2d``. Gradients equal the oneDNN path's within bf16 rounding
(tests/test_smallconv.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .penaltyconv import conv_backward, will_use

#: the largest number of positions on a layer's small side (output of a conv, input of a transposed
#: conv) for which the GEMM path is used: 4x4, where it measured 2.5-20x faster (docs/benchmarks.md)
MAX_POSITIONS = 16
#: False: every layer takes the plain ``nn`` path (for A/B benchmarks and reference tests)
ENABLED = True


def im2col(x: Tensor, k: int, stride: int, padding: int) -> Tensor:
    """(B, C, H, W) -> (B·Ho·Wo, k·k·C) patches: rows in (batch, row, column) order, columns in
    (kh, kw, channel) order — channels innermost, so the copy moves contiguous runs of a channels-last
    map (7x faster than the (channel, kh, kw) order of ``F.unfold``); the matching weight flattening is
    the channels-last one, ``w.permute(0, 2, 3, 1)``."""
    xh = x.permute(0, 2, 3, 1)  # NHWC view: free for channels-last tensors
    if padding:
        xh = F.pad(xh, (0, 0, padding, padding, padding, padding))
    patches = xh.unfold(1, k, stride).unfold(2, k, stride)  # (B, Ho, Wo, C, kh, kw)
    return patches.permute(0, 1, 2, 4, 5, 3).reshape(-1, k * k * x.shape[1])


def rows(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B·H·W, C): one row per position."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def unrows(r: Tensor, B: int, h: int, w: int) -> Tensor:
    """(B·h·w, C) -> (B, C, h, w), a channels-last view."""
    return r.view(B, h, w, -1).permute(0, 3, 1, 2)


def channels_last_empty(B: int, C: int, H: int, W: int, like: Tensor) -> Tensor:
    """A new (B, C, H, W) channels-last tensor of ``like``'s dtype and device: what :class:`_SmallConv`
    returns, so that its output is no view (an in-place activation after it stays legal)."""
    return torch.empty(B, C, H, W, dtype=like.dtype, device=like.device, memory_format=torch.channels_last)


def col2im(cols: Tensor, B: int, H: int, W: int, k: int, stride: int, padding: int) -> Tensor:
    """The adjoint of :func:`im2col`: (B·h·w, k·k·C) patch rows summed into a new (B, C, H, W) map
    (channels-last), accumulated in fp32 (or the input's wider type)."""
    h, w = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
    c = cols.view(B, h, w, k, k, -1)
    acc = torch.promote_types(cols.dtype, torch.float32)
    out = torch.zeros(B, H + 2 * padding, W + 2 * padding, c.shape[-1], dtype=acc, device=cols.device)
    for kh in range(k):
        for kw in range(k):
            out[:, kh:kh + stride * (h - 1) + 1:stride, kw:kw + stride * (w - 1) + 1:stride] += c[:, :, :, kh, kw]
    y = channels_last_empty(B, c.shape[-1], H, W, cols)
    y.permute(0, 2, 3, 1).copy_(out[:, padding:padding + H, padding:padding + W])
    return y


class _SmallConv(torch.autograd.Function):
    """conv2d / conv_transpose2d (square kernel, one group, no dilation) as GEMMs over im2col patches
    (the small side's positions are the GEMM rows). Inputs arrive in their compute dtype.

    With ``Wc = w`` flattened channels-last — conv: (co, k·k·ci); transposed: (ci, k·k·co) — a conv is
    ``Y = im2col(X) Wc^T``, ``dX = col2im(dY Wc)``, ``dW = dY^T im2col(X)``; a transposed conv (the
    adjoint) ``Y = col2im(X Wc)``, ``dX = im2col(dY) Wc^T``, ``dW = X^T im2col(dY)``."""

    @staticmethod
    def forward(ctx, x, w, b, stride: int, padding: int, transposed: bool):
        k, (B, _, H, W) = w.shape[-1], x.shape
        wc = w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)
        if transposed:
            Ho, Wo = (H - 1) * stride - 2 * padding + k, (W - 1) * stride - 2 * padding + k
            y = col2im(rows(x) @ wc, B, Ho, Wo, k, stride, padding)
            saved = rows(x)
        else:
            saved = im2col(x, k, stride, padding)  # reused by dW
            Ho, Wo = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
            y = channels_last_empty(B, w.shape[0], Ho, Wo, saved)
            torch.mm(saved, wc.t(), out=y.permute(0, 2, 3, 1).view(-1, y.shape[1]))  # into y's storage
        ctx.save_for_backward(saved, wc, x, w)  # x, w (inputs: kept anyway) for a differentiable backward
        ctx.conf = stride, padding, transposed, b is not None, tuple(x.shape), tuple(w.shape)
        if b is not None:
            y = y + b.view(1, -1, 1, 1)
        return y

    @staticmethod
    def backward(ctx, gy):
        saved, wc, x, w = ctx.saved_tensors
        stride, padding, transposed, has_bias, (B, _, H, W), w_shape = ctx.conf
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        k = w_shape[-1]
        gy = gy.to(wc.dtype)
        gx = gw = gb = None
        if torch.is_grad_enabled():  # create_graph (R1, R2, the gradient penalty): differentiable in x and w
            conf = ((stride, stride), (padding, padding), (1, 1), 1, transposed, (0, 0))
            gx, gw = conv_backward(gy, x, w, conf, need_x and will_use(x), need_w and will_use(w))
        elif transposed:
            gcols = im2col(gy, k, stride, padding)  # (B·H·W, k·k·co)
            if need_x:
                gx = unrows(gcols @ wc.t(), B, H, W)
            if need_w:  # (ci, k·k·co)
                gw = (saved.t() @ gcols).view(w_shape[0], k, k, w_shape[1]).permute(0, 3, 1, 2)
        else:
            g = rows(gy)  # (B·Ho·Wo, co)
            if need_x:
                gx = col2im(g @ wc, B, H, W, k, stride, padding)
            if need_w:  # (co, k·k·ci)
                gw = (g.t() @ saved).view(w_shape[0], k, k, w_shape[1]).permute(0, 3, 1, 2)
        if need_b and has_bias:
            gb = gy.sum((0, 2, 3))
        return gx, gw, gb, None, None, None


def _compute_dtype(x: Tensor) -> torch.dtype | None:
    """bf16 when this call runs under bf16 autocast on x's device or on bf16 inputs; else None."""
    if x.dtype == torch.bfloat16:
        return torch.bfloat16
    dev = x.device.type
    if torch.is_autocast_enabled(dev) and torch.get_autocast_dtype(dev) == torch.bfloat16:
        return torch.bfloat16
    return None


class _SmallMixin:
    """Routes a forward to :class:`_SmallConv` when the layer qualifies (see the module docstring)."""

    def _small(self, x: Tensor, small_hw) -> torch.dtype | None:
        if (not ENABLED or self.groups != 1 or self.dilation != (1, 1) or self.padding_mode != "zeros"
                or self.kernel_size[0] != self.kernel_size[1] or self.stride[0] != self.stride[1]
                or not isinstance(self.padding, tuple) or self.padding[0] != self.padding[1]
                or getattr(self, "output_padding", (0, 0)) != (0, 0) or x.dim() != 4
                or small_hw[0] * small_hw[1] > MAX_POSITIONS):
            return None
        return _compute_dtype(x)

    def _apply_small(self, x: Tensor, dtype: torch.dtype, transposed: bool) -> Tensor:
        w, b = self.weight.to(dtype), (None if self.bias is None else self.bias.to(dtype))
        with torch.autocast(x.device.type, enabled=False):
            return _SmallConv.apply(x.to(dtype), w, b, self.stride[0], self.padding[0], transposed)


class Conv2d(_SmallMixin, nn.Conv2d):
    """``nn.Conv2d``; GEMMs (forward and both gradients) when its output map is small (bf16 only)."""

    def forward(self, x: Tensor) -> Tensor:
        k, s, p = self.kernel_size[0], self.stride[0], self.padding
        p = p[0] if isinstance(p, tuple) else 0
        out_hw = [(n + 2 * p - k) // s + 1 for n in x.shape[-2:]]
        dtype = self._small(x, out_hw)
        return super().forward(x) if dtype is None else self._apply_small(x, dtype, False)


class ConvTranspose2d(_SmallMixin, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d``; GEMMs (forward and both gradients) when its input map is small (bf16 only)."""

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        dtype = None if output_size is not None else self._small(x, x.shape[-2:])
        return super().forward(x, output_size) if dtype is None else self._apply_small(x, dtype, True)
