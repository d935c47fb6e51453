"""What each part of the R3GAN recipe buys (issue 16): a loss x regulariser x backbone ablation at a fixed
budget, in the style of the roadmap table of Huang et al. 2024 (R3GAN, Table 1), and Stacked MNIST with D a
quarter of G's size (PacGAN, Lin et al. 2018, Table 3).

    OMP_NUM_THREADS=1 python -m bench ablation --suite grid      [--seeds 5] [--steps 8000] [--jobs 1]
    OMP_NUM_THREADS=1 python -m bench ablation --suite stacked   [--steps 1000] [--every 250] [--backbones dcgan,r3gan]
    OMP_NUM_THREADS=1 python -m bench ablation --suite d-quarter [--steps 12000] [--rows ...]
    ... --quick (tiny models, a few steps, nothing written) | --reuse (read back finished runs) | --no-write

Every row changes one thing against its neighbours:

* **loss** (``gankit.losses``): ``nonsaturating`` (Goodfellow et al. 2014, Sec. 3) or ``rpgan``, the
  relativistic pairing loss (Jolicoeur-Martineau 2018; R3GAN Eq. 2-3);
* **regulariser** (``gankit.training.regularisers``): none, R1 (gradient penalty on real data, Mescheder et
  al. 2018, Eq. 9), R1 + R2 (R2: the same on generated samples; R3GAN Sec. 2.2), gamma 0.1 each;
* **backbone**: the DCGAN of the ``stacked-mnist`` preset (widths 32, EMA G 0.999) or the R3GAN ResNet of the
  ``r3gan-stacked-mnist`` preset (its Adam betas (0, 0.99) and EMA), at widths 64/32/16 to fit the CPU budget.
  On the 2-D grid both backbones would be MLPs: the grid suite varies loss and regulariser on the
  ``r3gan-grid`` recipe's MLPs.

``--suite grid`` scores 2,500 samples per seed as ``bench/toy_modes.py`` (high quality within 3 sigma, modes
by the papers' rule and the strict one, reverse KL). ``--suite stacked`` trains each combination for the
same number of generator steps on Stacked MNIST (100,000 images from the MNIST *test* split) and measures
modes and KL of 26,000 EMA samples every ``--every`` steps (the clocks of those measurements are taken out
of the training time), so that the cost table reads the steps and CPU seconds each backbone needs to reach
the same KL. ``--suite d-quarter``: the ``stacked-mnist`` G (widths 32, i.e. 64 and 32 channels) against a D
of widths 8 (a quarter), as PacGAN Table 3's "D is 1/4 size of G". Each suite writes its own section of
docs/benchmarks.md unless ``--quick`` or ``--no-write``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

if not __package__:  # python bench/ablation.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, FP32, bench_command, table, write_section  # noqa: E402
from bench._quality import (QUIET, add_common_args, fmt, mnist_evaluator, opening, out_dir,  # noqa: E402
                            train_and_evaluate)

LOSSES = ("nonsaturating", "rpgan")
#: regulariser -> (r1_gamma, r2_gamma); gamma 0.1 as the r3gan presets
REGULARISERS = {"none": (0.0, 0.0), "R1": (0.1, 0.0), "R1 + R2": (0.1, 0.1)}
#: backbone -> (preset, what the ablation adds to it)
BACKBONES = {"dcgan": ("stacked-mnist", {"ema_decay": 0.999}),
             "r3gan": ("r3gan-stacked-mnist", {"r3gan_widths": [64, 32, 16]})}
SECTIONS = {"grid": "Loss x regulariser ablation on the 2-D grid (issue 16)",
            "stacked": "Loss x regulariser x backbone ablation on Stacked MNIST, and its cost (issue 16)",
            "d-quarter": "Stacked MNIST with D a quarter of G (PacGAN Table 3 setting; issue 16)"}
QUICK = dict(g_width=8, d_width=8, z_dim=16, batch_size=32, log_every=2, num_points=2000)
QUICK_R3GAN = dict(r3gan_widths=[16, 16, 16], group_width=8, z_dim=16, batch_size=32, log_every=2, num_points=2000)

#: --suite d-quarter rows: name -> (what it adds to the stacked-mnist preset, in words)
D_QUARTER = {
    "dcgan": ({"d_width": 8}, "DCGAN, non-saturating loss (the PacGAN row's recipe)"),
    "pacdcgan4": ({"d_width": 8, "pack": 4}, "PacGAN packing m = 4"),
    "best": ({"d_width": 8, "spectral_norm": True, "loss": "hinge", "ema_decay": 0.999, "lr_decay": "linear",
              "lr_decay_start": 0.5}, "spectral norm + hinge, EMA 0.999, learning rates decayed linearly to 0 over "
                                      "the second half (the stacked-mnist-best recipe at widths 32/8)"),
    "rpgan-r1r2": ({"d_width": 8, "loss": "rpgan", "r1_gamma": 0.1, "r2_gamma": 0.1, "ema_decay": 0.999,
                    "lr_decay": "linear", "lr_decay_start": 0.5},
                   "rpgan + R1 + R2 (gamma 0.1), EMA 0.999, linear decay over the second half"),
}
for _seed in (1, 2):
    D_QUARTER[f"best-seed{_seed}"] = ({**D_QUARTER["best"][0], "seed": _seed}, f"best with seed {_seed}")
D_QUARTER["best-d2"] = ({**D_QUARTER["best"][0], "d_width": 2}, "best with D of widths 2 (2 and 4 channels: "
                                                                "PacGAN's D has 2, 4 and 8)")
D_QUARTER_DEFAULT = ("dcgan", "pacdcgan4", "best", "best-seed1", "best-seed2", "rpgan-r1r2")
#: Lin et al. 2018 (PacGAN), Table 3, "D is 1/4 size of G" (means ± standard error; PacDCGAN rows over 50
#: trials), read from results/Table3.png in github.com/fjxmlzn/PacGAN (stacked_MNIST_experiments/
#: unrolled_GAN_experiment/D=0.25G: D with 2, 4, 8 filters, G with 64, 32, 16, 8; batch 128; the first four
#: rows are Metz et al. 2017's, Table 2)
PAPERS_D_QUARTER = [("DCGAN (Metz et al.)", "30.6 ± 20.73", "5.99 ± 0.42"),
                    ("Unrolled GAN, 10 steps", "327.2 ± 74.67", "4.66 ± 0.46"),
                    ("DCGAN (PacGAN's implementation)", "78.5 ± 17.56", "5.21 ± 0.19"),
                    ("PacDCGAN2", "484.5 ± 32.99", "2.61 ± 0.22"), ("PacDCGAN3", "601.3 ± 32.18", "2.00 ± 0.17"),
                    ("PacDCGAN4", "667.4 ± 29.00", "1.81 ± 0.15")]


def combos():
    """(loss, regulariser) in the order of the tables."""
    return [(loss, reg) for loss in LOSSES for reg in REGULARISERS]


def slug(*parts: str) -> str:
    return "-".join(p.lower().replace(" + ", "").replace(" ", "") for p in parts)


# ---------------------------------------------------------------------------------------- Stacked MNIST
def run_settings(steps: int, data_root: Path) -> dict:
    """What every Stacked MNIST row sets besides its recipe: data, budget, quiet logging, one checkpoint."""
    return dict(data_root=str(data_root), split="test", steps=steps, epochs=None, sample_every=steps,
                checkpoint_every=steps, keep_checkpoints=1, log_every=100, seed=0, **QUIET, **FP32)


def stacked_config(backbone: str, loss: str, reg: str, steps: int, data_root: Path, quick: bool):
    from gankit import TrainConfig

    preset, adds = BACKBONES[backbone]
    r1, r2 = REGULARISERS[reg]
    cfg = TrainConfig.from_preset(preset)
    run = run_settings(steps, data_root)
    tiny = (QUICK_R3GAN if backbone == "r3gan" else QUICK) if quick else {}
    return cfg.replace(**{**run, **adds, "loss": loss, "r1_gamma": r1, "r2_gamma": r2, **tiny})


class KLCurve:
    """A trainer callback: modes and KL of ``n`` samples of the (EMA) generator every ``every`` steps, with
    the CPU and wall seconds spent training so far (the time of these measurements taken out)."""

    def __init__(self, evaluator, every: int, n: int):
        self.evaluator, self.every, self.n = evaluator, every, n
        self.points: list[dict] = []
        self.spent_cpu = self.spent_wall = 0.0
        self.cpu0 = self.wall0 = None

    def __call__(self, trainer) -> None:
        import torch

        from gankit.metrics import stacked_mnist_modes

        if self.cpu0 is None:  # the first generator step: the clocks start here (after start-up)
            self.cpu0, self.wall0 = time.process_time(), time.perf_counter()
        if trainer.step % self.every:
            return
        c0, w0 = time.process_time(), time.perf_counter()
        G = trainer.ema.model if trainer.ema is not None else trainer.G
        g = torch.Generator().manual_seed(7)
        x = torch.cat([trainer.generate(torch.randn(1000, G.z_dim, generator=g)).float().cpu()  # no grad
                       for _ in range(math.ceil(self.n / 1000))])[:self.n]
        m = stacked_mnist_modes(x, self.evaluator)
        self.points.append({"step": trainer.step, "modes": m["modes"], "kl": m["kl"],
                            "cpu_s": c0 - self.cpu0 - self.spent_cpu, "wall_s": w0 - self.wall0 - self.spent_wall})
        self.spent_cpu += time.process_time() - c0
        self.spent_wall += time.perf_counter() - w0


def stacked_run(backbone, loss, reg, args, evaluator, out: Path) -> dict:
    cfg = stacked_config(backbone, loss, reg, args.steps, args.data_root.resolve(), args.quick)
    run_dir = out / slug(backbone, loss, reg)
    record = run_dir / "curve.json"
    curve = KLCurve(evaluator, args.every, args.n)
    r = train_and_evaluate(cfg, run_dir, evaluator, n=args.n, metrics="fid,modes", reuse=args.reuse,
                           callbacks=[curve])
    if r.get("reused") and record.is_file():
        r["curve"] = json.loads(record.read_text())
    else:
        r["curve"] = curve.points
        record.write_text(json.dumps(curve.points, indent=1) + "\n")
    return {**r, "backbone": backbone, "loss": loss, "reg": reg}


def cpu_per_step(curve: list[dict]) -> float:
    """CPU seconds per generator step: the clocks start after the first step (start-up left out)."""
    if not curve or curve[-1]["step"] < 2:
        return math.nan
    return curve[-1]["cpu_s"] / (curve[-1]["step"] - 1)


def steps_to(curve: list[dict], kl: float) -> dict | None:
    """The first point of ``curve`` at or below ``kl``."""
    return next((p for p in curve if p["kl"] <= kl), None)


def stacked_report(rows: list[dict], args, argv, ev_text: str) -> str:
    header = ["backbone", "loss", "regulariser", "modes (of 1000)", "KL", "FID", "KL over training",
              "CPU s / step"]
    cells = []
    for r in rows:
        per_step = cpu_per_step(r["curve"])
        cells.append([r["backbone"], r["loss"], r["reg"], str(r["classes_seen"]), fmt(r["class_kl"], 3),
                      fmt(r.get("fid"), 4), ", ".join(f"{p['kl']:.2f}" for p in r["curve"]), f"{per_step:.3f}"])
    steps = ", ".join(str(p["step"]) for p in rows[0]["curve"]) if rows and rows[0]["curve"] else "—"
    lines = [*opening(command("stacked", argv), rows), "",
             f"Every run: {args.steps:,} generator steps of batch 64 on Stacked MNIST ({args.steps * 64 / 100_000:.2f} "
             "epochs of 100,000 stacked images drawn from the MNIST **test** split), seed 0. DCGAN: the "
             "`stacked-mnist` preset (widths 32, Adam 2e-4 betas (0.5, 0.999)) with an EMA G (0.999). r3gan: the "
             "`r3gan-stacked-mnist` preset (Adam 2e-4 betas (0, 0.99), EMA G 0.999) at widths 64/32/16 with one "
             "block per stage. Only the loss and the regulariser change within a backbone; R1 and R2 use gamma 0.1. "
             f"Evaluation: {ev_text}; {args.n:,} samples; modes and KL as in the Stacked MNIST section; "
             f"\"KL over training\": the KL of {args.n:,} EMA samples at steps {steps}. "
             "CPU s / step: process CPU time per generator step from the second step on (start-up left out), without "
             "those measurements, one thread.",
             "", table(header, cells)]
    lines += ["", *cost_lines(rows)]
    return "\n".join(lines)


def cost_lines(rows: list[dict]) -> list[str]:
    """Steps and CPU seconds each backbone needs to reach the same KL, the rpgan + R1 + R2 rows side by side."""
    pair = {r["backbone"]: r for r in rows if r["loss"] == "rpgan" and r["reg"] == "R1 + R2" and r["curve"]}
    if len(pair) < 2:
        return []
    target = max(min(p["kl"] for p in r["curve"]) for r in pair.values())  # the best KL both reach
    body = []
    for name, r in pair.items():
        p, rate = steps_to(r["curve"], target), cpu_per_step(r["curve"])
        body.append([name, f"{p['step']:,}", f"{p['step'] * rate:.0f}", f"{rate:.3f}", f"{64 / rate:.1f}"])
    return [f"Cost (issue 16, item 4), rpgan + R1 + R2 on both backbones, measured in this run: the lowest KL both "
            f"reach within the budget is {target:.2f}.", "",
            table(["backbone", f"first step at KL ≤ {target:.2f}", "CPU s to get there (steps x CPU s / step)", "CPU s / step",
                   "images / CPU-s"], body)]


# ---------------------------------------------------------------------------------------- the grid
def grid_config(loss: str, reg: str, seed: int, steps: int, quick: bool):
    from gankit import TrainConfig

    r1, r2 = REGULARISERS[reg]
    cfg = TrainConfig.from_preset("r3gan-grid", loss=loss, r1_gamma=r1, r2_gamma=r2)
    return cfg.replace(seed=seed, steps=steps, epochs=None, device="cpu", progress=False, tensorboard=False,
                       sample_every=steps, checkpoint_every=steps, log_every=min(cfg.log_every, steps),
                       **FP32, **({"g_hidden": [16, 16], "d_hidden": [16, 16]} if quick else {}))


def grid_run(task: tuple) -> dict:
    """Train one (loss, regulariser, seed) on the grid in a temporary folder; score 2,500 samples
    (noise seed 10,000 + seed, as bench/toy_modes.py)."""
    import tempfile

    import torch

    from bench._toy import N_SAMPLES, scores
    from gankit import Trainer

    loss, reg, seed, steps, quick = task
    torch.set_num_threads(1)
    cfg = grid_config(loss, reg, seed, steps, quick)
    with tempfile.TemporaryDirectory(prefix="gankit-ablation-") as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
        z = torch.randn(N_SAMPLES, cfg.z_dim, generator=torch.Generator().manual_seed(10_000 + seed))
        x = trainer.generate(z).cpu()
    return {"loss": loss, "reg": reg, "seed": seed, "steps": steps, "seconds": seconds, "config": cfg.to_dict(),
            **scores(x, "grid")}


def grid_rows(args, out: Path) -> list[dict]:
    """The grid runs, one result file each under ``out/grid``. With ``--reuse`` a finished run is read back, and
    a run another invocation has claimed (its ``.claim`` file) is left to it: several invocations share the
    queue; the last one, with ``--reuse``, assembles the table."""
    import multiprocessing

    from bench._toy import Serial

    folder = out / "grid"
    folder.mkdir(parents=True, exist_ok=True)
    rows, todo = [], []
    for t in [(loss, reg, s, args.steps, args.quick) for loss, reg in combos() for s in range(args.seeds)]:
        path = folder / f"{slug(t[0], t[1])}-s{t[2]}-{t[3]}.json"
        saved = json.loads(path.read_text()) if args.reuse and path.is_file() else None
        if saved is not None and saved["config"] == grid_config(*t[:3], t[3], t[4]).to_dict():
            rows.append({**saved, "reused": True})
            continue
        try:
            if args.reuse:  # take the run, unless another invocation has
                os.close(os.open(path.with_suffix(".claim"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            print(f"  grid {t[0]} {t[1]} seed {t[2]}: claimed by another invocation", flush=True)
            continue
        todo.append(t)
    with multiprocessing.get_context("spawn").Pool(args.jobs) if args.jobs > 1 else Serial() as pool:
        for r in pool.imap_unordered(grid_run, todo, chunksize=1):
            rows.append(r)
            print(f"  grid {r['loss']} {r['reg']} seed {r['seed']}: modes {r['modes']}/25, "
                  f"{100 * r['high_quality']:.2f}% high quality, reverse KL {r['reverse_kl']:.3f} "
                  f"({r['seconds']:.0f} s)", flush=True)
            path = folder / f"{slug(r['loss'], r['reg'])}-s{r['seed']}-{r['steps']}.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(r, indent=1) + "\n")
            tmp.replace(path)
    return sorted(rows, key=lambda r: (combos().index((r["loss"], r["reg"])), r["seed"]))


def mean_se(v: list[float], scale: float = 1.0, digits: int = 2) -> str:
    v = [x for x in v if math.isfinite(x)]
    if not v:
        return "—"
    se = statistics.stdev(v) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    return f"{scale * statistics.mean(v):.{digits}f} ± {scale * se:.{digits}f}"


def grid_report(rows: list[dict], args, argv) -> str:
    from bench._toy import PAPERS

    header = ["loss", "regulariser", "modes (papers' rule)", "modes ≥ 20% (strict)", "% high quality",
              "worst seed", "reverse KL", "s / run"]
    cells = []
    for loss, reg in combos():
        rs = [r for r in rows if (r["loss"], r["reg"]) == (loss, reg)]
        if not rs:
            continue
        cells.append([loss, reg, mean_se([r["modes"] for r in rs], digits=1),
                      mean_se([r["modes_strict"] for r in rs], digits=1),
                      mean_se([r["high_quality"] for r in rs], 100), f"{100 * min(r['high_quality'] for r in rs):.2f}",
                      mean_se([r["reverse_kl"] for r in rs], digits=3),
                      f"{statistics.mean(r['seconds'] for r in rs):.0f}"])
    seeds = len({r["seed"] for r in rows})
    timed = [{"train_s": r["seconds"], "eval_s": 0.0, "reused": r.get("reused")} for r in rows]
    return "\n".join([*opening(command("grid", argv), timed), "",
                      f"Every run: the `r3gan-grid` recipe (MLPs 3 x 128, Adam betas (0, 0.99), lr G 2e-4 / D 1e-3, "
                      f"linear decay over the second half, EMA G 0.999, batch 256) for {args.steps:,} generator steps, "
                      f"with only the loss and the regulariser changed (gamma 0.1); seeds 0-{seeds - 1}, mean ± "
                      "standard error; 2,500 EMA samples per seed, **without** rejection sampling, scored as in the "
                      "2-D mode-coverage sections (high quality: within 3 sigma of a centre; modes: the papers' rule "
                      "and gankit's strict one; reverse KL over the modes).", "", table(header, cells), "",
                      table(["grid: published", "modes", "% high quality", "reverse KL"],
                            [list(p) for p in PAPERS["grid"]])])


# ---------------------------------------------------------------------------------------- D = G / 4
def d_quarter_config(row: str, steps: int, data_root: Path, quick: bool):
    from gankit import TrainConfig

    cfg = TrainConfig.from_preset("stacked-mnist")
    run = run_settings(steps, data_root)
    return cfg.replace(**{**run, **D_QUARTER[row][0], **(QUICK if quick else {})})


def d_quarter_report(rows: list[dict], args, argv, ev_text: str) -> str:
    cells = [[r["variant"], D_QUARTER[r["variant"]][1], str(r["classes_seen"]), fmt(r["class_kl"], 3),
              fmt(r.get("fid"), 4), f"{r['train_s']:.0f}"] for r in rows]
    lines = [*opening(command("d-quarter", argv), rows), "",
             f"Every run: the `stacked-mnist` preset's G (DCGAN, widths 32: 64 and 32 channels) against a D of widths "
             f"8 (8 and 16 channels, a quarter of G's), {args.steps:,} generator steps of batch 64 on 100,000 "
             "stacked images drawn from the MNIST **test** split, seed 0 unless the row says otherwise. Evaluation: "
             f"{ev_text}; {args.n:,} samples.", "",
             table(["run", "recipe", "modes (of 1000)", "KL", "FID", "train s"], cells)]
    seeded = [r for r in rows if r["variant"] == "best" or r["variant"].startswith("best-seed")]
    if len(seeded) > 1:
        kl = [r["class_kl"] for r in seeded]
        modes = [r["classes_seen"] for r in seeded]
        lines += ["", f"best over {len(seeded)} seeds: modes {statistics.mean(modes):.1f} (worst {min(modes)}), KL "
                      f"{statistics.mean(kl):.3f} ± {statistics.stdev(kl) / math.sqrt(len(kl)):.3f} (standard error; "
                      f"worst {max(kl):.3f})."]
    lines += ["", "Published (PacGAN Table 3, D is 1/4 size of G; PacGAN trains 500,000 steps of batch 128 on "
                  "digits from the 60,000-digit train split):", "",
              table(["model (paper)", "modes (of 1000)", "KL"], [list(p) for p in PAPERS_D_QUARTER])]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- main
def command(suite: str, argv) -> str:
    return bench_command("ablation", argv, drop=("--reuse",))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench ablation", description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=tuple(SECTIONS), required=True)
    ap.add_argument("--quick", action="store_true", help="tiny models, a few steps; writes nothing")
    ap.add_argument("--steps", type=int, default=None, help="generator steps per run (grid 8000, stacked 1000, "
                                                            "d-quarter 12000; quick 4)")
    ap.add_argument("--every", type=int, default=None, help="stacked: KL measured every this many steps "
                                                            "(default steps / 4)")
    ap.add_argument("--backbones", default="dcgan,r3gan", help="stacked: of dcgan, r3gan")
    ap.add_argument("--seeds", type=int, default=None, help="grid: seeds 0..n-1 (default 5; quick 1)")
    ap.add_argument("--jobs", type=int, default=1, help="grid: runs in parallel (one torch thread each)")
    ap.add_argument("--rows", default=None, help=f"d-quarter: of {', '.join(D_QUARTER)} "
                                                 f"(default {','.join(D_QUARTER_DEFAULT)})")
    add_common_args(ap, "ablation", 26000, 500)
    args = ap.parse_args(argv)
    quick = args.quick
    args.steps = args.steps or (4 if quick else {"grid": 8000, "stacked": 1000, "d-quarter": 12000}[args.suite])
    args.every = args.every or max(1, args.steps // 4)
    args.n = args.n or (500 if quick else 26_000)
    args.seeds = args.seeds or (1 if quick else 5)
    out = out_dir(args.out, "ablation", quick)
    doc = None if args.no_write or quick else (args.doc or DOCS)

    if args.suite == "grid":
        rows = grid_rows(args, out)
        text = grid_report(rows, args, argv)
    else:
        evaluator, ev_text = mnist_evaluator(args.evaluator, args.data_root.resolve(), quick)
        rows = []
        if args.suite == "stacked":
            backbones = [b for b in args.backbones.split(",") if b]
            bad = [b for b in backbones if b not in BACKBONES]
            if bad:
                ap.error(f"unknown backbone {', '.join(bad)}; choose from: {', '.join(BACKBONES)}")
            for backbone in backbones:
                for loss, reg in combos():
                    r = stacked_run(backbone, loss, reg, args, evaluator, out / "stacked")
                    rows.append(r)
                    print(f"{backbone:6s} {loss:14s} {reg:8s} modes {r['classes_seen']:4d}  KL "
                          f"{fmt(r['class_kl'], 3):>5s}  curve {[round(p['kl'], 2) for p in r['curve']]}", flush=True)
            text = stacked_report(rows, args, argv, ev_text)
        else:
            names = [v for v in (args.rows or ",".join(D_QUARTER_DEFAULT)).split(",") if v]
            bad = [v for v in names if v not in D_QUARTER]
            if bad:
                ap.error(f"unknown row {', '.join(bad)}; choose from: {', '.join(D_QUARTER)}")
            for name in names:
                cfg = d_quarter_config(name, args.steps, args.data_root.resolve(), quick)
                r = train_and_evaluate(cfg, out / "d-quarter" / name, evaluator, n=args.n, metrics="fid,modes",
                                       reuse=args.reuse)
                rows.append({**r, "variant": name})
                print(f"{name:12s} modes {r['classes_seen']:4d}  KL {fmt(r['class_kl'], 3):>5s}  "
                      f"train {r['train_s']:.0f} s", flush=True)
            text = d_quarter_report(rows, args, argv, ev_text)
    print("\n" + text)
    if doc is not None:
        write_section(doc, SECTIONS[args.suite], text)
        print(f"wrote {doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
