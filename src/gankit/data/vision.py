"""Image datasets: scikit-learn's bundled digits (the offline default) and torchvision's
MNIST / Fashion-MNIST / CIFAR-10, read from their files under ``data_root``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import DataSpec, TensorData, resize_uint8
from .idx import find_idx, read_idx


def finish(x: np.ndarray, y: np.ndarray | None, image_size: int | None, name: str, num_classes: int = 10) -> TensorData:
    """uint8 NHWC/NHW array -> TensorData of uint8 NCHW, resized if asked."""
    x = torch.from_numpy(np.ascontiguousarray(x))
    x = x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()
    if image_size:
        x = resize_uint8(x, image_size)
    yt = None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64))
    return TensorData(x, yt, DataSpec(tuple(x.shape[1:]), num_classes if y is not None else 0), name)


def load_digits(cfg) -> TensorData:
    """scikit-learn's 1,797 handwritten 8x8 digits (values 0..16), bundled with the package.

    Upsampled to 16x16 by default so a DCGAN gets two strided layers; ``image_size=8`` keeps them native.
    """
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    return finish(x, d.target, cfg.image_size or 16, "digits")


_IDX_SETS = {
    "mnist": ("MNIST", "MNIST"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST"),
}
_IDX_SPLITS = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}


DATA_ENV = "GANKIT_DATA"
#: where torchvision datasets are read from (and downloaded into) without --data-root or $GANKIT_DATA
DEFAULT_DATA_ROOT = Path("~/.cache/gankit/data")
ROOT_ORDER = f"--data-root, else ${DATA_ENV}, else {DEFAULT_DATA_ROOT}"


def data_root(cfg) -> Path:
    """The folder a torchvision dataset lives in: ``cfg.data_root``, else ``$GANKIT_DATA``, else
    ``~/.cache/gankit/data`` (never the working directory)."""
    import os

    return Path(cfg.data_root or os.environ.get(DATA_ENV) or DEFAULT_DATA_ROOT).expanduser()


def load_idx_dataset(cfg) -> TensorData:
    """MNIST / Fashion-MNIST from ``<root>/<MNIST|FashionMNIST>/raw/*-ubyte[.gz]`` (torchvision's
    layout); downloads through torchvision when the files are absent and ``download`` is on."""
    root = data_root(cfg)
    folder, tv_name = _IDX_SETS[cfg.data]
    raw = root / folder / "raw"
    xs, ys = [], []
    for prefix in _IDX_SPLITS[cfg.split]:
        img, lab = find_idx(raw, f"{prefix}-images-idx3-ubyte"), find_idx(raw, f"{prefix}-labels-idx1-ubyte")
        if img is None or lab is None:
            if cfg.download:
                _torchvision_download(tv_name, root, train=prefix == "train")
                img, lab = find_idx(raw, f"{prefix}-images-idx3-ubyte"), find_idx(raw, f"{prefix}-labels-idx1-ubyte")
            if img is None or lab is None:
                other = "test" if prefix == "train" else "train"
                raise DataError(f"{cfg.data} {prefix} split not found in {raw} (expected {prefix}-images-idx3-ubyte"
                                f"[.gz]); the data root is {ROOT_ORDER}: point one at the folder holding "
                                f"{folder}/, allow --download, or try --split {other}")
        x, y = read_idx(img), read_idx(lab)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{img} and {lab} do not hold matching images and labels; re-download them")
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            bad = img if x.dtype != np.uint8 else lab
            raise DataError(f"{bad} holds {np.dtype(x.dtype if bad is img else y.dtype).name} values; {cfg.data} "
                            f"IDX files hold unsigned bytes (type 0x08): re-download them")
        if len(y) and int(y.max()) > 9:
            raise DataError(f"{lab} holds label {int(y.max())}; {cfg.data} labels are 0-9: re-download it")
        xs.append(x)
        ys.append(y)
    return finish(np.concatenate(xs), np.concatenate(ys), cfg.image_size, cfg.data)


def _torchvision_download(name: str, root: Path, train: bool) -> None:
    import torchvision

    try:
        getattr(torchvision.datasets, name)(str(root), train=train, download=True)
    except Exception as e:  # offline, HTTP errors, ...
        raise DataError(f"could not download {name} into {root}: {str(e).splitlines()[0] if str(e) else type(e).__name__}; "
                        f"place the files there by hand or check the network") from None


def load_cifar10(cfg) -> TensorData:
    """CIFAR-10 from the binary release (``cifar-10-batches-bin``, read as raw bytes), or from
    torchvision's python release, whose pickles torchvision md5-checks against the official
    archive before loading (downloaded when absent)."""
    root = data_root(cfg)
    names = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    names["all"] = names["train"] + names["test"]
    bin_dir = root / "cifar-10-batches-bin"
    if bin_dir.is_dir():
        recs = []
        for n in names[cfg.split]:
            p = bin_dir / f"{n}.bin"
            try:
                raw = np.fromfile(p, dtype=np.uint8)
            except OSError as e:
                raise DataError(f"cannot read {p}: {e}; re-download CIFAR-10 (binary version)") from None
            if raw.size == 0 or raw.size % 3073:
                raise DataError(f"{p} is truncated or corrupt ({raw.size} bytes, not a multiple of 3073)")
            recs.append(raw.reshape(-1, 3073))
        rec = np.concatenate(recs)
        y, x = rec[:, 0], rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        if y.max() > 9:
            raise DataError(f"{bin_dir} holds labels above 9; it is not CIFAR-10 (binary version)")
        return finish(x, y, cfg.image_size, "cifar10")
    import torchvision

    xs, ys = [], []
    for train in {"train": [True], "test": [False], "all": [True, False]}[cfg.split]:
        try:
            ds = torchvision.datasets.CIFAR10(str(root), train=train, download=cfg.download)
        except Exception as e:
            raise DataError(f"CIFAR-10 not found or corrupt under {root} ({str(e).splitlines()[0]}); "
                            f"allow --download or unpack cifar-10-batches-bin/ there (the data root is {ROOT_ORDER})") from None
        xs.append(np.asarray(ds.data))
        ys.append(np.asarray(ds.targets))
    return finish(np.concatenate(xs), np.concatenate(ys), cfg.image_size, "cifar10")
