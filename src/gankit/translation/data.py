"""Two image domains A and B in memory, read in minibatches of (a, b) like ``TensorData``.

*Paired* data (pix2pix) holds aligned pairs (a_i, b_i). *Unpaired* data (CycleGAN) holds two
sets of any sizes; an epoch runs over ``max(|A|, |B|)`` indices, index i reading a[i mod |A|] and
b[pi(i) mod |B|] for one fixed seeded permutation pi, so every image of both sets is seen each
epoch, and batches are a pure function of the sampler's indices (exact resume). Which b goes
with which a does not matter: no CycleGAN loss couples a_i with b_j.

Folders: ``ROOT/A`` and ``ROOT/B`` (or CycleGAN's ``trainA``/``trainB``, ``testA``/``testB`` by
``split``); paired folders match files by their path relative to A/ and B/ without extension.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ..data.base import DataSpec
from ..data.folder import IMAGE_SUFFIXES
from ..errors import DataError


class ImagePairs:
    """Domains ``a`` and ``b`` (uint8 NCHW, same C, H, W); ``batch(idx) -> (a, b)`` in [-1, 1].

    ``y`` optionally holds labels of the pairs (the digit of edges2mnist), for evaluation only.
    """

    def __init__(self, a: Tensor, b: Tensor, paired: bool, name: str = "", y: Tensor | None = None,
                 seed: int = 0, _perm: Tensor | None = None):
        if len(a) == 0 or len(b) == 0:
            raise DataError(f"dataset {name!r} has an empty domain ({len(a)} images in A, {len(b)} in B)")
        if a.shape[1:] != b.shape[1:]:
            raise DataError(f"dataset {name!r}: domains A {tuple(a.shape[1:])} and B {tuple(b.shape[1:])} "
                            f"differ in shape; give both the same --channels and --image-size")
        if paired and len(a) != len(b):
            raise DataError(f"paired dataset {name!r} has {len(a)} images in A but {len(b)} in B")
        self.a, self.b, self.paired, self.name, self.y = a, b, paired, name, y
        self.spec = DataSpec(tuple(a.shape[1:]), 0, "image")
        n = max(len(a), len(b))
        if _perm is None and not paired:
            _perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 4242)) % len(b)
        self._perm = _perm

    @property
    def x(self) -> Tensor:
        """Domain A (what ``len`` counts for paired data)."""
        return self.a

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def to(self, device) -> "ImagePairs":
        device = torch.device(device)
        move = (lambda t: None if t is None else t.to(device))
        return ImagePairs(move(self.a), move(self.b), self.paired, self.name, move(self.y),
                          _perm=move(self._perm))

    def indices(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        idx = idx.to(self.a.device)
        if self.paired:
            return idx, idx
        return idx % len(self.a), self._perm[idx]

    def batch(self, idx: Tensor, device=None) -> tuple[Tensor, Tensor]:
        ia, ib = self.indices(idx)
        out = []
        for x in (self.a[ia], self.b[ib]):
            if device is not None:
                x = x.to(device, non_blocking=True)
            out.append(x.float().div_(127.5).sub_(1.0))
        return out[0], out[1]

    def subset(self, idx: Tensor, name: str | None = None) -> "ImagePairs":
        """The pairs ``idx`` (paired data only), e.g. a training/held-out split."""
        if not self.paired:
            raise DataError("subset() needs paired data")
        return ImagePairs(self.a[idx], self.b[idx], True, name or self.name,
                          None if self.y is None else self.y[idx])

    def all_images(self) -> Tensor:
        """Domain B in [-1, 1] (the generator's target domain)."""
        return self.b.float().div(127.5).sub(1.0)


# ---------------------------------------------------------------------- image files
def read_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One image file -> uint8 (size, size[, 3]): resized on the short side (bicubic), centre-cropped."""
    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            w, h = im.size
            s = size / min(w, h)
            im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
            left, top = (im.width - size) // 2, (im.height - size) // 2
            return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}; "
                        f"remove or replace it") from None


def to_tensor(arrays: list[np.ndarray]) -> Tensor:
    x = torch.from_numpy(np.stack(arrays))
    return x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()


def image_files(folder: Path) -> dict[str, Path]:
    """Image files under ``folder`` (recursive) by relative path without extension."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not p.name.startswith("."))
    return {str(p.relative_to(folder).with_suffix("")): p for p in files}


def domain_folders(cfg) -> tuple[Path, Path]:
    if not cfg.data_root:
        raise DataError(f"--data-root is required for --data {cfg.data} (a folder holding A/ and B/)")
    root = Path(cfg.data_root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root} does not exist or is not a folder; check --data-root")
    prefix = "test" if cfg.split == "test" else "train"
    for a, b in (("A", "B"), (f"{prefix}A", f"{prefix}B")):
        if (root / a).is_dir() and (root / b).is_dir():
            return root / a, root / b
    raise DataError(f"{root} needs sub-folders A/ and B/ (or {prefix}A/ and {prefix}B/) holding the two "
                    f"image domains")


def _load_domain(files: list[Path], size: int, channels: int) -> Tensor:
    return to_tensor([read_image(p, size, channels) for p in files])


def load_paired_folder(cfg) -> ImagePairs:
    """Aligned pairs: ``A/x.png`` translates to ``B/x.png`` (matched by name, extension free)."""
    dir_a, dir_b = domain_folders(cfg)
    fa, fb = image_files(dir_a), image_files(dir_b)
    common = sorted(set(fa) & set(fb))
    only = sorted(set(fa) ^ set(fb))
    if only:
        side = "A" if only[0] in fa else "B"
        raise DataError(f"{len(only)} image(s) have no partner in the other folder (e.g. {only[0]!r} in "
                        f"{side}/ only); paired data needs the same names in A/ and B/")
    if not common:
        raise DataError(f"no images in {dir_a} and {dir_b}")
    size, ch = cfg.image_size or 64, cfg.channels or 3
    return ImagePairs(_load_domain([fa[k] for k in common], size, ch), _load_domain([fb[k] for k in common], size, ch),
                      True, "paired-folder")


def load_unpaired_folder(cfg) -> ImagePairs:
    """Two unaligned sets: any images in A/ and in B/."""
    dir_a, dir_b = domain_folders(cfg)
    fa, fb = image_files(dir_a), image_files(dir_b)
    for d, f in ((dir_a, fa), (dir_b, fb)):
        if not f:
            raise DataError(f"no images in {d}")
    size, ch = cfg.image_size or 64, cfg.channels or 3
    return ImagePairs(_load_domain(list(fa.values()), size, ch), _load_domain(list(fb.values()), size, ch),
                      False, "unpaired-folder", seed=cfg.seed)
