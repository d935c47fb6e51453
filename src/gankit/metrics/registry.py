"""The metrics of ``gankit evaluate``, registered by name with the input each one needs.

An image metric reads one input of :class:`MetricInputs`: ``features`` (any extractor),
``logits`` (an extractor with a classifier: lenet, inception) or ``classes`` (an evaluator whose
classes fit the data). :func:`image_metrics` computes the requested ones, in registration order,
and names a reason for each whose input is missing. 2-D point runs get :data:`POINT_METRICS`,
computed on the raw coordinates by :mod:`gankit.metrics.evaluate`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import warnings

import torch
from torch import Tensor

from ..errors import GankitError

from .cmmd import cmmd
from .frechet import feature_statistics, frechet_distance
from .inception_score import inception_score
from .kid import kernel_inception_distance
from .modes import class_distribution_kl, class_kl_to_target, count_modes
from .prdc import prdc

__all__ = ["Metric", "MetricInputs", "ClassInputs", "register_metric", "metric_names", "parse_metrics",
           "image_metrics", "class_metrics", "prdc_equal_size", "METRICS", "POINT_METRICS"]


@dataclass(frozen=True)
class ClassInputs:
    """What the class metrics read: the evaluator's logits of the samples, its number of
    classes, and the requested labels of a conditional generator (None when unconditional)."""

    logits: Tensor
    num_classes: int
    requested: Tensor | None = None


@dataclass(frozen=True)
class MetricInputs:
    """The inputs of one evaluation's image metrics (read, never written)."""

    fake: dict                             # extract() output of the samples: features (+ logits)
    ref: object                            # ReferenceFeatures of the real data
    seed: int = 0
    is_splits: int = 10
    classes: ClassInputs | str | None = None  # or why the class metrics cannot be computed


@dataclass(frozen=True)
class Metric:
    """One ``--metrics`` name: the input it needs, its computation, and why it is skipped without it."""

    name: str
    needs: str                             # "features", "logits" or "classes" (see MetricInputs)
    compute: Callable[[MetricInputs], dict]
    without: str = ""


_REGISTRY: dict[str, Metric] = {}
_NEEDS = ("features", "logits", "classes")


def register_metric(name: str, needs: str = "features", without: str = ""):
    """Decorator: register ``fn(inputs: MetricInputs) -> dict`` as image metric ``name``, which
    needs input ``needs`` and is skipped with reason ``without`` when that input is missing."""
    if needs not in _NEEDS:
        raise ValueError(f"metric {name!r}: needs must be one of {', '.join(_NEEDS)}, not {needs!r}")

    def deco(fn: Callable[[MetricInputs], dict]):
        _REGISTRY[name] = Metric(name, needs, fn, without)
        return fn
    return deco


def metric_names() -> tuple[str, ...]:
    """The registered image metrics, in the order their values are reported."""
    return tuple(_REGISTRY)


def _subset(n_total: int, n: int, seed: int) -> Tensor:
    if n >= n_total:
        return torch.arange(n_total)
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


def prdc_equal_size(real: Tensor, fake: Tensor, seed: int) -> dict:
    """Precision/recall (k=3) and density/coverage (k=5) on equal-size sets (the k-NN radii
    depend on the set size): the first min(both) samples and as many seeded real rows."""
    m = min(len(fake), len(real))
    return prdc(real[_subset(len(real), m, seed + 2)], fake[:m], k_pr=3, k_dc=5)


@register_metric("fid")
def _fid(inp: MetricInputs) -> dict:
    n, d = inp.fake["features"].shape
    if min(n, len(inp.ref.features)) <= d:
        warnings.warn(f"FID from {min(n, len(inp.ref.features))} samples in {d} feature dimensions: the covariance "
                      f"is rank-deficient and the estimate is biased upwards; use more than {d} samples",
                      RuntimeWarning, stacklevel=2)
    mu, sigma = feature_statistics(inp.fake["features"])
    return {"fid": frechet_distance(mu, sigma, inp.ref.mu, inp.ref.sigma), "fid_samples": n}



@register_metric("kid")
def _kid(inp: MetricInputs) -> dict:
    kid, std = kernel_inception_distance(inp.ref.features, inp.fake["features"], subset_size=1000, seed=inp.seed)
    return {"kid": kid, "kid_std": std}


@register_metric("cmmd")
def _cmmd(inp: MetricInputs) -> dict:
    """CMMD's estimator on the extractor's features (true CMMD with ``--extractor clip``)."""
    return {"cmmd": cmmd(inp.ref.features, inp.fake["features"])}


@register_metric("is", needs="logits", without="the extractor has no classifier (use lenet or inception)")
def _is(inp: MetricInputs) -> dict:
    n = len(inp.fake["features"])
    splits = max(1, min(inp.is_splits, n // 2))
    out = {}
    out["is"], out["is_std"] = inception_score(inp.fake["logits"], splits, from_logits=True)
    if inp.ref.logits is not None:
        real = inp.ref.logits[_subset(len(inp.ref.logits), n, inp.seed + 1)]
        out["is_real"], out["is_real_std"] = inception_score(real, splits, from_logits=True)
    return out


@register_metric("pr")
def _pr(inp: MetricInputs) -> dict:
    return prdc_equal_size(inp.ref.features, inp.fake["features"], inp.seed)


@register_metric("modes", needs="classes",
                 without="class metrics need an evaluator for this dataset (--evaluator)")
def _modes(inp: MetricInputs) -> dict:
    c = inp.classes
    return class_metrics(c.logits, c.num_classes, c.requested)


METRICS = metric_names()
POINT_METRICS = ("modes", "pr")  # what 2-D runs get, in this order


def parse_metrics(spec: str | list[str] | None, kind: str = "image") -> list[str]:
    """``"fid,kid"`` -> ``["fid", "kid"]``; None -> every metric that applies to ``kind``."""
    if spec is None:
        return list(metric_names() if kind == "image" else POINT_METRICS)
    names = [m.strip().lower() for m in (spec.split(",") if isinstance(spec, str) else spec) if m.strip()]
    bad = [m for m in names if m not in _REGISTRY]
    if bad or not names:
        raise GankitError(f"unknown metric {', '.join(bad) or '(none)'}; choose from: {', '.join(metric_names())}")
    return list(dict.fromkeys(names))


def _missing(metric: Metric, inputs: MetricInputs) -> str | None:
    """Why ``metric`` cannot be computed from ``inputs``; None when its input is there."""
    if metric.needs == "logits" and "logits" not in inputs.fake:
        return metric.without
    if metric.needs == "classes" and not isinstance(inputs.classes, ClassInputs):
        return inputs.classes or metric.without
    return None


def image_metrics(metrics: list[str], fake: dict, ref, *, seed: int = 0, is_splits: int = 10,
                  classes: ClassInputs | str | None = None) -> tuple[dict, dict]:
    """The requested image metrics of ``fake`` (extract() output) against ``ref`` (ReferenceFeatures).

    ``classes``: the class metrics' inputs, or why they cannot be computed. Returns
    ``(values, skipped)``: metric values, and a reason for each requested metric whose input is missing.
    """
    inputs = MetricInputs(fake, ref, seed, is_splits, classes)
    values, skipped = {}, {}
    for metric in _REGISTRY.values():
        if metric.name not in metrics:
            continue
        why = _missing(metric, inputs)
        if why is None:
            values.update(metric.compute(inputs))
        else:
            skipped[metric.name] = why
    return values, skipped


def class_metrics(logits: Tensor, num_classes: int, requested: Tensor | None) -> dict:
    """Classes seen, KL(predicted histogram || uniform), and for conditional samples the
    classifier's accuracy on the requested labels and KL(requested || predicted)."""
    pred = logits.argmax(1)
    out = {"classes_seen": count_modes(pred, num_classes), "num_classes": num_classes,
           "class_kl": class_distribution_kl(pred, num_classes)}
    if requested is not None:
        out["class_accuracy"] = float((pred == requested).double().mean())
        out["class_kl_to_target"] = class_kl_to_target(pred, requested, num_classes)
    return out
