"""Datasets live in one tensor (uint8 images or float points) and are read in shuffled batches.

Small sets (MNIST-size) sit on the training device so a minibatch is one indexing op; larger
ones stay in host memory and only each batch moves. No per-sample DataLoader in the hot loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DataError

DEVICE_RESIDENT_BYTES = 1 << 30  # keep datasets up to 1 GiB on the accelerator


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about the data: sample shape, classes, images or points."""

    shape: tuple[int, ...]       # (C, H, W) for images, (D,) for points
    num_classes: int = 0         # 0 = unlabelled
    kind: str = "image"          # image | points
    subset: int | None = None    # --train-subset: trained on this many samples of the dataset
    subset_seed: int = 0         #   drawn with this seed (gankit.data.subset)

    def to_dict(self):
        d = {"shape": list(self.shape), "num_classes": self.num_classes, "kind": self.kind}
        if self.subset is not None:
            d.update(subset=self.subset, subset_seed=self.subset_seed)
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(tuple(d["shape"]), int(d["num_classes"]), d["kind"], d.get("subset"), int(d.get("subset_seed", 0)))


class TensorData:
    """Samples ``x`` (uint8 NCHW images, or float points) with optional integer labels ``y``.

    ``batch(idx)`` returns floats in [-1, 1] for images (the generator's Tanh range).
    """

    def __init__(self, x: Tensor, y: Tensor | None, spec: DataSpec, name: str = ""):
        if len(x) == 0:
            raise DataError(f"dataset {name!r} is empty; check the data root / folder")
        if y is not None and len(y) != len(x):
            raise DataError(f"dataset {name!r} has {len(x)} samples but {len(y)} labels")
        self.x, self.y, self.spec, self.name = x, y, spec, name

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device: torch.device | str) -> "TensorData":
        device = torch.device(device)
        nbytes = self.x.numel() * self.x.element_size()
        if device.type != "cpu" and nbytes > DEVICE_RESIDENT_BYTES:
            return self  # stays on the host; batches are moved one at a time
        y = None if self.y is None else self.y.to(device)
        return TensorData(self.x.to(device), y, self.spec, self.name)

    def batch(self, idx: Tensor, device: torch.device | str | None = None) -> tuple[Tensor, Tensor | None]:
        idx = idx.to(self.x.device)
        x = self.x[idx]
        y = None if self.y is None else self.y[idx]
        if device is not None and x.device != torch.device(device):
            x = x.to(device, non_blocking=True)
            y = None if y is None else y.to(device, non_blocking=True)
        if x.dtype == torch.uint8:
            x = x.float().div_(127.5).sub_(1.0)
        return x, y

    def all_images(self) -> Tensor:
        """Every sample as floats in [-1, 1] (for evaluation and nearest neighbours)."""
        return self.batch(torch.arange(len(self)))[0]


class EpochSampler:
    """Shuffled minibatch indices, a fresh permutation per epoch, dropping the ragged tail.

    The permutation of epoch e is a pure function of (seed, e), so the sampler's whole state is
    two integers: a resumed run reads exactly the batches the uninterrupted run would have.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device="cpu"):
        if batch_size > n:
            raise DataError(f"batch size {batch_size} is larger than the dataset ({n} samples); "
                            f"lower --batch-size")
        self.n, self.batch_size, self.seed, self.device = n, batch_size, seed, device
        self.epoch, self.cursor = 0, 0
        self._perm: Tensor | None = None

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.batch_size

    def _permutation(self) -> Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(self.n, generator=g).to(self.device)
        return self._perm

    def next(self) -> Tensor:
        if self.cursor + self.batch_size > self.n:
            self.epoch, self.cursor, self._perm = self.epoch + 1, 0, None
        idx = self._permutation()[self.cursor:self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return idx

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.cursor, self._perm = int(state["epoch"]), int(state["cursor"]), None


def resize_uint8(x: Tensor, size: int) -> Tensor:
    """Resize uint8 NCHW images to size x size (antialiased bilinear), back to uint8."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    out = []
    for chunk in x.split(4096):
        r = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(r.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)
