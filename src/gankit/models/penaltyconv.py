"""Convolutions whose gradient is itself differentiated cheaply: R1, R2 and the gradient penalty.

A gradient penalty differentiates D's input gradient with respect to D's weights, so the backward pass
of every convolution is itself differentiated. PyTorch's generic double backward
(``_convolution_double_backward``) computes the weight term of a *grouped* convolution one group at a
time — a narrow, a contiguous copy and a small convolution per group, even for a fixed filter that
needs no gradient — and that of an ungrouped one through transposed, copied operands. In R3GAN's D
(grouped 3×3 convolutions of 16 channels a group, the depthwise [1, 2, 1] resampling and basis) that
made thousands of tiny kernels and copies per step on the CPU (2,900 copies and 1,300 convolutions in
two R3GAN-MNIST iterations).

:func:`penalty_conv2d` (and the drop-in :class:`PenaltyConv2d`, an ``nn.Conv2d`` with the same
parameters and state-dict keys) computes the same convolution; only its backward differs, and only
while a graph of it is being built (``create_graph=True``): the input gradient is the adjoint
operation written as an ordinary convolution (a transposed convolution of the output gradient, or a
convolution for a transposed one), the weight gradient ``convolution_backward``'s. Differentiating
those needs first-order convolution kernels only, which take all groups at once. Without
``create_graph`` the backward is ``convolution_backward`` on the same operands as ``F.conv2d``'s own
(the same numbers). In both, a weight gradient that the running backward pass will not use (D's
weights while ``torch.autograd.grad`` takes the input gradient for R1) is not computed, as PyTorch's
own node does. Gradients equal ``F.conv2d``'s within rounding, first and second order
(tests/test_models.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PenaltyConv2d", "penalty_conv2d", "conv_backward", "will_use"]

#: False: plain ``F.conv2d`` / ``F.conv_transpose2d`` everywhere (for A/B benchmarks and reference tests)
ENABLED = True


def _autocast_dtype(x: Tensor) -> torch.dtype | None:
    """The dtype autocast runs a convolution of ``x`` in, or None: outside autocast, and for float64
    inputs (which autocast leaves as they are)."""
    kind = x.device.type
    if x.dtype == torch.float64 or not torch.is_autocast_enabled(kind):
        return None
    return torch.get_autocast_dtype(kind)


def will_use(t: Tensor) -> bool:
    """Whether the running backward pass uses a gradient for ``t``: whether it will run the node that
    receives it (False for D's weights, and their bf16 casts, in ``torch.autograd.grad(..., inputs=x)``)."""
    if not t.requires_grad:
        return False
    try:
        node = t.grad_fn if t.grad_fn is not None else torch.autograd.graph.get_gradient_edge(t).node
        return torch._C._will_engine_execute_node(node)
    except (AttributeError, RuntimeError):  # another PyTorch, or not inside a backward pass
        return True


class _PenaltyConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, conf: tuple) -> Tensor:
        stride, padding, dilation, groups, transposed, output_padding = conf
        dtype = _autocast_dtype(x)
        ctx.save_for_backward(x, weight)
        ctx.conf, ctx.dtype = conf, dtype
        xc, wc = (x, weight) if dtype is None else (x.to(dtype), weight.to(dtype))
        with torch.autocast(x.device.type, enabled=False):
            if transposed:
                return F.conv_transpose2d(xc, wc, None, stride, padding, output_padding, groups, dilation)
            return F.conv2d(xc, wc, None, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, gy: Tensor):
        x, weight = ctx.saved_tensors
        xc, wc = (x, weight) if ctx.dtype is None else (x.to(ctx.dtype), weight.to(ctx.dtype))
        need_x, need_w = ctx.needs_input_grad[0] and will_use(x), ctx.needs_input_grad[1] and will_use(weight)
        with torch.autocast(x.device.type, enabled=False):
            gx, gw = conv_backward(gy.to(xc.dtype), xc, wc, ctx.conf, need_x, need_w)
        return gx, gw, None


def conv_backward(gy: Tensor, x: Tensor, w: Tensor, conf: tuple, need_x: bool, need_w: bool):
    """(input gradient, weight gradient) of the convolution ``conf`` (stride, padding, dilation, groups,
    transposed, output_padding) of ``x`` by ``w``, None where not needed. While a graph is being built
    (``create_graph``) they are ordinary differentiable operations on ``x`` and ``w`` — the input
    gradient the adjoint convolution — whose own gradients are first-order convolutions; otherwise
    ``convolution_backward``'s (the numbers of ``F.conv2d``'s backward)."""
    stride, padding, dilation, groups, transposed, output_padding = conf
    gx = gw = None
    if torch.is_grad_enabled():
        if need_x:
            gx = _adjoint(gy, w, x.shape, stride, padding, dilation, groups, transposed)
        if need_w:
            gw = torch.ops.aten.convolution_backward(gy, x, w, None, stride, padding, dilation, transposed,
                                                     output_padding, groups, [False, True, False])[1]
    elif need_x or need_w:
        gx, gw, _ = torch.ops.aten.convolution_backward(gy, x, w, None, stride, padding, dilation, transposed,
                                                        output_padding, groups, [need_x, need_w, False])
    return gx, gw


def _adjoint(gy: Tensor, w: Tensor, shape, stride, padding, dilation, groups: int, transposed: bool) -> Tensor:
    """The input gradient of a convolution (``transposed``: of a transposed one) of input ``shape``."""
    if transposed:  # an output_padding >= stride (dilation > stride) leaves extra rows: cut to the input
        return F.conv2d(gy, w, None, stride, padding, dilation, groups)[..., :shape[2], :shape[3]]
    k = w.shape[-2:]
    natural = [(gy.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k[i] - 1) + 1 for i in range(2)]
    return F.conv_transpose2d(gy, w, None, stride, padding, [shape[2 + i] - natural[i] for i in range(2)], groups,
                              dilation)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def penalty_conv2d(x: Tensor, weight: Tensor, stride=1, padding=0, dilation=1, groups: int = 1,
                   transposed: bool = False, output_padding=0) -> Tensor:
    """``F.conv2d`` (``transposed``: ``F.conv_transpose2d``) without bias, whose backward differentiates
    as whole convolutions (see the module docstring); plain ``F`` where no gradient is recorded, under
    ``torch.compile`` (which traces ``F``'s own backward) and for string padding."""
    if x.dim() == 3:  # one unbatched image, as F.conv2d takes it
        return penalty_conv2d(x[None], weight, stride, padding, dilation, groups, transposed, output_padding)[0]
    if (not ENABLED or not torch.is_grad_enabled() or not (x.requires_grad or weight.requires_grad)
            or isinstance(padding, str) or torch.compiler.is_compiling()):
        if transposed:
            return F.conv_transpose2d(x, weight, None, stride, padding, output_padding, groups, dilation)
        return F.conv2d(x, weight, None, stride, padding, dilation, groups)
    conf = (_pair(stride), _pair(padding), _pair(dilation), groups, transposed, _pair(output_padding))
    return _PenaltyConv.apply(x, weight, conf)


class PenaltyConv2d(nn.Conv2d):
    """``nn.Conv2d`` without bias (zero padding given as numbers) through :func:`penalty_conv2d`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.bias is not None or self.padding_mode != "zeros" or isinstance(self.padding, str):
            raise ValueError("PenaltyConv2d takes bias=False and zero padding given as numbers")

    def forward(self, x: Tensor) -> Tensor:
        return penalty_conv2d(x, self.weight, self.stride, self.padding, self.dilation, self.groups)
