"""Datasets by name: each loader turns a config into one in-memory ``TensorData``."""
from __future__ import annotations

import torch

from ..registry import Registry
from .base import DataSpec, EpochSampler, TensorData
from .folder import load_folder
from .toy import TOY_MODES, sample_mixture, sample_spiral
from .vision import load_cifar10, load_digits, load_idx_dataset

DATASETS: Registry = Registry("dataset")
# image pairs for pix2pix / CycleGAN, registered by gankit.translation when first used
DATASETS.lazy(("edges2mnist", "paired-folder", "mnist2digits", "digits2inverted", "unpaired-folder"),
             "gankit.translation")
DATASETS.register("digits")(load_digits)
DATASETS.register("mnist")(load_idx_dataset)
DATASETS.register("fashion-mnist")(load_idx_dataset)
DATASETS.register("cifar10")(load_cifar10)
DATASETS.register("folder")(load_folder)


def _toy(name):
    def load(cfg) -> TensorData:
        g = torch.Generator().manual_seed(cfg.seed + 12345)
        if name == "spiral":
            x, y = sample_spiral(cfg.num_points, g), None
        else:
            centres_fn, std = TOY_MODES[name]
            x, y = sample_mixture(centres_fn(), std, cfg.num_points, g)
        return TensorData(x, None, DataSpec((2,), 0, "points"), name)

    load.__doc__ = f"The synthetic 2-D '{name}' distribution ({'' if name == 'spiral' else 'Gaussian mixture, '}points)."
    return load


for _name in ("ring", "grid", "spiral"):
    DATASETS.register(_name)(_toy(_name))


def load_dataset(cfg) -> TensorData:
    return DATASETS.get(cfg.data)(cfg)


__all__ = ["DATASETS", "DataSpec", "EpochSampler", "TensorData", "load_dataset"]

from .stacked import load_stacked_mnist  # noqa: E402
DATASETS.register("stacked-mnist")(load_stacked_mnist)
from .subset import take_subset, training_data  # noqa: E402
