"""Sample efficiency of FD, KID and CMMD-style MMD on lenet features: each metric of a run's
samples against the real data, versus the number of samples, with its bias.

For each run and each n, ``--repeats`` independent sample sets (noise seeds 0, 1, ...; the sets of
one seed are nested prefixes of its 10,000 samples) are scored against the whole real set:

* FD: Fréchet distance of lenet features (:func:`gankit.metrics.fid_from_features`);
* KID: unbiased polynomial MMD², 100 subsets of min(1000, n) (:func:`gankit.metrics.kid`);
* CMMD-style MMD: CMMD's estimator (biased RBF MMD², σ = 10, scale 1000) on the lenet features
  divided by their norm, CMMD's recipe on another embedding (:func:`gankit.metrics.cmmd.cmmd`).

The limit value of each metric (n → ∞) is estimated by least squares of value = a + b/n over all
sets (the leading term of the bias of FD and of a V-statistic MMD is O(1/n); Chong & Forsyth
2020's FID∞ does the same); bias(n) = mean(n) − a, std(n) the spread over the repeats (ddof 1).

    OMP_NUM_THREADS=1 python bench/metric_samples.py --run RUN [--run RUN2] --evaluator DIR
"""
from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch

if not __package__:  # python bench/metric_samples.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
import bench._common  # noqa: E402,F401  (makes this checkout's src/ importable)

SIZES = (500, 1000, 2000, 5000, 10000)
METRICS = ("fd", "kid", "cmmd")


def score_run(run: Path, extractor, real: torch.Tensor, sizes=SIZES, repeats: int = 5) -> dict:
    """``{metric: {n: [value per repeat]}}`` of ``run``'s samples against ``real`` features."""
    import gankit
    from gankit.metrics import fid_from_features, kernel_inception_distance, sample_generator
    from gankit.metrics.cmmd import cmmd

    G = gankit.load(run)
    out = {m: {n: [] for n in sizes} for m in METRICS}
    for seed in range(repeats):
        x, _ = sample_generator(G, max(sizes), seed=seed)
        feats = extractor.extract(x)["features"]
        for n in sizes:
            f = feats[:n]
            out["fd"][n].append(fid_from_features(f, real))
            with warnings.catch_warnings():  # n = 500: KID's subsets are the whole sample set
                warnings.simplefilter("ignore", RuntimeWarning)
                out["kid"][n].append(kernel_inception_distance(real, f, subset_size=1000, seed=seed)[0])
            out["cmmd"][n].append(cmmd(real, f))
    return out


def summarise(values: dict) -> dict:
    """Per metric: the fitted limit ``a`` of value = a + b/n, and per n the mean, std and bias."""
    out = {}
    for metric, by_n in values.items():
        ns = np.array([n for n, vs in by_n.items() for _ in vs], dtype=float)
        vs = np.array([v for vals in by_n.values() for v in vals])
        a, b = np.linalg.lstsq(np.stack([np.ones_like(ns), 1.0 / ns], 1), vs, rcond=None)[0]
        out[metric] = {"limit": float(a), "slope": float(b), "rows": {
            int(n): {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                     "bias": float(np.mean(v) - a)} for n, v in by_n.items()}}
    return out


def table(name: str, summary: dict) -> str:
    head = f"| {name}: n | " + " | ".join(f"{m} mean ± std | {m} bias" for m in ("FD", "KID", "CMMD-style")) + " |"
    lines = [head, "|" + " --- |" * 7]
    for n in summary["fd"]["rows"]:
        cells = []
        for m in METRICS:
            r = summary[m]["rows"][n]
            cells += [f"{r['mean']:.4g} ± {r['std']:.2g}", f"{r['bias']:+.2g}"]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines.append("| n → ∞ (fit) | " + " | ".join(f"{summary[m]['limit']:.4g} | 0" for m in METRICS) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True, help="run directory (repeatable)")
    ap.add_argument("--evaluator", required=True, help="gankit train-evaluator folder")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the raw values here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import gankit
    from gankit.data import load_dataset
    from gankit.metrics import build_extractor

    t0 = time.time()
    ext = build_extractor("lenet", evaluator=args.evaluator)
    results = {}
    for run in map(Path, args.run):
        cfg = gankit.load(run).config
        real = ext.extract(load_dataset(cfg).all_images())["features"]
        values = score_run(run, ext, real, repeats=args.repeats)
        results[str(run)] = {"values": values, "summary": summarise(values), "real": len(real)}
        print(table(f"{run.name} ({cfg.model}, {len(real)} real)", results[str(run)]["summary"]), "\n")
    print(f"{time.time() - t0:.0f} s on {platform.processor() or platform.machine()}, torch threads 1")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
