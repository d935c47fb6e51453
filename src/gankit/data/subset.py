"""``--train-subset N``: train on a seeded subset of a dataset, to measure limited-data behaviour.

Labelled data gives a class-balanced subset (N // k of each of the k classes, the remainder to the
first classes in a seeded order; a class with too few samples gives all it has and the others make up
the difference); unlabelled data a uniform one. The subset is a pure function of (dataset, N, seed), and
the run's data spec records N and the seed, so resume, sampling and evaluation know it. Evaluation
measures against the full split the subset was drawn from (``load_dataset``).
"""
from __future__ import annotations

import dataclasses

import torch

from ..errors import DataError
from .base import TensorData


def subset_indices(y: torch.Tensor | None, total: int, n: int, seed: int) -> torch.Tensor:
    """Sorted indices of a seeded subset of ``n`` of ``total`` samples, class-balanced over labels ``y``."""
    if n > total:
        raise DataError(f"--train-subset {n} is larger than the dataset ({total} samples); lower it")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(total, generator=g)
    if y is None:
        return perm[:n].sort().values
    labels = y.cpu()[perm]
    classes = labels.unique()
    order = classes[torch.randperm(len(classes), generator=g)]
    pools = [perm[labels == c] for c in order]  # each class's samples, in the seeded order
    want = [n // len(order) + (i < n % len(order)) for i in range(len(order))]
    take = [min(w, len(p)) for w, p in zip(want, pools)]
    short = n - sum(take)
    while short:  # classes with too few samples: the others make up the difference, evenly
        room = [i for i, p in enumerate(pools) if take[i] < len(p)]
        share = max(short // len(room), 1)
        for i in room:
            extra = min(share, len(pools[i]) - take[i], short)
            take[i], short = take[i] + extra, short - extra
    return torch.cat([p[:t] for p, t in zip(pools, take)]).sort().values


def take_subset(data: TensorData, n: int, seed: int = 0) -> TensorData:
    """The subset of ``data`` (see :func:`subset_indices`); its spec records ``subset`` and ``subset_seed``."""
    idx = subset_indices(data.y, len(data), n, seed).to(data.x.device)
    y = None if data.y is None else data.y[idx]
    spec = dataclasses.replace(data.spec, subset=n, subset_seed=seed)
    return TensorData(data.x[idx], y, spec, data.name)


def training_data(cfg) -> TensorData:
    """What a run trains on: the dataset of ``cfg``, or its ``train_subset`` when set."""
    from . import load_dataset

    data = load_dataset(cfg)
    return data if cfg.train_subset is None else take_subset(data, cfg.train_subset, cfg.train_subset_seed)
