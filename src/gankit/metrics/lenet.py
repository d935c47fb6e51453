"""The offline evaluator: a LeNet-style classifier (LeCun et al. 1998) that gankit trains itself.

Inception features say little about 28x28 digits and need a weights file; a small CNN trained
on the labelled dataset gives a *domain* feature space instead. Its penultimate activations
(after ReLU, ``hidden`` wide) play the role of Inception's pool3 for FID / KID / PRDC, and its
softmax the role of Inception's classifier for the Inception Score and class statistics.

Architecture: two 5x5 conv + ReLU + 2x2 max-pool stages (``width``, ``2·width`` channels),
then FC(hidden) + ReLU (the features), dropout, FC(num_classes). Inputs are gankit images in
[-1, 1] at the dataset's size. Training: Adam, cosine learning rate, random shifts of up to
``size/14`` pixels (2 px at 28x28) as the only augmentation, a seeded held-out split for an
honest accuracy.

An evaluator is a folder: ``model.safetensors`` + ``config.json`` (architecture, data, held-out
accuracy); :func:`load_evaluator` reads it back. Its identity is a hash of the weights, so
cached reference statistics never mix evaluators.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GankitError
from ..models.layers import evaluating

__all__ = ["LeNet", "train_lenet", "train_evaluator", "accuracy", "save_evaluator", "load_evaluator", "random_shift"]

WEIGHTS, CONFIG, FORMAT = "model.safetensors", "config.json", "gankit-evaluator"


class LeNet(nn.Module):
    """LeNet-like CNN: ``features(x)`` (N, hidden) penultimate activations, ``forward(x)`` logits."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                 width: int = 32, hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        if image_size < 4:
            raise ValueError(f"LeNet needs images of at least 4x4, got {image_size}")
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        self.width, self.hidden, self.dropout = width, hidden, dropout
        self.conv1 = nn.Conv2d(in_channels, width, 5, padding=2)
        self.conv2 = nn.Conv2d(width, 2 * width, 5, padding=2)
        side = image_size // 4
        self.fc1 = nn.Linear(2 * width * side * side, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.config: dict = {}
        self.identity = ""

    def arch(self) -> dict:
        return {"arch": "lenet", "in_channels": self.in_channels, "image_size": self.image_size,
                "num_classes": self.num_classes, "width": self.width, "hidden": self.hidden,
                "dropout": self.dropout}

    def features(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc1(x.flatten(1)))

    def classify(self, h: Tensor) -> Tensor:
        return self.fc2(F.dropout(h, self.dropout, self.training))

    def forward(self, x: Tensor) -> Tensor:
        return self.classify(self.features(x))


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator | None = None) -> Tensor:
    """Translate each image by its own integer offset in [-max_shift, max_shift]², filling with -1."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, b, 1), generator=generator, device=x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, :, None]   # (B, H, 1)
    cols = (dx + torch.arange(w, device=x.device))[:, None, :]   # (B, 1, W)
    out = padded[torch.arange(b, device=x.device)[:, None, None], :, rows, cols]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``x`` (images in [-1, 1]) that ``model`` labels as ``y``."""
    with evaluating(model):
        correct = sum((model(xb).argmax(1) == yb).sum().item()
                      for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return correct / max(len(x), 1)


def train_lenet(x: Tensor, y: Tensor, num_classes: int, *, x_val: Tensor | None = None,
                y_val: Tensor | None = None, epochs: int = 12, batch_size: int = 64, lr: float = 2e-3,
                weight_decay: float = 1e-4, width: int = 32, hidden: int = 128, dropout: float = 0.3,
                max_shift: int | None = None, seed: int = 0, log=None) -> LeNet:
    """Train a :class:`LeNet` on images ``x`` (N, C, H, W) in [-1, 1] with labels ``y``.

    Adam with a cosine-annealed learning rate, per-epoch shuffles and shifts drawn from ``seed``
    (deterministic on one thread). ``log(epoch, loss, val_acc)`` is called after each epoch.
    """
    if x.dim() != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"train_lenet expects square images (N, C, H, W), got {tuple(x.shape)}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    size = x.shape[-1]
    model = LeNet(x.shape[1], size, num_classes, width, hidden, dropout)
    shift = round(size / 14) if max_shift is None else max_shift
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = max(1, len(x) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(model(random_shift(x[idx], shift, g)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        if log is not None:
            val = accuracy(model, x_val, y_val) if x_val is not None else math.nan
            log(epoch + 1, total / steps_per_epoch, val)
    return model.eval()


def save_evaluator(model: LeNet, path: str | Path, **info) -> Path:
    """Write ``model.safetensors`` + ``config.json`` (architecture, ``info``) into folder ``path``."""
    from safetensors.torch import save_file

    from .. import __version__

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
              str(path / WEIGHTS), metadata={"format": "pt"})
    config = {"format": FORMAT, "version": 1, **model.arch(), **info, "gankit_version": __version__,
              "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (path / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    model.config, model.identity = config, _identity(path / WEIGHTS)
    return path


def _identity(weights: Path) -> str:
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:16]


def load_evaluator(path: str | Path, device: str | torch.device = "cpu") -> LeNet:
    """The evaluator saved in folder ``path``, in eval mode, with ``.config`` and ``.identity``."""
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    cfg_file, weights = path / CONFIG, path / WEIGHTS
    if not (cfg_file.is_file() and weights.is_file()):
        raise GankitError(f"{path} is not an evaluator folder (needs {CONFIG} and {WEIGHTS}); "
                          f"create one with `gankit train-evaluator --data ... --out {path}`")
    try:
        config = json.loads(cfg_file.read_text())
        if config.get("format") != FORMAT or config.get("arch") != "lenet":
            raise ValueError("not a gankit lenet evaluator config")
        model = LeNet(int(config["in_channels"]), int(config["image_size"]), int(config["num_classes"]),
                      int(config["width"]), int(config["hidden"]), float(config.get("dropout", 0.0)))
        model.load_state_dict(load_file(str(weights)))
    except Exception as e:  # JSON, keys, shapes, corrupt safetensors
        raise GankitError(f"cannot load evaluator {path}: {' '.join(str(e).split())[:200]}; "
                          f"recreate it with `gankit train-evaluator`") from None
    model.config, model.identity = config, _identity(weights)
    return model.to(device).eval().requires_grad_(False)


def train_evaluator(*, data: str, out: str | Path, data_root: str | None = None, split: str = "train",
                    image_size: int | None = None, download: bool = False, held_out: float = 0.2,
                    limit: int | None = None, seed: int = 0, log=None, **train_kw) -> dict:
    """Load a labelled dataset, hold out a seeded part, train a LeNet on the rest, save it to ``out``.

    ``held_out`` is a fraction (< 1) or a count of images. Returns the saved config (with
    ``held_out_accuracy``). ``train_kw`` go to :func:`train_lenet`.
    """
    from ..config import TrainConfig
    from ..data import load_dataset

    try:
        cfg = TrainConfig(data=data, data_root=data_root, split=split, image_size=image_size,
                          download=download, seed=seed).validate()
    except ValueError as e:
        raise GankitError(str(e)) from None
    ds = load_dataset(cfg)
    if ds.spec.kind != "image" or ds.y is None or not ds.spec.num_classes:
        raise GankitError(f"train-evaluator needs a labelled image dataset; {data} has no labels")
    if ds.spec.shape[-1] != ds.spec.shape[-2]:
        raise GankitError(f"train-evaluator needs square images; {data} is {ds.spec.shape}")
    n = len(ds) if limit is None else min(limit, len(ds))
    n_val = int(round(held_out * n)) if held_out < 1 else int(held_out)
    if not 1 <= n_val < n:
        raise GankitError(f"--held-out {held_out} leaves no training or held-out images out of {n}")
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    val, train = perm[:n_val], perm[n_val:]
    x_tr, y_tr = ds.batch(train)
    x_val, y_val = ds.batch(val)
    t0 = time.perf_counter()
    model = train_lenet(x_tr, y_tr, ds.spec.num_classes, x_val=x_val, y_val=y_val, seed=seed, log=log, **train_kw)
    elapsed = time.perf_counter() - t0
    acc = accuracy(model, x_val, y_val)
    info = {"dataset": data, "split": split, "data_root": data_root, "train_size": len(train),
            "held_out_size": len(val), "held_out_accuracy": acc, "seed": seed,
            "train_time_s": round(elapsed, 2),
            "training": {k: v for k, v in train_kw.items() if isinstance(v, (int, float, str))}}
    save_evaluator(model, out, **info)
    return model.config
