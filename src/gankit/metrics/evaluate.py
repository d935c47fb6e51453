"""Evaluate a trained run: sample, extract features once, compare with the cached real features.

Protocol (``gankit evaluate RUN``): ``n`` samples (default 10,000) from the run's generator (EMA
weights when kept) with noise drawn from ``seed``; conditional generators get balanced labels
(``i mod K``, shuffled). One feature pass feeds every metric; the real side is the run's own
training data (dataset, root, split, size from its config.json) through the same extractor,
cached on disk (:mod:`gankit.metrics.cache`).

Image runs: FID (Heusel et al. 2017) against the full reference statistics; KID (Bińkowski et
al. 2018; 100 subsets of ≤1,000); IS (Salimans et al. 2016; 10 splits) from the extractor's
classifier, with the real data's IS for scale; precision/recall (k=3) and density/coverage (k=5)
on min(n, reference size) samples and as many seeded real images; with a classifier for the
dataset's classes, classes seen and KL(predicted histogram || uniform), and for conditional
runs the accuracy of the classifier on the requested labels and KL(requested || predicted).
2-D toy runs (ring, grid): the mode metrics of :func:`toy_mode_metrics` and PR/DC on the raw
coordinates instead. Results go to ``eval.json`` and ``eval.md`` in the run directory.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch import Tensor

from ..errors import GankitError
from ..models.layers import evaluating
from .cache import MAX_REFERENCE, FeatureCache
from .features import FeatureExtractor, LeNetExtractor, build_extractor
from .frechet import feature_statistics, frechet_distance
from .inception_score import inception_score
from .kid import kernel_inception_distance
from .modes import class_distribution_kl, class_kl_to_target, count_modes, toy_mode_metrics
from .prdc import prdc

__all__ = ["evaluate_run", "sample_generator", "image_metrics", "parse_metrics", "METRICS",
           "write_report"]

METRICS = ("fid", "kid", "is", "pr", "modes")
POINT_METRICS = ("modes", "pr")


def parse_metrics(spec: str | list[str] | None, kind: str = "image") -> list[str]:
    """``"fid,kid"`` -> ``["fid", "kid"]``; None -> every metric that applies to ``kind``."""
    if spec is None:
        return list(METRICS if kind == "image" else POINT_METRICS)
    names = [m.strip().lower() for m in (spec.split(",") if isinstance(spec, str) else spec) if m.strip()]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise GankitError(f"unknown metric {', '.join(bad) or '(none)'}; choose from: {', '.join(METRICS)}")
    return list(dict.fromkeys(names))


@torch.no_grad()
def sample_generator(G, n: int, seed: int = 0, batch_size: int = 500,
                     device: str | torch.device = "cpu", rows: tuple[int, int] | None = None
                     ) -> tuple[Tensor, Tensor | None]:
    """``n`` samples of ``G`` (CPU tensor) and the requested labels (balanced) for conditional G.
    ``rows=(lo, hi)`` generates only those rows of the same n (one process's share)."""
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
    return torch.cat(out).clamp_(-1, 1), y


def _subset(n_total: int, n: int, seed: int) -> Tensor:
    if n >= n_total:
        return torch.arange(n_total)
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


def image_metrics(metrics: list[str], fake: dict, ref, *, seed: int = 0, is_splits: int = 10) -> tuple[dict, dict]:
    """The feature-based metrics of ``fake`` (extract() output) against ``ref`` (ReferenceFeatures).

    Returns ``(values, skipped)``: metric values, and a reason for each requested metric that
    this extractor cannot give.
    """
    out, skipped = {}, {}
    f = fake["features"]
    if "fid" in metrics:
        mu, sigma = feature_statistics(f)
        out["fid"] = frechet_distance(mu, sigma, ref.mu, ref.sigma)
    if "kid" in metrics:
        out["kid"], out["kid_std"] = kernel_inception_distance(ref.features, f, subset_size=1000, seed=seed)
    if "is" in metrics:
        if "logits" in fake:
            splits = max(1, min(is_splits, len(f) // 2))
            out["is"], out["is_std"] = inception_score(fake["logits"], splits, from_logits=True)
            if ref.logits is not None:
                real = ref.logits[_subset(len(ref.logits), len(f), seed + 1)]
                out["is_real"], out["is_real_std"] = inception_score(real, splits, from_logits=True)
        else:
            skipped["is"] = "the extractor has no classifier (use lenet or inception)"
    if "pr" in metrics:  # equal-size sets: the k-NN radii depend on the set size
        m = min(len(f), len(ref.features))
        out.update(prdc(ref.features[_subset(len(ref.features), m, seed + 2)], f[:m], k_pr=3, k_dc=5))
    return out, skipped


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


def _no_evaluator_error(run: Path, cfg, spec) -> GankitError:
    size = spec.shape[-1]
    root = f" --data-root {cfg.data_root}" if cfg.data_root else ""
    return GankitError(
        f"no evaluator for run {run} ({cfg.data} {size}x{size}): train one with `gankit train-evaluator "
        f"--data {'mnist' if cfg.data == 'stacked-mnist' else cfg.data}{root} --image-size {size} "
        f"--out DIR` and pass --evaluator DIR, or use --extractor inception")


def evaluate_run(run: str | Path, *, metrics: str | list[str] | None = None, n: int = 10_000,
                 seed: int = 0, extractor: str | FeatureExtractor = "lenet", evaluator=None,
                 inception_weights=None, cache_dir: str | Path | None = None,
                 n_ref: int = MAX_REFERENCE, ema: bool = True, device: str = "cpu",
                 batch_size: int = 500, write: bool = True, cache: FeatureCache | None = None) -> dict:
    """Evaluate run directory ``run``; returns the eval.json dict (and writes eval.json/eval.md).

    ``extractor``: ``"lenet"`` (needs ``evaluator``, a folder from ``gankit train-evaluator`` or a
    loaded LeNet), ``"inception"`` (``inception_weights``), ``"pixels"``, or a FeatureExtractor.
    With another extractor, an ``evaluator`` still provides the class metrics.
    """
    from ..pretrained import load
    from ..distributed import setup_distributed

    if n < 2:
        raise GankitError(f"--n must be at least 2 (got {n})")
    run = Path(run)
    t0 = time.perf_counter()
    # under torchrun, each process samples and extracts its share; features are gathered
    dist, device = setup_distributed(torch.device(device))
    G = load(run, ema=ema, device=device)
    cfg, spec = G.config, G.data_spec
    if not hasattr(G, "sample_z"):
        raise GankitError(f"{run} is a {cfg.model} run (image-to-image): gankit evaluate measures noise-to-image "
                          f"generators; use bench/translation.py's L1/SSIM/accuracy for translations")
    chosen = parse_metrics(metrics, spec.kind)
    result = {"run": str(run), "data": cfg.data, "split": cfg.split, "shape": list(spec.shape),
              "conditional": bool(G.num_classes), "n": n, "seed": seed, "ema": ema,
              "metrics_requested": chosen}
    times = {}
    if spec.kind == "points":
        values, skipped = _points(G, cfg, chosen, n, seed, batch_size, device, times)
    else:
        values, skipped = _images(G, cfg, spec, run, chosen, n, seed, extractor, evaluator, inception_weights,
                                  cache or FeatureCache(cache_dir), n_ref, batch_size, device, times, result, dist)
    non_finite = sorted(k for k, v in values.items() if isinstance(v, float) and not math.isfinite(v))
    result["metrics"] = {k: (v if not (isinstance(v, float) and not math.isfinite(v)) else None)
                         for k, v in values.items()}
    if non_finite:
        result["non_finite"] = {k: str(values[k]) for k in non_finite}
    if skipped:
        result["skipped"] = skipped
    times["total"] = time.perf_counter() - t0
    result["time_s"] = {k: round(v, 3) for k, v in times.items()}
    if dist.enabled:
        result["processes"] = dist.world_size
    if write and dist.is_main:
        from ..utils.io import write_json

        write_json(run / "eval.json", result)
        write_report(result, run / "eval.md")
    return result


def _points(G, cfg, chosen, n, seed, batch_size, device, times) -> tuple[dict, dict]:
    from ..data import load_dataset
    from ..data.toy import TOY_MODES

    t = time.perf_counter()
    x, _ = sample_generator(G, n, seed, batch_size, device)
    times["sample"] = time.perf_counter() - t
    values, skipped = {}, {}
    for m in chosen:
        if m not in POINT_METRICS:
            skipped[m] = "an image metric; 2-D runs get the toy mode metrics and PR/DC on coordinates"
    t = time.perf_counter()
    if "modes" in chosen:
        if cfg.data in TOY_MODES:
            centres, std = TOY_MODES[cfg.data]
            values.update(toy_mode_metrics(x, centres(), std))
        else:
            skipped["modes"] = f"{cfg.data} is not a mixture of Gaussians (no modes to count)"
    if "pr" in chosen:
        real = load_dataset(cfg).x
        m = min(n, len(real))
        values.update(prdc(real[_subset(len(real), m, seed + 2)], x[:m], k_pr=3, k_dc=5))
    times["metrics"] = time.perf_counter() - t
    return values, skipped


def _images(G, cfg, spec, run, chosen, n, seed, extractor, evaluator, inception_weights, cache,
            n_ref, batch_size, device, times, result, dist) -> tuple[dict, dict]:
    from ..data import load_dataset

    classifier = None
    if evaluator is not None:
        classifier = build_extractor("lenet", evaluator=evaluator, device=device)
    if isinstance(extractor, str):
        if extractor == "lenet":
            if classifier is None:
                raise _no_evaluator_error(run, cfg, spec)
            extractor = classifier
        else:
            extractor = build_extractor(extractor, inception_weights=inception_weights, device=device)
    notes = []
    if isinstance(classifier, LeNetExtractor):
        ev = classifier.model
        try:
            joint = classifier.joint_classes(spec.shape[0])
        except ValueError as e:
            raise GankitError(f"evaluator does not fit run {run}: {e}") from None
        if ev.image_size != spec.shape[-1]:
            notes.append(f"images resized from {spec.shape[-1]} to {ev.image_size} px for the evaluator")
        src = ev.config.get("dataset")
        if src and src not in (cfg.data, "mnist" if cfg.data == "stacked-mnist" else cfg.data):
            notes.append(f"the evaluator was trained on {src}, the run on {cfg.data}")
        result["evaluator"] = {"identity": classifier.identity, "dataset": src,
                               "held_out_accuracy": ev.config.get("held_out_accuracy"),
                               "image_size": ev.image_size}
    result["extractor"] = {"name": extractor.name, "identity": extractor.identity}

    t = time.perf_counter()
    data = load_dataset(cfg)
    if not dist.is_main:  # rank 0 fills the cache first; the others then read it
        dist.barrier()
    ref = cache.reference(data, extractor, dataset=cfg.data, split=cfg.split, max_count=n_ref)
    if dist.is_main:
        dist.barrier()
    times["reference"] = time.perf_counter() - t
    result["reference"] = {"count": len(ref.features), "cache_file": str(ref.path), "cached": ref.cached}

    t = time.perf_counter()
    x, requested = sample_generator(G, n, seed, batch_size, device, rows=dist.shard(n) if dist.enabled else None)
    times["sample"] = time.perf_counter() - t
    t = time.perf_counter()
    fake = extractor.extract(x)
    if classifier is not None and classifier is not extractor and "modes" in chosen:
        fake["class_logits"] = classifier.extract(x)["logits"]
    fake = {k: dist.gather_rows(v) for k, v in fake.items()}  # all n, in sample order
    if requested is not None and dist.enabled:
        requested = dist.gather_rows(requested)
    times["features"] = time.perf_counter() - t

    t = time.perf_counter()
    values, skipped = image_metrics(chosen, fake, ref, seed=seed)
    if "modes" in chosen:
        if classifier is None:
            skipped["modes"] = "class metrics need an evaluator for this dataset (--evaluator)"
        elif not spec.num_classes:
            skipped["modes"] = f"{cfg.data} is unlabelled: no classes to count"
        elif joint != spec.num_classes:
            skipped["modes"] = (f"the evaluator predicts {joint} classes for these images, "
                                f"the data has {spec.num_classes}")
        else:
            logits = fake["logits"] if classifier is extractor else fake["class_logits"]
            values.update(class_metrics(logits, joint, requested))
    times["metrics"] = time.perf_counter() - t
    if notes:
        result["notes"] = notes
    return values, skipped


# ------------------------------------------------------------------------------ report
_LABELS = {
    "fid": ("FID", "lower is better"),
    "kid": ("KID", "unbiased MMD², lower is better; ± std over subsets"),
    "is": ("IS", "higher is better; ± std over splits"),
    "is_real": ("IS of real data", "the same classifier on real images: the ceiling"),
    "precision": ("precision (k=3)", "fraction of samples on the real manifold"),
    "recall": ("recall (k=3)", "fraction of real data covered by the samples' manifold"),
    "density": ("density (k=5)", "≈1 for matching distributions"),
    "coverage": ("coverage (k=5)", "fraction of real neighbourhoods holding a sample"),
    "classes_seen": ("classes seen", "classes predicted at least once"),
    "class_kl": ("class KL to uniform", "KL(predicted histogram || uniform), 0 is balanced"),
    "class_accuracy": ("class accuracy", "classifier agrees with the requested label"),
    "class_kl_to_target": ("class KL to requested", "KL(requested || predicted histogram)"),
    "modes": ("modes captured", "modes with enough high-quality samples"),
    "high_quality": ("high quality", "within 3σ of a centre; a perfect sampler scores 98.89%"),
    "reverse_kl": ("reverse KL", "KL(mode histogram || uniform), 0 is balanced"),
}


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


def write_report(result: dict, path: str | Path) -> Path:
    """A short markdown summary of an eval.json dict."""
    m = result["metrics"]
    ext = result.get("extractor", {}).get("name", "none (2-D coordinates)")
    lines = [f"# Evaluation of `{result['run']}`", "",
             f"{result['n']} samples (seed {result['seed']}, {'EMA' if result['ema'] else 'raw'} generator) of "
             f"{result['data']} ({result['split']} split, shape {tuple(result['shape'])}); features: {ext}"
             + (f"; reference: {result['reference']['count']} real images" if "reference" in result else "")
             + ".", "", "| metric | value | meaning |", "| --- | --- | --- |"]
    for key, (label, meaning) in _LABELS.items():
        if key not in m:
            continue
        value = _fmt(m[key])
        if f"{key}_std" in m:
            value += f" ± {_fmt(m[key + '_std'])}"
        if key == "classes_seen":
            value += f" / {m['num_classes']}"
        if key == "modes":
            value += f" / {m['num_modes']}"
        if key in ("high_quality",) and m[key] is not None:
            value = f"{100 * m[key]:.2f}%"
        lines.append(f"| {label} | {value} | {meaning} |")
    for k, why in result.get("skipped", {}).items():
        lines.append(f"\n- `{k}` not computed: {why}")
    for note in result.get("notes", []):
        lines.append(f"\n- note: {note}")
    for k, v in result.get("non_finite", {}).items():
        lines.append(f"\n- `{k}` is {v} (written as null in eval.json)")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path

