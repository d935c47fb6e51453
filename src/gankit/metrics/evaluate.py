"""Evaluate a trained run: sample, extract features once, compare with the cached real features.

Protocol (``gankit evaluate RUN``): ``n`` samples (default 10,000) from the run's generator (EMA
weights when kept) with noise drawn from ``seed``; conditional generators get balanced labels
(``i mod K``, shuffled). One feature pass feeds every metric; the real side is the run's own
training data (dataset, root, split, size from its config.json) through the same extractor,
cached on disk (:mod:`gankit.metrics.cache`).

Image runs: FID (Heusel et al. 2017) against the full reference statistics; KID (Bińkowski et
al. 2018; 100 subsets of ≤1,000, std null when a subset is a whole set); CMMD's estimator
(Jayasumana et al. 2024; CMMD proper with the clip extractor); IS (Salimans et al. 2016; 10
splits; Inception: unbiased logits by default) from the extractor's classifier, with the real data's IS for scale; precision/recall (k=3) and density/coverage (k=5)
on min(n, reference size) samples and as many seeded real images; with a classifier for the
dataset's classes, classes seen and KL(predicted histogram || uniform), and for conditional
runs the accuracy of the classifier on the requested labels and KL(requested || predicted).
2-D toy runs (ring, grid): the mode metrics of :func:`toy_mode_metrics` and PR/DC on the raw,
unclamped coordinates instead. Results go to ``eval.json`` and ``eval.md`` in the run directory.

The options are one :class:`~gankit.metrics.options.EvalOptions`; the image metrics are
registered by name in :mod:`gankit.metrics.registry`; eval.md is written by :mod:`gankit.metrics.report`.
"""
from __future__ import annotations

import dataclasses
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..errors import GankitError
from ..models.layers import evaluating
from .extractors import build_extractor
from .features import FeatureExtractor, LeNetExtractor
from .modes import toy_mode_metrics
from .options import EvalOptions
from .registry import (METRICS, POINT_METRICS, ClassInputs, class_metrics, image_metrics, parse_metrics,
                       prdc_equal_size)
from .report import write_report, write_results

__all__ = ["evaluate_run", "EvalOptions", "RunContext", "Measurement", "sample_generator", "image_metrics",
           "class_metrics", "parse_metrics", "METRICS", "POINT_METRICS", "write_report"]


@torch.no_grad()
def sample_generator(G, n: int, seed: int = 0, batch_size: int = 500,
                     device: str | torch.device = "cpu", rows: tuple[int, int] | None = None,
                     clamp: bool = True) -> tuple[Tensor, Tensor | None]:
    """``n`` samples of ``G`` (CPU tensor) and the requested labels (balanced) for conditional G.
    ``rows=(lo, hi)`` generates only those rows of the same n (one process's share). ``clamp``:
    clip to the image range [-1, 1]; never for 2-D points (toy generators have no tanh and the
    ring has radius 2)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=g)
    y = None
    if G.num_classes:
        y = (torch.arange(n) % G.num_classes)[torch.randperm(n, generator=g)]
    if rows is not None:
        z, y = z[rows[0]:rows[1]], None if y is None else y[rows[0]:rows[1]]
    with evaluating(G):
        out = [G(zb.to(device), None if y is None else yb.to(device)).float().cpu()
               for zb, yb in zip(z.split(batch_size), (y if y is not None else z).split(batch_size))]
    x = torch.cat(out)
    return (x.clamp_(-1, 1) if clamp else x), y


@dataclass(frozen=True)
class RunContext:
    """The run under evaluation, as the image and point measurements read it (never write it)."""

    path: Path
    G: torch.nn.Module
    cfg: object              # the run's TrainConfig
    spec: object             # its DataSpec
    dist: object             # gankit.distributed's process group view (one process: disabled)
    device: torch.device
    metrics: tuple[str, ...]  # the requested metrics, parsed
    options: EvalOptions


@dataclass
class Measurement:
    """What one evaluation measured: metric values, a reason per skipped metric, wall seconds
    per stage, and the eval.json entries that describe the features (``info``: evaluator,
    extractor, reference, notes)."""

    values: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str):
        t = time.perf_counter()
        yield
        self.times[stage] = time.perf_counter() - t


def evaluate_run(run: str | Path, options: EvalOptions | None = None, **kwargs) -> dict:
    """Evaluate run directory ``run``; returns the eval.json dict (and writes eval.json/eval.md).

    ``options``: an :class:`EvalOptions`; or its fields as keywords (``evaluate_run(run, n=200,
    evaluator=DIR)``), which also override the fields of a given ``options``.
    """
    from ..distributed import setup_distributed
    from ..pretrained import load

    opts = _options(options, kwargs)
    run = Path(run)
    t0 = time.perf_counter()
    # under torchrun, each process samples and extracts its share; features are gathered
    dist, device = setup_distributed(torch.device(opts.device))
    G = load(run, ema=opts.ema, device=device)
    cfg, spec = G.config, G.data_spec
    if not hasattr(G, "sample_z"):
        raise GankitError(f"{run} is a {cfg.model} run (image-to-image): gankit evaluate measures noise-to-image "
                          f"generators; use bench/translation.py's L1/SSIM/accuracy for translations")
    ctx = RunContext(run, G, cfg, spec, dist, device, tuple(parse_metrics(opts.metrics, spec.kind)), opts)
    measured = _points(ctx) if spec.kind == "points" else _images(ctx)
    result = _result(ctx, measured, total_s=time.perf_counter() - t0)
    if opts.write and dist.is_main:
        write_results(result, run)
    return result


def _options(options: EvalOptions | None, kwargs: dict) -> EvalOptions:
    if options is None:
        options = EvalOptions(**kwargs)
    elif not isinstance(options, EvalOptions):
        raise TypeError(f"options must be an EvalOptions, not {type(options).__name__}")
    elif kwargs:
        options = dataclasses.replace(options, **kwargs)
    return options.validate()


def _result(ctx: RunContext, measured: Measurement, total_s: float) -> dict:
    """The eval.json dict: the run and options, what was measured, and the wall times."""
    cfg, opts = ctx.cfg, ctx.options
    result = {"run": str(ctx.path), "data": cfg.data, "split": cfg.split, "shape": list(ctx.spec.shape),
              "conditional": bool(ctx.G.num_classes), "n": opts.n, "seed": opts.seed, "ema": opts.ema,
              "metrics_requested": list(ctx.metrics), **measured.info}
    values = measured.values
    non_finite = {k: str(v) for k, v in sorted(values.items()) if isinstance(v, float) and not math.isfinite(v)}
    result["metrics"] = {k: None if k in non_finite else v for k, v in values.items()}
    if non_finite:
        result["non_finite"] = non_finite
    if measured.skipped:
        result["skipped"] = dict(measured.skipped)
    result["time_s"] = {k: round(v, 3) for k, v in {**measured.times, "total": total_s}.items()}
    if ctx.dist.enabled:
        result["processes"] = ctx.dist.world_size
    return result


def _points(ctx: RunContext) -> Measurement:
    """2-D runs: the toy mode metrics and PR/DC on the raw coordinates."""
    from ..data import load_dataset
    from ..data.toy import TOY_MODES

    opts, cfg, out = ctx.options, ctx.cfg, Measurement()
    with out.timed("sample"):
        x, _ = sample_generator(ctx.G, opts.n, opts.seed, opts.batch_size, ctx.device, clamp=False)
    for m in ctx.metrics:
        if m not in POINT_METRICS:
            out.skipped[m] = "an image metric; 2-D runs get the toy mode metrics and PR/DC on coordinates"
    with out.timed("metrics"):
        if "modes" in ctx.metrics:
            if cfg.data in TOY_MODES:
                centres, std = TOY_MODES[cfg.data]
                out.values.update(toy_mode_metrics(x, centres(), std))
            else:
                out.skipped["modes"] = f"{cfg.data} is not a mixture of Gaussians (no modes to count)"
        if "pr" in ctx.metrics:
            out.values.update(prdc_equal_size(load_dataset(cfg).x, x, opts.seed))
    return out


@dataclass(frozen=True)
class _Extractors:
    """An image run's feature extractor and class evaluator (or None), resolved from the options."""

    features: FeatureExtractor
    classifier: LeNetExtractor | None
    joint: int | None        # the classes the evaluator predicts for the run's images
    info: dict               # eval.json's "evaluator" (with one) and "extractor" entries
    notes: list[str]


def _resolve_extractors(ctx: RunContext) -> _Extractors:
    opts, cfg, spec = ctx.options, ctx.cfg, ctx.spec
    classifier = None
    if opts.evaluator is not None:
        classifier = build_extractor("lenet", evaluator=opts.evaluator, device=ctx.device)
    extractor = opts.extractor
    if isinstance(extractor, str):
        if extractor == "lenet":
            if classifier is None:
                raise _no_evaluator_error(ctx.path, cfg, spec)
            extractor = classifier
        else:
            extractor = build_extractor(extractor, inception_weights=opts.inception_weights, device=ctx.device,
                                        is_logits=opts.is_logits, resize=opts.resize, weights=opts.weights,
                                        download=opts.download)
    info, notes, joint = {}, [], None
    if isinstance(classifier, LeNetExtractor):
        ev = classifier.model
        try:
            joint = classifier.joint_classes(spec.shape[0])
        except ValueError as e:
            raise GankitError(f"evaluator does not fit run {ctx.path}: {e}") from None
        if ev.image_size != spec.shape[-1]:
            notes.append(f"images resized from {spec.shape[-1]} to {ev.image_size} px for the evaluator")
        src = ev.config.get("dataset")
        if src and src not in (cfg.data, "mnist" if cfg.data == "stacked-mnist" else cfg.data):
            notes.append(f"the evaluator was trained on {src}, the run on {cfg.data}: its features and classes "
                         f"may not fit these images; train one with `gankit train-evaluator --data {cfg.data}`")
            info["warnings"] = [notes[-1]]
        info["evaluator"] = {"identity": classifier.identity, "dataset": src,
                             "held_out_accuracy": ev.config.get("held_out_accuracy"),
                             "image_size": ev.image_size}
    info["extractor"] = {"name": extractor.name, "identity": extractor.identity}
    return _Extractors(extractor, classifier, joint, info, notes)


def _images(ctx: RunContext) -> Measurement:
    """Image runs: one feature pass of the samples, against the cached real features."""
    from ..data import load_dataset

    ext = _resolve_extractors(ctx)
    opts, cfg, dist = ctx.options, ctx.cfg, ctx.dist
    out = Measurement(info=dict(ext.info))
    with out.timed("reference"):
        data = load_dataset(cfg)
        if not dist.is_main:  # rank 0 fills the cache first; the others then read it
            dist.barrier()
        ref = opts.feature_cache().reference(data, ext.features, dataset=cfg.data, split=cfg.split,
                                             max_count=opts.n_ref)
        if dist.is_main:
            dist.barrier()
    out.info["reference"] = {"count": len(ref.features), "cache_file": str(ref.path), "cached": ref.cached}

    with out.timed("sample"):
        x, requested = sample_generator(ctx.G, opts.n, opts.seed, opts.batch_size, ctx.device,
                                        rows=dist.shard(opts.n) if dist.enabled else None)
    with out.timed("features"):
        fake = ext.features.extract(x)
        if ext.classifier is not None and ext.classifier is not ext.features and "modes" in ctx.metrics:
            fake["class_logits"] = ext.classifier.extract(x)["logits"]
        fake = {k: dist.gather_rows(v) for k, v in fake.items()}  # all n, in sample order
        if requested is not None and dist.enabled:
            requested = dist.gather_rows(requested)
    with out.timed("metrics"):
        classes = _class_inputs(ctx, ext, fake, requested) if "modes" in ctx.metrics else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            out.values, out.skipped = image_metrics(ctx.metrics, fake, ref, seed=opts.seed, classes=classes)
        for w in caught:  # FID below the feature dimension, KID below its subset size: said in eval.md
            ext.notes.append(str(w.message))
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if ext.notes:
        out.info["notes"] = list(ext.notes)
    return out


def _class_inputs(ctx: RunContext, ext: _Extractors, fake: dict,
                  requested: Tensor | None) -> ClassInputs | str | None:
    """The class metrics' inputs, or why this run and evaluator cannot give them (None: no evaluator)."""
    spec = ctx.spec
    if ext.classifier is None:
        return None
    if not spec.num_classes:
        return f"{ctx.cfg.data} is unlabelled: no classes to count"
    if ext.joint != spec.num_classes:
        return f"the evaluator predicts {ext.joint} classes for these images, the data has {spec.num_classes}"
    logits = fake["logits"] if ext.classifier is ext.features else fake["class_logits"]
    return ClassInputs(logits, ext.joint, requested)


def _no_evaluator_error(run: Path, cfg, spec) -> GankitError:
    size = spec.shape[-1]
    root = f" --data-root {cfg.data_root}" if cfg.data_root else ""
    return GankitError(
        f"no evaluator for run {run} ({cfg.data} {size}x{size}): train one with `gankit train-evaluator "
        f"--data {'mnist' if cfg.data == 'stacked-mnist' else cfg.data}{root} --image-size {size} "
        f"--out DIR` and pass --evaluator DIR (offline, seconds on digits), or use --extractor pixels (offline, "
        f"no classifier), or --extractor inception --download-weights (fetches the 91 MB FID Inception weights)")
