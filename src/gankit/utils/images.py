"""Saving what a generator makes: image grids, 2-D scatter plots, training curves, GIFs."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
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


def _font(size: int = 11):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _wrap(text: str, font, width: int) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels (breaking at spaces; explicit newlines kept)."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}".strip()
            if line and font.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def label_grid(im: Image.Image, cell: tuple[int, int], pad: int, title: str | None = None,
               row_labels: list[str] | None = None, col_labels: list[str] | None = None) -> Image.Image:
    """``im`` (a grid of ``cell`` = (w, h) pixel tiles spaced ``pad`` px, as ``to_uint8_grid`` lays them
    out, upscaled) with white margins holding a ``title`` above, ``col_labels`` over the columns and
    ``row_labels`` left of the rows (empty strings leave a column or row unlabelled)."""
    from PIL import ImageDraw

    font, line_h = _font(), 13
    cw, ch = cell
    left = 0 if not row_labels else 8 + max(int(font.getlength(t)) for t in row_labels)
    col_lines = [_wrap(t, font, cw - 2) for t in (col_labels or [])]
    col_h = 0 if not col_labels else 4 + line_h * max(len(c) for c in col_lines)
    title_lines = _wrap(title, font, left + im.width - 8) if title else []
    top = (4 + line_h * len(title_lines) if title_lines else 0) + col_h
    out = Image.new(im.mode, (left + im.width, top + im.height), 255 if im.mode == "L" else (255, 255, 255))
    out.paste(im, (left, top))
    draw, ink = ImageDraw.Draw(out), 0 if im.mode == "L" else (0, 0, 0)
    for i, line in enumerate(title_lines):
        draw.text((4, 2 + i * line_h), line, fill=ink, font=font)
    for j, lines in enumerate(col_lines):
        x0 = left + pad + j * (cw + pad)
        for i, line in enumerate(lines):
            draw.text((x0 + (cw - font.getlength(line)) / 2, top - col_h + 2 + i * line_h), line, fill=ink, font=font)
    for r, text in enumerate(row_labels or []):
        y0 = top + pad + r * (ch + pad) + (ch - line_h) / 2
        draw.text((left - 4 - font.getlength(text), y0), text, fill=ink, font=font)
    return out


def save_image_grid(images: Tensor, path: str | Path, nrow: int | None = None, scale: int = 0,
                    title: str | None = None, row_labels: list[str] | None = None,
                    col_labels: list[str] | None = None) -> Path:
    """Save a grid PNG; small images are upscaled (nearest) so 8x8 digits stay visible. ``title``,
    ``row_labels`` and ``col_labels`` are drawn in white margins (:func:`label_grid`)."""
    arr = to_uint8_grid(images, nrow)
    im = Image.fromarray(arr)
    if not scale:
        scale = -(-256 // max(arr.shape[:2]))  # ceil: at least 256 px on the long side
    scale = max(scale, 1)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    if title or row_labels or col_labels:
        h, w = images.shape[-2:]
        im = label_grid(im, ((w + 2) * scale - 2 * scale, (h + 2) * scale - 2 * scale), 2 * scale, title,
                        row_labels, col_labels)
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


def pixel_img(path: str | Path, alt: str) -> str:
    """Markdown/HTML for image ``path`` (beside the markdown file) shown at its native size, pixels kept
    sharp: an ``<img>`` with its own width and height and ``image-rendering: pixelated``."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
    except OSError:  # unreadable (PIL's UnidentifiedImageError is an OSError): a plain link, no size
        return f"![{alt}]({path.name})"
    return (f'<img src="{path.name}" width="{w}" height="{h}" alt="{alt}" '
            f'style="image-rendering: pixelated; image-rendering: crisp-edges">')


def caption(im: Image.Image, text: str) -> Image.Image:
    """``im`` with ``text`` in a white band above it (a GIF frame saying its step)."""
    from PIL import ImageDraw

    font = _font(12)
    out = Image.new("RGB", (im.width, im.height + 18), (255, 255, 255))
    out.paste(im.convert("RGB"), (0, 18))
    ImageDraw.Draw(out).text((4, 2), text, fill=(0, 0, 0), font=font)
    return out


def save_gif(frames: list[Path], path: str | Path, duration_ms: int = 300,
             captions: list[str] | None = None) -> Path | None:
    """Assemble PNG frames (same size) into an animated GIF, holding the last frame longer; each
    frame gets its ``captions`` entry (e.g. "step 500") in a band above it."""
    if not frames:
        return None
    ims = [Image.open(f).convert("RGB") for f in frames]
    size = ims[0].size
    ims = [im if im.size == size else im.resize(size, Image.NEAREST) for im in ims]
    if captions is not None:
        ims = [caption(im, text) for im, text in zip(ims, captions)]
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
