"""Any folder of images (recursively): resized on the short side and centre-cropped, kept as uint8.
Class labels are taken from first-level sub-folders when there are several."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from .base import DataSpec, TensorData

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _load_one(path: Path, size: int, mode: str) -> np.ndarray | None:
    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            w, h = im.size
            if min(w, h) < size:
                return "small"  # type: ignore[return-value]
            s = size / min(w, h)
            im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def load_folder(cfg) -> TensorData:
    if not cfg.data_root:
        raise DataError("--data-root is required for --data folder (the folder of images)")
    root = Path(cfg.data_root).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a folder; check --data-root")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    others = len(files) - len(images)
    if others and cfg.strict:
        bad = next(p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES)
        raise DataError(f"{others} non-image file(s) in {root} (e.g. {bad}); remove them or drop --strict")
    size, mode = cfg.image_size or 64, "L" if cfg.channels == 1 else "RGB"
    with ThreadPoolExecutor(max_workers=8) as pool:
        arrays = list(pool.map(lambda p: _load_one(p, size, mode), images))
    small = [p for p, a in zip(images, arrays) if isinstance(a, str)]
    corrupt = [p for p, a in zip(images, arrays) if a is None]
    if (corrupt or small) and cfg.strict:
        p = (corrupt or small)[0]
        why = "unreadable/corrupt" if corrupt else f"smaller than {size}px"
        raise DataError(f"{len(corrupt) + len(small)} image(s) in {root} are {why} (e.g. {p}); "
                        f"fix or remove them, or drop --strict to skip them")
    keep = [(p, a) for p, a in zip(images, arrays) if isinstance(a, np.ndarray)]
    if not keep:
        raise DataError(f"no usable images of at least {size}px in {root} "
                        f"({len(corrupt)} corrupt, {len(small)} too small, {others} non-image files)")
    skipped = others + len(corrupt) + len(small)
    if skipped:
        log.warning("skipped %d file(s) in %s: %d non-image, %d corrupt, %d smaller than %dpx",
                    skipped, root, others, len(corrupt), len(small), size)
    x = torch.from_numpy(np.stack([a for _, a in keep]))
    x = x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()
    classes = sorted({p.relative_to(root).parts[0] for p, _ in keep if len(p.relative_to(root).parts) > 1})
    y = None
    if len(classes) > 1 and all(len(p.relative_to(root).parts) > 1 for p, _ in keep):
        index = {c: i for i, c in enumerate(classes)}
        y = torch.tensor([index[p.relative_to(root).parts[0]] for p, _ in keep])
    data = TensorData(x, y, DataSpec(tuple(x.shape[1:]), len(classes) if y is not None else 0), "folder")
    data.skipped = skipped
    return data
