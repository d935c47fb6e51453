"""Shared by the evaluation tests: the real MNIST test split and a tiny evaluator trained on it once."""
from __future__ import annotations

from functools import lru_cache

from gankit import TrainConfig
from gankit.data import load_dataset
from gankit.metrics.lenet import accuracy, train_lenet

from conftest import SHARED_MNIST


@lru_cache(maxsize=None)
def mnist_test_split():
    """(images in [-1, 1], labels) of the 10,000 real MNIST test digits (shared/, read-only)."""
    cfg = TrainConfig(data="mnist", data_root=str(SHARED_MNIST), split="test", download=False).validate()
    data = load_dataset(cfg)
    return data.all_images(), data.y


@lru_cache(maxsize=None)
def tiny_mnist_evaluator():
    """A small LeNet trained for 2 epochs on the first 4,000 test digits (~1 s on one thread),
    with its accuracy on the last 2,000 (≈0.93: enough to tell digits apart)."""
    x, y = mnist_test_split()
    model = train_lenet(x[:4000], y[:4000], 10, epochs=2, width=8, hidden=32, lr=5e-3, seed=0)
    return model, accuracy(model, x[-2000:], y[-2000:])
