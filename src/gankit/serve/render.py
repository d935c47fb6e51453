"""Generator outputs to PNG bytes: an image grid, or a scatter for 2-D point data."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor

from ..utils.images import to_uint8_grid


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def image_grid_png(images: Tensor, nrow: int | None = None, min_side: int = 256) -> bytes:
    """A grid of (N, C, H, W) images in [-1, 1], upscaled (nearest) to at least ``min_side`` px."""
    im = Image.fromarray(to_uint8_grid(images, nrow))
    scale = -(-min_side // max(im.size))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    return _png(im)


def scatter_png(points: Tensor, size: int = 256, lim: float | None = None) -> bytes:
    """2-D points as dots on a white square (PIL only: matplotlib's pyplot is not thread-safe)."""
    p = points.detach().float().cpu().numpy()[:, :2]
    lim = lim or max(1.0, float(np.abs(p).max()) * 1.1 if len(p) else 1.0)
    xy = (p / lim + 1) / 2 * (size - 1)
    im = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(im)
    mid = (size - 1) / 2
    draw.line([(0, mid), (size, mid)], fill="#dddddd")
    draw.line([(mid, 0), (mid, size)], fill="#dddddd")
    for x, y in xy:
        draw.ellipse([x - 2, size - 1 - y - 2, x + 2, size - 1 - y + 2], fill="#1f77b4")
    return _png(im)


def render_png(x: Tensor, kind: str, nrow: int | None = None) -> bytes:
    return scatter_png(x) if kind == "points" else image_grid_png(x, nrow)
