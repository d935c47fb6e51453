"""Stacked MNIST mode coverage (issue 5, part 2): DCGAN with and without the mode-collapse remedies.

    OMP_NUM_THREADS=1 python -m bench stacked_mnist [--quick] [--steps N] [--variants dcgan,pacdcgan2]
        [--evaluator DIR] [--data-root DIR] [--n 26000] [--no-write]

Stacked MNIST (Metz et al. 2017, §3.3): three MNIST digits as the R, G, B channels, 1,000 modes
(``gankit.data.stacked``), here built from the MNIST *test* split (10,000 stacked images; the
only split available offline). Each variant trains the same DCGAN (preset ``stacked-mnist``)
for the same number of generator steps, with one remedy switched on or not. Each run is then
evaluated as in VEEGAN (Srivastava et al. 2017, §5.2) and PacGAN (Lin et al. 2018, §5.2): 26,000
samples, each channel classified by the LeNet MNIST evaluator, *modes* = how many of the 1,000
digit triples are hit at least once, *KL* = KL(mode histogram ‖ uniform) (``gankit evaluate
--n 26000``, ``classes_seen`` and ``class_kl`` in eval.json), plus FID on the evaluator's
per-channel features. Targets: >= 990 modes and KL <= 0.1. The same numbers for real images give
the ceiling. Writes docs/benchmarks.md (its own section) and docs/images/quality-stacked-mnist.png
unless --quick or --no-write. ``--quick``: tiny models, a few steps, a tiny evaluator (< 1 min).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

if not __package__:  # python bench/stacked_mnist.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, FP32, table, write_section  # noqa: E402
from bench._quality import (QUIET, add_common_args, fmt, mnist_evaluator, opening, out_dir,  # noqa: E402
                            train_and_evaluate)

SECTION = "Stacked MNIST mode coverage"
PRESET = "stacked-mnist"
STEPS = 12000
#: name -> (what it adds to the preset, the remedy in words)
VARIANTS = {
    "dcgan": ({}, "none (the preset: DCGAN, non-saturating loss, no EMA)"),
    "dcgan-ema": ({"ema_decay": 0.999}, "EMA of G's weights, 0.999 (Yazıcı et al. 2019)"),
    "pacdcgan2": ({"pack": 2}, "PacGAN packing m = 2 (Lin et al. 2018)"),
    "pacdcgan4": ({"pack": 4}, "PacGAN packing m = 4"),
    "sn-hinge": ({"spectral_norm": True, "loss": "hinge"}, "spectral norm in D + hinge loss (Miyato et al. 2018)"),
    "pacdcgan2-ema": ({"pack": 2, "ema_decay": 0.999}, "packing m = 2 and EMA 0.999"),
    "best": ({"spectral_norm": True, "loss": "hinge", "ema_decay": 0.999, "lr_decay": "linear", "lr_decay_start": 0.5,
              "steps": 60000}, "spectral norm + hinge, EMA 0.999, learning rates decayed linearly to 0 over the "
                               "second half; its own budget of 60,000 steps"),
}
VARIANTS["best-80k"] = ({**VARIANTS["best"][0], "steps": 80000},
                        "the same as best, 80,000 steps (trained with 2 torch threads: OMP_NUM_THREADS=2)")
#: the same recipe with a wider network, in bf16 autocast with channels-last tensors to fit the CPU budget
FAST = {"amp": "bf16", "channels_last": True}
VARIANTS["best-d64"] = ({**VARIANTS["best"][0], **FAST, "d_width": 64},
                        "the same as best with D twice as wide (d_width 64; bf16 autocast, channels-last); trained two "
                        "runs at a time, 1 thread each")
VARIANTS["best-w64"] = ({**VARIANTS["best"][0], **FAST, "g_width": 64, "d_width": 64, "steps": 45000},
                        "the same as best with G and D twice as wide (widths 64; bf16 autocast, channels-last), "
                        "45,000 steps; trained two runs at a time, 1 thread each (alone with 2 threads it trains "
                        "25.6 steps/s: about 30 min)")
for _seed in (1, 2):  # the same recipe from other seeds: how much of the KL is luck
    VARIANTS[f"best-w64-seed{_seed}"] = ({**VARIANTS["best-w64"][0], "seed": _seed}, f"best-w64 with seed {_seed}")
#: does a categorical latent (InfoGAN's code without its loss, one category per mode) balance the modes?
#: The best recipe at widths 32 and a 12,000-step budget, with and without ``--latent-categories 1000``.
VARIANTS["best-12k"] = ({**VARIANTS["best"][0], "steps": 12000}, "best (widths 32) at 12,000 steps")
VARIANTS["best-12k-cat1000"] = ({**VARIANTS["best-12k"][0], "latent_categories": 1000},
                                "best-12k with a 1000-way categorical code in G's latent (--latent-categories 1000)")
VARIANTS["best-12k-cat3000"] = ({**VARIANTS["best-12k"][0], "latent_categories": 3000},
                                "best-12k with a 3000-way categorical code (three categories per mode)")
#: the R3GAN objective (rpgan + R1 + R2, gamma 0.1: the best row of the 1,000-step ablation in
#: bench/ablation.py) in place of spectral norm + hinge in the best-w64 recipe
RPGAN = {"loss": "rpgan", "r1_gamma": 0.1, "r2_gamma": 0.1}
VARIANTS["best-w64-rpgan"] = ({**VARIANTS["best-w64"][0], **RPGAN, "spectral_norm": False},
                              "best-w64 with rpgan + R1 + R2 (gamma 0.1) in place of spectral norm + hinge")
for _seed in (1, 2):
    VARIANTS[f"best-w64-rpgan-seed{_seed}"] = ({**VARIANTS["best-w64-rpgan"][0], "seed": _seed},
                                              f"best-w64-rpgan with seed {_seed}")
#: the two at a 16,000-step budget, side by side (what one session's CPU time allows)
#: the same with lazy regularisation (R1 + R2 every 16 D steps, scaled by 16; StyleGAN2's interval): the R1/R2
#: double backward on one step in 16, for a recipe about as cheap per step as hinge
VARIANTS["best-w64-rpgan-lazy"] = ({**VARIANTS["best-w64-rpgan"][0], "reg_interval": 16},
                                   "best-w64-rpgan with R1 + R2 every 16 D steps (lazy, scaled by 16)")
for _seed in (1, 2):
    VARIANTS[f"best-w64-rpgan-lazy-seed{_seed}"] = ({**VARIANTS["best-w64-rpgan-lazy"][0], "seed": _seed},
                                                   f"best-w64-rpgan-lazy with seed {_seed}")
VARIANTS["best-w64-16k"] = ({**VARIANTS["best-w64"][0], "steps": 16000}, "best-w64 at 16,000 steps")
VARIANTS["best-w64-rpgan-16k"] = ({**VARIANTS["best-w64-rpgan"][0], "steps": 16000},
                                  "best-w64-rpgan at 16,000 steps")
VARIANTS["best-w64-rpgan-lazy-16k"] = ({**VARIANTS["best-w64-rpgan-lazy"][0], "steps": 16000},
                                       "best-w64-rpgan-lazy at 16,000 steps")
DEFAULT_VARIANTS = ("dcgan", "dcgan-ema", "pacdcgan2", "pacdcgan2-ema", "sn-hinge")
QUICK = dict(g_width=8, d_width=8, z_dim=16, batch_size=32, log_every=2, num_points=2000)
#: Lin et al. 2018 (PacGAN), Table 2: the VEEGAN setting (DCGAN with 4 conv layers in D, 128,000
#: stacked images from the 60,000-digit train split, 50 epochs of batch 64, 26,000 samples;
#: the first four rows are VEEGAN's, Srivastava et al. 2017, Table 3). Read from the authors'
#: results/Table2.png in github.com/fjxmlzn/PacGAN (stacked_MNIST_experiments), whose
#: VEEGAN_experiment/config.py sets num_training_sample 128000, num_test_sample 26000, epoch 50.
PAPERS = [("DCGAN (VEEGAN's run)", "99.0", "3.40"), ("Unrolled GAN", "48.7", "4.32"), ("VEEGAN", "150.0", "2.95"),
          ("DCGAN (PacGAN's run)", "78.9 ± 6.5", "4.50 ± 0.13"), ("PacDCGAN2", "1000.0 ± 0.0", "0.06 ± 0.003"),
          ("PacDCGAN3", "1000.0 ± 0.0", "0.06 ± 0.003"), ("PacDCGAN4", "1000.0 ± 0.0", "0.07 ± 0.005")]
MODES_TARGET, KL_TARGET = 990, 0.1
#: ``best + DRS``: D trained this many more steps (batch 64) against the frozen EMA G, then gamma = this
#: percentile of F (gankit.sampling; Azadi et al. 2019, as `gankit sample RUN --drs`)
DRS_CALIBRATE, DRS_PERCENTILE = 3000, 0.5
DRS_VARIANTS = ("best", "best-80k", "best-w64")  # the runs also sampled by DRS, when in --variants
DRS_REMEDY = (f"the best run sampled by discriminator rejection (Azadi et al. 2019): D trained {DRS_CALIBRATE:,} more "
              f"steps against the frozen EMA G, gamma at the {100 * DRS_PERCENTILE:.0f}th percentile")


def config(variant: str, steps: int, data_root: Path, quick: bool):
    from gankit import TrainConfig

    cfg = TrainConfig.from_preset(PRESET)
    run = dict(data_root=str(data_root), split="test", steps=steps, epochs=None, sample_every=steps,
               checkpoint_every=2000, keep_checkpoints=1, log_every=100, seed=0, **QUIET, **FP32)
    changes = {k: v for k, v in VARIANTS[variant][0].items() if not (quick and k == "steps")}  # quick: its steps
    return cfg.replace(**{**run, **changes, **(QUICK if quick else {})})


def real_rows(evaluator, data_root: Path, n: int, size: int) -> list[dict]:
    """Modes and KL of real Stacked MNIST: the ``size`` training images, and ``n`` fresh triples of
    test digits (what a perfect sampler of the underlying distribution would score)."""
    import torch

    from gankit import TrainConfig
    from gankit.data import load_dataset
    from gankit.data.stacked import stack_digits
    from gankit.metrics import stacked_mnist_modes

    cfg = TrainConfig(data="stacked-mnist", data_root=str(data_root), split="test", download=False,
                      num_points=size).validate()
    train = load_dataset(cfg)
    mnist = load_dataset(cfg.replace(data="mnist"))
    idx = torch.randint(len(mnist), (n, 3), generator=torch.Generator().manual_seed(1))
    fresh, _ = stack_digits(mnist.x, mnist.y, idx)
    rows = []
    for name, images in ((f"real: the {len(train):,} training images", train.x),
                         (f"real: {n:,} fresh triples of test digits", fresh)):
        m = stacked_mnist_modes(images.float().div(127.5).sub(1), evaluator)
        rows.append({"variant": name, "classes_seen": m["modes"], "class_kl": m["kl"],
                     "digit_kl": m["digit_kl"], "uncertain": m["uncertain"]})
    return rows


def diagnose(r: dict, evaluator, n: int) -> dict:
    """Where run ``r``'s KL comes from: each channel's digit KL and the share of uncertain channel readings
    (``stacked_mnist_modes``) of the ``n`` EMA samples its evaluation counted (same seed)."""
    import gankit
    from gankit.metrics import sample_generator, stacked_mnist_modes

    m = stacked_mnist_modes(sample_generator(gankit.load(r["run"]), n, seed=0)[0], evaluator)
    assert m["modes"] == r["classes_seen"], "the diagnosis must count the evaluation's own samples"
    return {"digit_kl": m["digit_kl"], "uncertain": m["uncertain"]}


def diagnosis_text(r: dict) -> str:
    return (f"  digit KL {' / '.join(f'{k:.3f}' for k in r['digit_kl'])} (sum {sum(r['digit_kl']):.3f})"
            f"  uncertain {100 * r['uncertain']:.1f}%" if "digit_kl" in r else "")


def drs_row(r: dict, evaluator, n: int, quick: bool, reuse: bool = False) -> dict:
    """Modes and KL of ``n`` samples of run ``r`` by discriminator rejection sampling.

    Kept in the run's drs.json; with ``reuse``, read back when made with the same settings from the
    same training (its wall time identifies it) and the same evaluator."""
    import gankit
    from gankit.metrics import stacked_mnist_modes
    from gankit.metrics.features import LeNetExtractor
    from gankit.sampling import run_sampler

    calibrate = 20 if quick else DRS_CALIBRATE
    key = {"calibrate": calibrate, "percentile": DRS_PERCENTILE, "n": n, "trained_s": r["train_s"],
           "evaluator": LeNetExtractor(evaluator).identity}
    record = Path(r["run"]) / "drs.json"
    if reuse and record.is_file():
        saved = json.loads(record.read_text())
        if saved.get("key") == key:
            return saved["result"]
    t0 = time.perf_counter()
    G, D = gankit.load(r["run"], discriminator=True)
    sampler = run_sampler(G, D, calibrate=calibrate, calibrate_batch=64, seed=0,
                          percentile=DRS_PERCENTILE, batch_size=2000, burn_in=4000)
    m = stacked_mnist_modes(sampler.sample(n, seed=1), evaluator)
    row = {"variant": f"{r['variant']} + DRS", "remedy": DRS_REMEDY, "steps": r["steps"], "classes_seen": m["modes"],
           "class_kl": m["kl"], "acceptance": sampler.acceptance, "drs_s": time.perf_counter() - t0}
    record.write_text(json.dumps({"key": key, "result": row}, indent=1) + "\n")
    return row


def save_grid(run: str, path: Path) -> Path:
    import gankit
    from gankit.utils.images import save_image_grid

    return save_image_grid(gankit.load(run).sample(64, seed=0), path, nrow=8, scale=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke test; does not touch docs/")
    ap.add_argument("--steps", type=int, default=None, help=f"generator steps per run (default {STEPS}; quick 4)")
    ap.add_argument("--variants", default=None, help=f"of {', '.join(VARIANTS)} (default {','.join(DEFAULT_VARIANTS)})")
    ap.add_argument("--diagnose", action="store_true",
                    help="also print each run's per-channel digit KL and share of uncertain digits (where KL comes from)")
    add_common_args(ap, "stacked_mnist", 26000, 500)
    args = ap.parse_args(argv)
    quick = args.quick
    steps = args.steps or (4 if quick else STEPS)
    n = args.n or (500 if quick else 26_000)
    variants = [v for v in (args.variants or ",".join(DEFAULT_VARIANTS)).split(",") if v]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        ap.error(f"unknown variant {', '.join(bad)}; choose from: {', '.join(VARIANTS)}")
    out = out_dir(args.out, "stacked_mnist", quick)
    doc = None if args.no_write or (quick and args.doc is None) else (args.doc or DOCS)
    data_root = args.data_root.resolve()

    t_start = time.perf_counter()
    evaluator, ev_text = mnist_evaluator(args.evaluator, data_root, quick)
    cache = out / "feature-cache" if quick else None
    print(f"evaluator: {ev_text}; {steps} generator steps per run; {n} samples per evaluation", flush=True)
    results = real_rows(evaluator, data_root, n, config(variants[0], steps, data_root, quick).num_points)
    for r in results:
        print(f"{r['variant']:40s} modes {r['classes_seen']:4d}  KL {r['class_kl']:.3f}" + diagnosis_text(r), flush=True)
    for v in variants:
        cfg = config(v, steps, data_root, quick)
        r = train_and_evaluate(cfg, out / v, evaluator, n=n, metrics="fid,modes", cache_dir=cache,
                               reuse=args.reuse)
        r["variant"] = v
        if args.diagnose:
            r.update(diagnose(r, evaluator, n))
        results.append(r)
        print(f"{v:40s} modes {r['classes_seen']:4d}  KL {fmt(r['class_kl'], 3):>5s}  FID {fmt(r['fid'], 4)}  "
              f"train {r['train_s']:.0f} s  eval {r['eval_s']:.0f} s" + diagnosis_text(r), flush=True)
    for best_run in [r for r in results if r["variant"] in DRS_VARIANTS]:
        results.append(drs_row(best_run, evaluator, n, quick, args.reuse))
        r = results[-1]
        print(f"{r['variant']:40s} modes {r['classes_seen']:4d}  KL {fmt(r['class_kl'], 3):>5s}  "
              f"acceptance {r['acceptance']:.2f}  {r['drs_s']:.0f} s", flush=True)
    total = time.perf_counter() - t_start
    header = ["run", "remedy", "steps", "modes (of 1000)", "KL", "FID", "train s"]
    rows = [[r["variant"], VARIANTS[r["variant"]][1] if r["variant"] in VARIANTS else r.get("remedy", "—"),
             f"{r['steps']:,}" if "steps" in r else "—", str(r["classes_seen"]), fmt(r["class_kl"], 3),
             fmt(r.get("fid"), 4), f"{r['train_s']:.0f}" if "train_s" in r else "—"] for r in results]
    text = table(header, rows)
    print("\n" + text + f"\n\ntotal {total / 60:.1f} min")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    if doc is not None:
        trained = [r for r in results if "run" in r]
        best = max(trained, key=lambda r: (r["classes_seen"], -r["class_kl"]))
        grid = save_grid(best["run"], doc.parent / "images" / "quality-stacked-mnist.png")
        write_section(doc, SECTION, report(results, best, grid, text, steps, n, ev_text, doc, argv,
                                                config(variants[0], steps, data_root, quick).num_points))
        print(f"wrote {doc} and {grid}")
    return 0


def seed_spread(trained: list[dict]) -> list[str]:
    """A line per variant trained from several seeds (``X`` and ``X-seedN`` rows): KL mean ± sd, worst."""
    import statistics

    lines = []
    for base in sorted({r["variant"] for r in trained if not r["variant"].partition("-seed")[2]}):
        runs = [r for r in trained if r["variant"] == base or r["variant"].startswith(base + "-seed")]
        if len(runs) > 1:
            kl = [r["class_kl"] for r in runs]
            lines.append(f"{base} over {len(runs)} seeds: modes {min(r['classes_seen'] for r in runs)}-"
                         f"{max(r['classes_seen'] for r in runs)}, KL {statistics.mean(kl):.3f} ± "
                         f"{statistics.stdev(kl):.3f} (worst {max(kl):.3f}).")
    return ["", *lines] if lines else []


def report(results, best, grid, text, steps, n, ev_text, doc, argv, size) -> str:
    threads = os.environ.get("OMP_NUM_THREADS", "1")
    command = f"OMP_NUM_THREADS={threads} python -m bench stacked_mnist" + "".join(f" {a}" for a in argv or [])
    trained = [r for r in results if "run" in r]
    generated = [r for r in results if not r["variant"].startswith("real:")]
    hit = [r["variant"] for r in generated if r["classes_seen"] >= MODES_TARGET and r["class_kl"] <= KL_TARGET]
    papers = table(["model (paper)", "modes (of 1000)", "KL"], [list(p) for p in PAPERS])
    return "\n".join([
        *opening(command, trained),
        "",
        f"**Data: Stacked MNIST built from the MNIST *test* split (10,000 digits), the only MNIST split "
        f"available offline**: {size:,} stacked training images (`--data stacked-mnist --data-root "
        f"../shared/data/mnist --split test`, `num_points` {size:,}), each channel a digit of the test split "
        f"drawn with replacement, about {size // 1000} training images per mode.",
        "",
        f"Every run: preset `{PRESET}` (DCGAN at 28x28x3, z 100, batch 64, Adam 2e-4, "
        f"betas (0.5, 0.999), non-saturating loss, widths 32 to fit the CPU budget; wider in the `-d64` and `-w64` "
        "rows) "
        f"for **{steps} generator steps** "
        f"({steps * 64 / size:.1f} epochs of the {size:,} images; `best`: its own budget, the steps column), "
        "seed 0 unless the row says otherwise, one remedy switched on per row. "
        f"Evaluation (`gankit evaluate RUN --evaluator DIR --n {n}`): {n:,} samples; each channel "
        f"classified by the evaluator, {ev_text}; modes = digit triples hit at least once, KL = "
        "KL(mode histogram ‖ uniform) (0 balanced; log 1000 = 6.91 for one mode); FID on the "
        "concatenated per-channel LeNet features (domain FID, for comparing rows only). The first "
        "two rows measure real images with the same classifier: the ceiling of these numbers.",
        "",
        text,
        "",
        f"Targets (≥ {MODES_TARGET} modes and KL ≤ {KL_TARGET}): "
        + (f"reached by {', '.join(hit)}." if hit else "not reached by any run."),
        *seed_spread(trained),
        "",
        "Published numbers (Lin et al. 2018, PacGAN, Table 2, with VEEGAN's numbers for the first rows: "
        "the same 26,000-sample protocol, but 128,000 stacked images from the 60,000-digit train split "
        "and 50 epochs of batch 64, about 100,000 generator steps on a GPU, and a 4-layer DCGAN "
        "discriminator). Read from the authors' repository, github.com/fjxmlzn/PacGAN, "
        "`stacked_MNIST_experiments/results/Table2.png` and `VEEGAN_experiment/config.py`:",
        "",
        papers,
        "",
        f"Samples of {best['variant']} (64 samples, seed 0): "
        f"![stacked MNIST]({Path(grid).resolve().relative_to(doc.resolve().parent).as_posix()})",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
