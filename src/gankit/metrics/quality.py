"""How good is a freshly trained model: the numbers ``gankit train`` puts in report.md and its last line.

For the datasets gankit can score offline (the bundled ``digits`` and MNIST) a small LeNet evaluator
(:mod:`gankit.metrics.lenet`) is trained once, in seconds, and cached in the user cache dir
(``$GANKIT_EVALUATORS`` or ``$XDG_CACHE_HOME/gankit/evaluators``, default ``~/.cache/gankit/evaluators``),
keyed by dataset, split, image size, a fingerprint of the images and ``EVALUATOR_VERSION``. The run
is then measured with :func:`gankit.metrics.evaluate_run` in that evaluator's feature space: the
domain Fréchet distance (FID's formula on LeNet features, Heusel et al. 2017), KID (Bińkowski et al.
2018), precision / recall (Kynkäänniemi et al. 2019) and, for conditional models, the accuracy of the
evaluator on the requested labels. Nothing here touches the run's weights or the global RNG.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import GankitError

__all__ = ["EVALUATOR_VERSION", "RECIPES", "evaluator_cache_dir", "cached_evaluator", "measure_quality",
           "quality_line", "QUALITY_KEYS"]

EVALUATOR_VERSION = 1
EVALUATORS_ENV = "GANKIT_EVALUATORS"
#: datasets with an automatic evaluator, and its training recipe (seconds on one CPU thread for digits)
RECIPES = {"digits": dict(epochs=10, width=16, hidden=64, lr=3e-3, batch_size=32),   # 0.98 held out, ~4 s
           "mnist": dict(epochs=3, width=16, hidden=64)}                              # 0.97 held out, ~17 s
#: (eval.json metric, label in report.md and the final line), in the order shown
QUALITY_KEYS = (("fid", "FD"), ("kid", "KID"), ("precision", "precision"), ("recall", "recall"),
                ("class_accuracy", "class accuracy"))
SAMPLES = 2000


def evaluator_cache_dir() -> Path:
    env = os.environ.get(EVALUATORS_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "gankit" / "evaluators"


def cached_evaluator(cfg, log=None) -> Path | None:
    """The evaluator folder for the run config ``cfg``'s data (trained now if not cached), or None
    when its dataset has no automatic evaluator."""
    from ..data import load_dataset
    from .cache import data_fingerprint
    from .lenet import train_evaluator

    if cfg.data not in RECIPES:
        return None
    data = load_dataset(cfg.replace(download=False))
    size = data.spec.shape[-1]
    key = f"{cfg.data}-{cfg.split}-{size}px-{data_fingerprint(data.x, data.y)}-v{EVALUATOR_VERSION}"
    folder = evaluator_cache_dir() / key
    if (folder / "config.json").is_file():
        return folder
    if log:
        log(f"training the {cfg.data} evaluator once (cached in {folder})")
    tmp = folder.with_name(folder.name + f".part-{os.getpid()}")
    with torch.random.fork_rng(devices=[]):  # train_lenet seeds the global RNG; leave the caller's alone
        train_evaluator(data=cfg.data, data_root=cfg.data_root, split=cfg.split, image_size=size, out=tmp,
                        **RECIPES[cfg.data])
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished first: use its folder
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def measure_quality(run: str | Path, log=None, n: int = SAMPLES) -> dict | None:
    """Evaluate ``run`` with its dataset's automatic evaluator (eval.json, evals/, eval.md are written)
    and add a "How good is it" section to its report.md. Returns the eval.json dict, or None when the
    run's data has no automatic evaluator (or the run translates images)."""
    from ..runs import Run
    from .evaluate import evaluate_run

    r = Run(run)
    if r.kind() != "image":
        return None
    cfg = r.config()
    folder = cached_evaluator(cfg, log)
    if folder is None:
        return None
    result = evaluate_run(r.path, n=n, evaluator=folder, metrics="fid,kid,pr,modes")
    _add_to_report(r, result)
    return result


def quality_line(result: dict) -> str:
    """``FD 3.21, KID 0.0123, precision 0.81, recall 0.77[, class accuracy 0.93]`` (lenet features)."""
    m = result["metrics"]
    parts = [f"{label} {m[key]:.4g}" for key, label in QUALITY_KEYS if isinstance(m.get(key), float)]
    return ", ".join(parts) + f" ({result['data']} LeNet features, {result['n']} samples)"


def _add_to_report(r, result: dict) -> None:
    report = r.path / "report.md"
    if not report.is_file():
        raise GankitError(f"{report} is missing; the run did not finish writing its report")
    m, ev = result["metrics"], result.get("evaluator", {})
    rows = [f"| {label} | {m[key]:.4g} |" for key, label in QUALITY_KEYS if isinstance(m.get(key), float)]
    acc = ev.get("held_out_accuracy")
    section = ["## How good is it", "",
               f"{result['n']} samples against the {result['data']} {result['split']} split, in the feature space "
               f"of a LeNet trained on it" + (f" (held-out accuracy {acc:.3f})" if acc else "") + ". "
               "FD: Fréchet distance of those features (FID's formula; lower is better, 0 for identical "
               "statistics); KID: kernel distance (lower is better); precision: samples on the data's manifold; "
               "recall: data covered by the samples'" + ("; class accuracy: samples the evaluator labels as "
                                                          "requested" if "class_accuracy" in m else "") + ".",
               "", "| metric | value |", "| --- | --- |", *rows, "",
               "All metrics: [eval.md](eval.md). Inception FID: `gankit evaluate RUN --extractor inception "
               "--download-weights`.", ""]
    text = report.read_text()
    head, sep, tail = text.partition("## Samples")
    report.write_text(head + "\n".join(section) + "\n" + sep + tail if sep else text + "\n" + "\n".join(section))
