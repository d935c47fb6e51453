"""Is the generator copying its training set? Goodfellow et al. 2014, Fig. 2: next to each
sample, its nearest training example, "to demonstrate that the model has not memorized the
training set". Nearest neighbours by Euclidean distance in pixel space and in a feature space.

A number to go with the picture: the distance from each sample to its nearest training image,
compared with the same distance for held-out real images (or, without a held-out set, each
training image's distance to its nearest *other* training image). A generator that copies
training images scores far below the real-data reference; one that generalises scores near it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ._plot import save_grid

Features = Callable[[Tensor], Tensor]


def pixels(x: Tensor) -> Tensor:
    """The identity feature space: flattened pixels."""
    return x.flatten(1)


def downsampled(size: int = 7) -> Features:
    """Average-pooled pixels (size x size): a feature space blind to small shifts and stroke noise."""
    def features(x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, size).flatten(1)
    features.__name__ = f"downsampled{size}"
    return features


@torch.no_grad()
def embed(x: Tensor, features: Features | None = None, batch: int = 1024) -> Tensor:
    f = features or pixels
    return torch.cat([f(x[i:i + batch]).flatten(1).float() for i in range(0, len(x), batch)])


@torch.no_grad()
def nearest_neighbours(queries: Tensor, reference: Tensor, exclude_self: bool = False,
                       batch: int = 1024) -> tuple[Tensor, Tensor]:
    """For (N, D) ``queries`` and (M, D) ``reference`` features: the index in ``reference`` of each
    query's nearest neighbour (Euclidean) and the distance. ``exclude_self``: queries are
    ``reference[:N]`` and a point may not be its own neighbour."""
    idx, dist = [], []
    r2 = reference.square().sum(1)
    for start in range(0, len(queries), batch):
        q = queries[start:start + batch]
        d2 = (q.square().sum(1, keepdim=True) - 2 * q @ reference.T + r2).clamp_min_(0)
        if exclude_self:
            rows = torch.arange(len(q))
            d2[rows, rows + start] = float("inf")
        d, i = d2.min(1)
        idx.append(i)
        dist.append(d.sqrt())
    return torch.cat(idx), torch.cat(dist)


def memorization_check(samples: Tensor, train: Tensor, out_dir, features: dict[str, Features | None] | None = None,
                       held_out: Tensor | None = None, n_show: int = 24, n_reference: int = 1000,
                       prefix: str = "memorization") -> dict:
    """Nearest training image of each sample in every feature space (default: pixels).

    Writes ``<prefix>.png``: for each of the first ``n_show`` samples, a group
    ``sample | nearest (space 1) | nearest (space 2) ...`` followed by a white gap, and returns per space the mean / min
    sample-to-train distance and the real-data reference (``held_out`` images, or ``n_reference``
    training images against the rest of the training set).
    """
    out_dir = Path(out_dir)
    features = features or {"pixels": pixels}
    result, columns = {"n_samples": len(samples), "n_train": len(train), "spaces": {}}, [samples[:n_show]]
    for name, f in features.items():
        ftrain = embed(train, f)
        idx, dist = nearest_neighbours(embed(samples, f), ftrain)
        if held_out is not None:
            _, ref = nearest_neighbours(embed(held_out, f), ftrain)
            ref_name = "held_out_to_train"
        else:
            n = min(n_reference, len(train))
            _, ref = nearest_neighbours(ftrain[:n], ftrain, exclude_self=True)
            ref_name = "train_to_other_train"
        columns.append(train[idx[:n_show]].to(samples))
        result["spaces"][name] = {
            "nearest_index": idx[:n_show].tolist(),
            "sample_to_train_mean": float(dist.mean()), "sample_to_train_median": float(dist.median()),
            "sample_to_train_min": float(dist.min()),
            f"{ref_name}_mean": float(ref.mean()), f"{ref_name}_median": float(ref.median()),
            "ratio_median": float(dist.median() / ref.median().clamp_min(1e-12)),
            "fraction_closer_than_reference_5th_percentile":
                float((dist < torch.quantile(ref, 0.05)).float().mean()),
        }
    # tile: each row holds several (sample, neighbours...) groups, like the paper's figure
    columns.append(torch.ones_like(columns[0]))             # a white gap between groups
    k = len(columns)
    tiles = torch.stack(columns, 1).flatten(0, 1)           # sample_0, nn_0..., gap, sample_1, ...
    per_row = max(1, 16 // k) * k
    headers = ["sample", *(f"NN {i + 1}" for i in range(len(features))), ""] * (per_row // k)
    spaces = ", ".join(f"NN {i + 1}: nearest training image in {n}" for i, n in enumerate(features))
    result["png"] = str(save_grid(tiles, out_dir / f"{prefix}.png", nrow=per_row, col_labels=headers,
                                  min_side=800, title=f"each generated sample, then {spaces}"))
    result["col_labels"] = headers[:k]
    result["layout"] = "groups of (sample, " + ", ".join(f"nearest in {n}" for n in features) + ")"
    return result
