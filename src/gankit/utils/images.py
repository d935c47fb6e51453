"""Saving what a generator makes: image grids, 2-D scatter plots, training curves, GIFs."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def to_uint8_grid(images: Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> one HxWx3 (or HxW) uint8 array of tiles."""
    from torchvision.utils import make_grid

    images = images.detach().float().cpu()
    nrow = nrow or max(1, int(math.ceil(math.sqrt(len(images)))))
    grid = make_grid(images.add(1).div(2).clamp(0, 1), nrow=nrow, padding=pad, pad_value=1.0)
    arr = grid.mul(255).round().byte().permute(1, 2, 0).numpy()
    return arr[..., 0] if images.shape[1] == 1 else arr


def save_image_grid(images: Tensor, path: str | Path, nrow: int | None = None, scale: int = 0) -> Path:
    """Save a grid PNG; small images are upscaled (nearest) so 8x8 digits stay visible."""
    arr = to_uint8_grid(images, nrow)
    im = Image.fromarray(arr)
    if not scale:
        scale = -(-256 // max(arr.shape[:2]))  # ceil: at least 256 px on the long side
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def save_scatter(points: Tensor, path: str | Path, reference: Tensor | None = None,
                 centres: Tensor | None = None, title: str = "", lim: float | None = None) -> Path:
    """Scatter of 2-D samples (over the data, with mode centres marked when given); 1-D samples
    as histograms (samples over data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if points.shape[-1] == 1:  # 1-D: densities
        if reference is not None:
            ax.hist(reference.cpu().numpy()[:, 0], bins=60, density=True, color="#bbbbbb", label="data")
        ax.hist(points.detach().float().cpu().numpy()[:, 0], bins=60, density=True, histtype="step",
                color="#1f77b4", label="G(z)")
    else:
        if reference is not None:
            r = reference[:2000].cpu().numpy()
            ax.scatter(r[:, 0], r[:, 1], s=2, c="#bbbbbb", label="data")
        p = points.detach().float().cpu().numpy()
        ax.scatter(p[:, 0], p[:, 1], s=2, c="#1f77b4", label="G(z)")
        if centres is not None:
            c = centres.cpu().numpy()
            ax.scatter(c[:, 0], c[:, 1], s=40, marker="x", c="#d62728", label="modes")
        if lim:
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def save_gif(frames: list[Path], path: str | Path, duration_ms: int = 300) -> Path | None:
    """Assemble PNG frames (same size) into an animated GIF, holding the last frame longer."""
    if not frames:
        return None
    ims = [Image.open(f).convert("RGB") for f in frames]
    size = ims[0].size
    ims = [im if im.size == size else im.resize(size) for im in ims]
    durations = [duration_ms] * (len(ims) - 1) + [duration_ms * 5]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=durations, loop=0)
    return Path(path)


def plot_curves(metrics_jsonl: str | Path, path: str | Path, probabilistic: bool = True) -> Path | None:
    """Loss and D-output curves from a run's metrics.jsonl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_jsonl).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "d_loss" in r]
    if not rows:
        return None
    step = [r["step"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100)
    a.plot(step, [r["d_loss"] for r in rows], label="D loss")
    a.plot(step, [r["g_loss"] for r in rows], label="G loss")
    a.set_xlabel("generator step")
    a.legend()
    a.set_title("losses")
    b.plot(step, [r["d_real"] for r in rows], label="D(x)")
    b.plot(step, [r["d_fake"] for r in rows], label="D(G(z))")
    b.set_xlabel("generator step")
    b.set_title("discriminator outputs" + ("" if probabilistic else " (critic values)"))
    b.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
