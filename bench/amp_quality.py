"""bf16 as the default? fp32 against bf16 + channels-last, 3 seeds per image preset (issue 23, item 3).

    OMP_NUM_THREADS=1 python -m bench amp_quality [--presets dcgan-mnist,...] [--seeds 0,1,2]
        [--amps none,bf16] [--reuse] [--out DIR] [--no-write] [--quick]

Trains each image preset twice per seed, at the same number of generator steps: once in fp32
(``--amp none``, NCHW) and once with ``--amp bf16 --channels-last``. A seed fixes the initial
weights, the data order and the noise, so the two runs of a seed differ only in the arithmetic;
the comparison is paired by seed. Each run is measured as ``gankit evaluate`` measures it (fp32
sampling of the EMA generator): lenet-feature FD against the data it trained on (Stacked MNIST:
also modes and KL over 26,000 samples); pix2pix: the MNIST evaluator's accuracy on its
translations of the 2,000 held-out edge maps, and their L1 to the true digits.

The rule the issue sets: make bf16 + channels-last the default where bf16 is native only if it is
equal or better on *every* image preset. Read here as a paired t-test per preset: the 95%
confidence interval of the mean difference bf16 − fp32 over the seeds (t quantile with n − 1
degrees of freedom) lies above zero (FD; below for accuracy): *worse*; below: *better*; otherwise
*no significant difference*. The rule is met when no preset is worse and every preset has at least
two paired seeds; *undecided* otherwise. Each run's training wall time is kept too (runs of one
invocation go one after the other; several invocations side by side share the machine), for the
speed that the default would buy.

``--reuse`` reads back runs already trained and evaluated with the same settings in ``--out``
(so several invocations, e.g. one per amp, can share the work), then the last one writes the
section. ``--quick``: tiny widths and a few steps, for the smoke test; writes nothing to docs/.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

if not __package__:  # python bench/amp_quality.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, bench_command, table, write_section  # noqa: E402
from bench._quality import (QUIET, add_common_args, digits_evaluator, fmt, mnist_evaluator, opening, out_dir,  # noqa: E402
                            train_and_evaluate)

TITLE = "bf16 as the default? fp32 against bf16 + channels-last, 3 seeds per image preset (issue 23, item 3)"
AMPS = {"none": dict(amp="none", channels_last=False), "bf16": dict(amp="bf16", channels_last=True)}


class Preset:
    """One image preset as this benchmark trains it: the generator steps (None: the preset's own
    length), the evaluator (``mnist`` or ``digits``), the metrics and the samples per evaluation."""

    def __init__(self, steps: int | None, evaluator: str = "mnist", metrics: str = "fid,kid,pr", n: int = 10_000):
        self.steps, self.evaluator, self.metrics, self.n = steps, evaluator, metrics, n


#: the noise-to-image presets measured; steps below a preset's own length keep the CPU budget
#: (dcgan-mnist: 20 epochs = 3,125 steps; mlp-mnist 4,688; stacked-mnist 12,000; stacked-mnist-best 45,000)
PRESETS = {
    "dcgan-digits": Preset(None, evaluator="digits"),           # the default job: 60 epochs, 1,680 steps
    "mlp-mnist": Preset(3000),
    "dcgan-mnist": Preset(2000),
    "cgan-mnist": Preset(None),                                 # 5 epochs, 782 steps
    "acgan-mnist": Preset(None),                                # 5 epochs, 782 steps
    "dcgan64-mnist": Preset(None),                              # 1 epoch, 157 steps
    "stacked-mnist": Preset(3000, metrics="fid,modes", n=26_000),
    "stacked-mnist-best": Preset(1000, metrics="fid,modes", n=26_000),
    "r3gan-mnist": Preset(500),  # of 10,000 (about 30 core-minutes per fp32 run here)
}
PIX2PIX = "pix2pix-edges2mnist"
PIX2PIX_STEPS = 600  # the preset's own length
#: image presets not trained here, and why (the speeds: measured as described in the section)
NOT_MEASURED = {
    "r3gan-stacked-mnist": "the r3gan-mnist networks with 3 channels (measured as r3gan-mnist)",
    "cyclegan-digits2inverted": "bf16 + channels-last trains it no faster than fp32 (see the speeds below)",
    "r3gan-cifar10": "needs a GPU and CIFAR-10; it asks for `--amp auto` already (the paper trains in mixed precision)",
}
QUICK = dict(g_width=8, d_width=8, z_dim=16, g_hidden=[64], d_hidden=[64], batch_size=32, log_every=2,
             num_points=2000)
QUICK_STEPS = 4


def config(preset: str, amp: str, seed: int, data_root: Path, quick: bool):
    from gankit import TrainConfig

    cfg = TrainConfig.from_preset(preset)
    steps = QUICK_STEPS if quick else PRESETS[preset].steps
    length = dict(steps=steps, epochs=None) if steps else {}
    every = steps or 10**6
    run = dict(data_root=str(data_root), split="test", seed=seed, sample_every=every, checkpoint_every=every,
               keep_checkpoints=1, **length, **QUIET)
    quick_changes = {k: v for k, v in QUICK.items() if k != "num_points" or cfg.data == "stacked-mnist"}
    return cfg.replace(**{**run, **AMPS[amp], **(quick_changes if quick else {})})


def pix2pix_run(amp: str, seed: int, out: Path, data_root: Path, quick: bool, reuse: bool) -> dict:
    """pix2pix (the preset's config) with ``amp``, scored on the evaluator's 2,000 held-out digits
    (bench/translation.py's protocol); the result is kept in ``result.json`` for ``--reuse``."""
    from bench._translation import EVAL_MNIST, bench_pix2pix
    from gankit.metrics.features import LeNetExtractor
    from gankit.metrics.lenet import load_evaluator

    steps = QUICK_STEPS if quick else PIX2PIX_STEPS
    changes = {**AMPS[amp], "seed": seed, **({"g_width": 8, "d_width": 8, "batch_size": 16} if quick else {})}
    key = {"preset": PIX2PIX, "steps": steps, "changes": changes, "data_root": str(data_root),
           "evaluator": LeNetExtractor(load_evaluator(EVAL_MNIST)).identity}
    record = out / "result.json"
    if reuse and record.is_file() and json.loads(record.read_text()).get("key") == key:
        return {**json.loads(record.read_text())["result"], "reused": True}
    t0 = time.perf_counter()
    r = bench_pix2pix(steps, out, None, data_root=data_root, overwrite=True, **changes)
    row = {"accuracy": r["translated"]["accuracy"], "l1": r["translated"]["l1"], "train_s": r["wall_s"],
           "eval_s": time.perf_counter() - t0 - r["wall_s"], "steps": steps, "run": str(out / "pix2pix")}
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"key": key, "result": row}, indent=1) + "\n")
    return row


def speeds(presets: list[str], data_root: Path, rounds: int, iters: int) -> dict[str, dict[str, list[float]]]:
    """Images per CPU-second of each preset's training step (one D + one G step) in fp32 and in bf16 +
    channels-last: two trainers side by side in this process, ``rounds`` interleaved rounds (order
    reversed every other round) of ``iters`` steps after one untimed."""
    import tempfile

    from bench._speed import interleaved_rates, preset_config
    from gankit import Trainer

    out: dict[str, dict[str, list[float]]] = {}
    for preset in presets:
        with tempfile.TemporaryDirectory(prefix="gankit-amp-") as tmp:
            trainers = {a: Trainer(preset_config(preset, str(data_root), seed=0, steps=10 ** 6, **AMPS[a]),
                                   Path(tmp) / a) for a in AMPS}
            try:
                rates = interleaved_rates(trainers, rounds, iters, trainers["none"].cfg.batch_size, verbose=False)
            finally:
                for t in trainers.values():
                    t.close()
        out[preset] = rates
        print(f"{preset:26s} images/CPU-s: fp32 {statistics.median(rates['none']):.1f}, bf16 + channels-last "
              f"{statistics.median(rates['bf16']):.1f}", flush=True)
    return out


def speed_rows(measured: dict) -> list[list[str]]:
    rows = []
    for preset, rates in measured.items():
        ratios = [b / n for b, n in zip(rates["bf16"], rates["none"])]
        rows.append([preset, f"{statistics.median(rates['none']):.1f}", f"{statistics.median(rates['bf16']):.1f}",
                     f"**{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f})"])
    return rows


# ---------------------------------------------------------------------------------------------- reading
def paired(results: list[dict], preset: str, metric: str) -> dict | None:
    """The paired difference bf16 − fp32 of ``metric`` over the seeds that have both runs: the
    per-seed differences, their mean, its standard error, the half-width of its 95% confidence
    interval (t with n − 1 degrees of freedom) and the verdict."""
    by = {(r["amp"], r["seed"]): r.get(metric) for r in results if r["preset"] == preset}
    seeds = sorted(s for (a, s) in by if a == "none" and ("bf16", s) in by
                   and by[("none", s)] is not None and by[("bf16", s)] is not None)
    if not seeds:
        return None
    d = [by[("bf16", s)] - by[("none", s)] for s in seeds]
    mean = statistics.fmean(d)
    if len(d) < 2:
        return {"seeds": seeds, "diffs": d, "mean": mean, "se": math.nan, "ci": math.nan, "verdict": ONE_SEED}
    from scipy import stats

    se = statistics.stdev(d) / math.sqrt(len(d))
    ci = float(stats.t.ppf(0.975, len(d) - 1)) * se
    return {"seeds": seeds, "diffs": d, "mean": mean, "se": se, "ci": ci,
            "verdict": verdict(mean, ci, higher_is_better=metric == "accuracy")}


SAME, ONE_SEED = "no significant difference", "one seed: none"


def verdict(mean: float, ci: float, higher_is_better: bool = False) -> str:
    """For a difference bf16 − fp32 with 95% half-width ``ci``: better or worse when the interval
    excludes zero, else no significant difference."""
    if abs(mean) <= ci:
        return SAME
    return "better" if (mean > 0) == higher_is_better else "worse"


def rule(results: list[dict]) -> tuple[str, list[str]]:
    """The issue's rule over the presets in ``results``: ("met" | "not met" | "undecided", the presets
    that decide it: the worse ones, or those without two paired seeds)."""
    verdicts = {p: paired(results, p, metric_of(p)) for p in dict.fromkeys(r["preset"] for r in results)}
    worse = [p for p, v in verdicts.items() if v and v["verdict"] == "worse"]
    if worse:
        return "not met", worse
    unpaired = [p for p, v in verdicts.items() if v is None or v["verdict"] == ONE_SEED]
    return ("undecided", unpaired) if unpaired else ("met", [])


def metric_of(preset: str) -> str:
    return "accuracy" if preset == PIX2PIX else "fid"


def mean_sd(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    sd = f" ± {fmt(statistics.stdev(values), 2)}" if len(values) > 1 else ""
    return f"{fmt(statistics.fmean(values), digits)}{sd}"


def summary_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for preset in dict.fromkeys(r["preset"] for r in results):
        metric = metric_of(preset)
        runs = {a: [r for r in results if r["preset"] == preset and r["amp"] == a] for a in AMPS}
        cells = []
        for a in AMPS:
            vals = [r.get(metric) for r in runs[a]]
            shown = [f"{100 * v:.1f}%" if metric == "accuracy" else fmt(v, 4) for v in vals if v is not None]
            cells.append(f"{mean_sd(vals, 4) if metric != 'accuracy' else mean_sd([100 * v for v in vals], 3) + '%'}"
                         f" ({', '.join(shown)})" if shown else "—")
        p = paired(results, preset, metric)
        scale, unit = (100, " pts") if metric == "accuracy" else (1, "")
        diff = "—" if p is None else f"{fmt(p['mean'] * scale, 3)}{unit} ± {fmt(p['ci'] * scale, 2)}"
        t = {a: statistics.median(r["train_s"] for r in runs[a]) if runs[a] else None for a in AMPS}
        speed = f"{t['none'] / t['bf16']:.2f}×" if t["none"] and t["bf16"] else "—"
        steps = runs["none"][0]["steps"] if runs["none"] else (runs["bf16"][0]["steps"] if runs["bf16"] else "—")
        extra = ""
        if any(r.get("class_kl") is not None for r in runs["none"] + runs["bf16"]) and preset.startswith("stacked"):
            extra = " / ".join(mean_sd([r.get("class_kl") for r in runs[a]], 3) for a in AMPS)
        rows.append([preset, {"fid": "FD ↓", "accuracy": "accuracy ↑"}[metric], str(steps), *cells, diff,
                     "—" if p is None else p["verdict"], extra or "—", speed])
    return rows


HEADER = ["preset", "metric", "steps", "fp32 (mean ± sd; seeds)", "bf16 + channels-last", "bf16 − fp32 (± 95% CI, paired)",
          "verdict", "Stacked MNIST KL fp32 / bf16", "fp32 ÷ bf16 train time"]


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke test; does not touch docs/")
    ap.add_argument("--presets", default=",".join([*PRESETS, PIX2PIX]))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--amps", default=",".join(AMPS), help="none (fp32), bf16 (with channels-last)")
    ap.add_argument("--title", default=TITLE)
    ap.add_argument("--speed-rounds", type=int, default=3, help="interleaved rounds of the speed table (0: none)")
    add_common_args(ap, "amp_quality", 10_000, 200)
    args = ap.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    amps = [a for a in args.amps.split(",") if a]
    bad = [p for p in presets if p not in PRESETS and p != PIX2PIX] + [a for a in amps if a not in AMPS]
    if bad:
        ap.error(f"unknown preset/amp {', '.join(bad)}; presets: {', '.join([*PRESETS, PIX2PIX])}; amps: none, bf16")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s]
    except ValueError:
        ap.error(f"--seeds takes comma-separated integers, not {args.seeds!r}")
    quick = args.quick
    out = out_dir(args.out, "amp_quality", quick)
    doc = None if args.no_write or (quick and args.doc is None) else (args.doc or DOCS)
    data_root = args.data_root.resolve()
    evaluators, texts = {}, {}
    cache = out / "feature-cache" if quick else None  # quick: nothing outside the run folders
    t_start = time.perf_counter()
    results = []
    for preset in presets:
        for seed in seeds:
            for amp in amps:
                run = out / preset / f"{amp}-{seed}"
                if preset == PIX2PIX:
                    r = pix2pix_run(amp, seed, run, data_root, quick, args.reuse)
                else:
                    kind = PRESETS[preset].evaluator
                    if kind not in evaluators:
                        evaluators[kind], texts[kind] = (digits_evaluator(out / "lenet-digits-16-quick" if quick
                                                                          else None, quick) if kind == "digits"
                                                         else mnist_evaluator(args.evaluator, data_root, quick))
                    spec = PRESETS[preset]
                    n = args.n or (200 if quick else spec.n)
                    r = train_and_evaluate(config(preset, amp, seed, data_root, quick), run, evaluators[kind], n=n,
                                           metrics=spec.metrics, cache_dir=cache, reuse=args.reuse)
                    r["n"] = n
                r.update(preset=preset, amp=amp, seed=seed)
                r.setdefault("steps", QUICK_STEPS if quick else PIX2PIX_STEPS)
                results.append(r)
                print(f"{preset:20s} {amp:5s} seed {seed}  FD {fmt(r.get('fid'), 4):>6s}  "
                      f"KL {fmt(r.get('class_kl'), 3):>5s}  acc {fmt(r.get('accuracy'), 3):>5s}  "
                      f"train {r['train_s']:.0f} s{'  (reused)' if r.get('reused') else ''}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    text = table(HEADER, summary_rows(results), right_from=2)
    print("\n" + text, flush=True)
    speed_text = ""
    if args.speed_rounds:
        measured = speeds([*presets, *(p for p in NOT_MEASURED if p != "r3gan-cifar10")], data_root,
                          1 if quick else args.speed_rounds, 1 if quick else 3)
        speed_text = table(["preset", "fp32 images/CPU-s", "bf16 + channels-last", "bf16 ÷ fp32 (min–max)"],
                           speed_rows(measured), right_from=1)
        print("\n" + speed_text, flush=True)
    print(f"\ntotal {(time.perf_counter() - t_start) / 60:.1f} min", flush=True)
    if doc is not None:
        write_section(doc, args.title, report(results, text, speed_text, texts, bench_command("amp_quality", argv),
                                              args.speed_rounds))
        print(f"wrote {doc}")
    return 0


def report(results: list[dict], text: str, speed_text: str, texts: dict, command: str, speed_rounds: int) -> str:
    import torch

    decision, deciding = rule(results)
    samples = ", ".join(f"{p} {n:,}" for p, n in dict.fromkeys((r["preset"], r["n"]) for r in results if "n" in r))
    lines = [
        *opening(command, results),
        "**Data: the MNIST *test* split (10,000 digits)** for the MNIST presets (trained on it, measured against "
        "it; pix2pix: trained on 8,000 of its digits, measured on the 2,000 the evaluator held out); the 1,797 "
        "bundled digits for dcgan-digits.",
        "",
        "Each preset trains twice per seed at the same number of generator steps: fp32 (`--amp none`) and "
        "`--amp bf16 --channels-last`; a seed fixes the initial weights, data order and noise, so the two runs of "
        "a seed differ only in the arithmetic. FD: `gankit evaluate`'s lenet-feature Fréchet distance (fp32 "
        f"sampling of the EMA generator where the preset keeps one; samples per evaluation: {samples}) against "
        "the training data; evaluators: " + "; ".join(f"{k}: {v}" for k, v in texts.items()) + ". pix2pix: the "
        "MNIST evaluator's accuracy on the translations of the 2,000 held-out edge maps. Verdict (paired t-test): "
        "*worse* or *better* when the 95% confidence interval of the mean difference bf16 − fp32 over the seeds "
        "(t quantile, n − 1 degrees of freedom) excludes zero, else *no significant difference*. Train time: "
        f"median wall seconds per run ({torch.get_num_threads()} torch thread(s) in this invocation; runs trained by "
        "parallel invocations shared the machine).",
        "",
        text,
        "",
        "Not trained here: " + "; ".join(f"`{p}`: {why}" for p, why in NOT_MEASURED.items()) + ".",
        "",
        *([f"Speed: images per CPU-second of one training step (one D + one G step, the preset's batch), fp32 and "
           f"bf16 + channels-last side by side in one process, {speed_rounds} interleaved rounds of 3 steps after "
           "one untimed, median (the ratio: median of the per-round ratios, min–max):", "", speed_text, ""]
          if speed_text else []),
        {"met": "**Rule met**: no measured preset is significantly worse in bf16 + channels-last.",
         "not met": f"**Rule not met**: bf16 + channels-last is significantly worse on {', '.join(deciding)}.",
         "undecided": f"**Rule undecided**: fewer than two paired seeds for {', '.join(deciding)}."}[decision],
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
