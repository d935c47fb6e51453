"""Matplotlib setup shared by the analysis figures (headless backend, one import site)."""
from __future__ import annotations

from pathlib import Path


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def save(fig, path: str | Path, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt().close(fig)
    return path


def save_grid(images, path, nrow: int, min_side: int = 512, **labels) -> Path:
    """An image grid upscaled (nearest) until its long side is at least ``min_side`` pixels;
    ``labels``: ``title``, ``row_labels``, ``col_labels`` of :func:`gankit.utils.images.save_image_grid`."""
    import math

    from ..utils.images import save_image_grid

    n, h, w = len(images), images.shape[-2], images.shape[-1]
    long_side = max(min(nrow, n) * (w + 2), math.ceil(n / nrow) * (h + 2)) + 2
    return save_image_grid(images, path, nrow=nrow, scale=max(1, math.ceil(min_side / long_side)),
                           **labels)
