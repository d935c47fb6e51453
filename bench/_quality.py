"""Shared by the quality benchmarks (``mnist_quality``, ``stacked_mnist``): the MNIST evaluator,
one train-then-evaluate through the public API (``gankit.Trainer``, ``gankit.metrics.evaluate_run``),
their common options and table cells."""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import torch

from bench._common import EVALUATORS, MNIST_ROOT, ROOT, header, load_average  # first: src/ importable
from gankit import Trainer
from gankit.metrics import evaluate_run

EVALUATOR = EVALUATORS / "lenet-mnist-28"
EVALUATOR_COMMAND = ("gankit train-evaluator --data mnist --data-root ../shared/data/mnist --split test "
                     "--held-out 2000 --out ../evaluators/lenet-mnist-28")
QUIET = dict(progress=False, tensorboard=False, download=False, device="cpu")


def mnist_evaluator(path: str | Path | None, data_root: Path, quick: bool):
    """The LeNet evaluator and a line describing it.

    ``path`` given: load it (training the standard one there first if the folder is empty, as
    EVALUATOR_COMMAND does). ``quick`` without ``path``: a tiny LeNet trained here in ~2 s on
    4,000 test digits (a smoke test needs finite numbers, not a good evaluator).
    """
    from gankit import TrainConfig
    from gankit.data import load_dataset
    from gankit.metrics.lenet import accuracy, load_evaluator, train_evaluator, train_lenet

    if path is None and quick:
        cfg = TrainConfig(data="mnist", data_root=str(data_root), split="test", download=False).validate()
        data = load_dataset(cfg)
        x, y = data.all_images(), data.y
        model = train_lenet(x[:4000], y[:4000], 10, epochs=1, width=8, hidden=32, lr=5e-3, seed=0)
        acc = accuracy(model, x[-2000:], y[-2000:])
        return model, f"a tiny LeNet trained for this smoke test ({100 * acc:.1f}% on 2,000 held-out digits)"
    path = Path(path or EVALUATOR)
    if not (path / "config.json").is_file():
        print(f"no evaluator at {path}: training it ({EVALUATOR_COMMAND})", flush=True)
        train_evaluator(data="mnist", out=path, data_root=str(data_root), split="test", held_out=2000)
    model = load_evaluator(path)
    acc = model.config.get("held_out_accuracy")
    return model, (f"`{path.name}` (LeNet trained on 8,000 digits of the test split, "
                   f"{100 * acc:.1f}% on the other 2,000)" if acc else f"`{path}`")


def digits_evaluator(path: str | Path | None, quick: bool):
    """The LeNet evaluator of the 16x16 digits at ``path`` (default ../evaluators/lenet-digits-16, or -quick: a
    tiny one), trained there once where it is missing (20% of the digits held out)."""
    from gankit.metrics.lenet import load_evaluator, train_evaluator

    path = Path(path or EVALUATORS / ("lenet-digits-16-quick" if quick else "lenet-digits-16"))
    if not (path / "config.json").is_file():
        print(f"no evaluator at {path}: training it", flush=True)
        train_evaluator(data="digits", out=path, held_out=0.2, **({"epochs": 1, "width": 8, "hidden": 32} if quick else {}))
    model = load_evaluator(path)
    acc = model.config.get("held_out_accuracy")
    return model, f"`{path.name}` (LeNet trained on 80% of the 1,797 digits, {100 * acc:.1f}% on the other 20%)"


def train_and_evaluate(cfg, run_dir: Path, evaluator, *, n: int, metrics: str, cache_dir=None,
                       seed: int = 0, reuse: bool = False, callbacks=()) -> dict:
    """Train ``cfg`` in ``run_dir`` (replacing an earlier run there), evaluate it with
    ``evaluate_run`` (eval.json in the run), return the metrics with the wall times.

    The row is also kept in ``run_dir/bench.json``; with ``reuse``, a run whose bench.json was made
    with the same config, evaluator and protocol is read back instead of trained again (to resume
    an interrupted benchmark, or to assemble one table from runs trained by parallel invocations),
    and a run killed part-way (a checkpoint, no bench.json) with the same config resumes from its
    latest checkpoint, exactly, its wall time carried over (long runs across sessions).
    ``callbacks``: ``fn(trainer)`` after every generator step (``Trainer.callbacks``).
    """
    from gankit.metrics.features import LeNetExtractor

    key = {"config": cfg.to_dict(), "evaluator": LeNetExtractor(evaluator).identity, "n": n,
           "metrics": metrics, "seed": seed}
    record = run_dir / "bench.json"
    if reuse and record.is_file():
        saved = json.loads(record.read_text())
        if _same_key(saved.get("key", {}), key):
            return {**saved["result"], "reused": True}
    resume = reuse and _resumable(run_dir, cfg)
    trainer = Trainer(cfg, run_dir, resume=resume, overwrite=not resume)
    trainer.callbacks.extend(callbacks)
    summary = trainer.train()
    if summary["stopped_early"]:  # Ctrl-C / SIGTERM: stop the benchmark, do not score a partial run
        raise KeyboardInterrupt(f"interrupted at step {summary['steps']} of {run_dir}")
    result = evaluate_run(run_dir, evaluator=evaluator, n=n, metrics=metrics, cache_dir=cache_dir, seed=seed)
    row = {**result["metrics"], "train_s": summary["wall_time_s"], "eval_s": result["time_s"]["total"],
           "steps": summary["steps"], "run": str(run_dir)}
    record.write_text(json.dumps({"key": key, "result": row}, indent=1) + "\n")
    return row


#: config fields that do not change what a run trains (how often it is saved), left out of the key
BOOKKEEPING = ("checkpoint_every", "keep_checkpoints")


def _results_config(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in BOOKKEEPING}


def _same_key(saved: dict, key: dict) -> bool:
    """The saved run's key equals ``key`` once its config is read with today's defaults (a config
    field added since, at its default value, changes nothing about that run) and without the
    ``BOOKKEEPING`` fields."""
    from gankit import TrainConfig
    from gankit.errors import ConfigError

    try:
        config = TrainConfig.from_dict(saved["config"]).to_dict()
    except (KeyError, TypeError, ConfigError):
        return False
    return {**saved, "config": _results_config(config)} == {**key, "config": _results_config(key["config"])}


def _resumable(run_dir: Path, cfg) -> bool:
    """``run_dir`` holds a checkpoint of a run of ``cfg`` (up to the ``BOOKKEEPING`` fields, which a
    resume may change); the caller asks only when no finished result (bench.json) matches."""
    from gankit.errors import GankitError
    from gankit.runs import Run

    run = Run(run_dir)
    try:
        if not run.is_run() or run.latest_checkpoint() is None:
            return False
        recorded, asked = _results_config(run.config().to_dict()), _results_config(cfg.to_dict())
        if asked["amp"] == "auto":  # the run recorded what auto chose: it must be what auto chooses here
            from gankit.training.trainer import resolve_device, resolve_precision

            kind = run.meta().get("data_spec", {}).get("kind", "image")
            asked = {**asked, **resolve_precision(cfg, resolve_device(cfg.device), kind)}
        return recorded == asked
    except GankitError:
        return False


def add_common_args(ap, name: str, n: int, n_quick: int) -> None:
    """The options every MNIST-evaluated benchmark shares (data, evaluator, samples, output, reuse)."""
    ap.add_argument("--data-root", type=Path, default=MNIST_ROOT, help="MNIST root (only the test split is used)")
    ap.add_argument("--evaluator", default=None, help="LeNet MNIST evaluator folder (default "
                                                       "../evaluators/lenet-mnist-28; quick: a tiny one trained on the fly)")
    ap.add_argument("--n", type=int, default=None, help=f"samples per evaluation (default {n}; quick {n_quick})")
    ap.add_argument("--out", type=Path, default=None, help=f"run folders (default runs/bench/{name})")
    ap.add_argument("--doc", type=Path, default=None, help="write the section here (default docs/benchmarks.md, "
                                                          "not with --quick)")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="read back runs already trained and evaluated with the "
                                                        "same settings in --out (resume; parallel invocations)")


def out_dir(given: Path | None, name: str, quick: bool) -> Path:
    """Where a benchmark's runs go: ``given``, else runs/bench/<name> (quick: a new temporary folder)."""
    if given is not None:
        return given
    return Path(tempfile.mkdtemp(prefix=f"{name}-")) if quick else ROOT / "runs" / "bench" / name


def fmt(v, digits: int = 3) -> str:
    """A table cell: em dash for missing/non-finite, ints as they are, floats to ``digits`` significant."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}g}" if abs(v) < 10 ** digits else f"{v:.0f}"


def fixed(v, decimals: int = 2) -> str:
    """A table cell with a fixed number of decimals (em dash for missing/non-finite)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{decimals}f}"


def run_times(rows: list[dict]) -> str:
    train, ev = sum(r["train_s"] for r in rows), sum(r["eval_s"] for r in rows)
    return (f"Time: {train / 60:.0f} min of training and {ev / 60:.0f} min of evaluation in all, for {len(rows)} "
            f"runs (sums of the per-run wall times)")


def reused_note(rows: list[dict]) -> list[str]:
    """A line saying which rows were read back (--reuse) rather than trained by this invocation."""
    reused = [r for r in rows if r.get("reused")]
    if not reused:
        return []
    return [f"{len(reused)} of the {len(rows)} runs were trained by earlier invocations of this benchmark with the "
            "same settings (e.g. several in parallel, with `--no-write`) and read back here (`--reuse`); "
            "the machine line describes this last invocation.", ""]


def opening(command: str, rows: list[dict]) -> list[str]:
    """The lines that open a quality benchmark's section: command, machine, date, the run times and which
    runs were read back."""
    return [*header(command, f"{torch.get_num_threads()} torch thread(s)", f"load average {load_average()} at the end",
                    more=(run_times(rows),)), "", *reused_note(rows)]
