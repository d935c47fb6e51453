"""Limited data: DiffAugment and ADA against no augmentation (issue 17).

    OMP_NUM_THREADS=1 python -m bench limited_data [--quick] [--steps N] [--seeds 0,1,2] [--reuse]
        [--sets mnist-1000,mnist-100,digits,mnist-full] [--recipes dcgan,sn-hinge,cgan,cgan-sn] [--title T]
        [--evaluator DIR] [--data-root DIR] [--no-write]

A recipe (``RECIPES``: DCGAN, the ``dcgan-mnist`` / ``dcgan-digits`` presets at widths 32, or a variant:
spectral norm + hinge, the class-conditional cGAN) trained for the same number of generator steps with
``--augment none``, ``diffaug`` (Zhao et al. 2020: color,translation,cutout; ``diffaug-t``: translation
alone) and ``ada`` (Karras et al. 2020, target 0.6, interval 4, ``ada_kimg`` scaled to the run) on

- ``mnist-1000``: a class-balanced 1,000-digit subset of the MNIST *test* split (``--train-subset 1000``),
- ``digits``: scikit-learn's 1,797 bundled 8x8 digits (upsampled to 16x16),
- ``mnist-100``: 100 digits (10 per class) of the test split, for the memorisation check,
- ``mnist-full``: all 10,000 digits of the test split, without augmentation only: the control that says
  how much of the 1,000-digit run's FD is owed to the lack of data, i.e. what augmentation could win back,

each evaluated with ``gankit.metrics.evaluate_run`` (lenet-feature FD and KID, precision/recall) against
the *full* split the subset was drawn from (10,000 test digits; the 1,797 digits). During each run the FD of
1,000 EMA samples is measured every twentieth of the run (the curve), beside D's real/fake gap from
metrics.jsonl; ADA's p and r_t are read from metrics.jsonl. The 100-digit runs get sample grids and the
nearest-training-image check (``gankit.analysis.memorization``). The cost of augmentation is timed as
training steps with and without it, interleaved in this process.
``--reuse`` reads back runs already trained with the same settings (resume an interrupted benchmark);
results accumulate in ``<out>/results.json``. ``--quick``: tiny widths and steps (a smoke test).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

if not __package__:  # python bench/limited_data.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, FP32, bench_command, table, write_section  # noqa: E402
from bench._quality import (QUIET, add_common_args, digits_evaluator, fixed, fmt, mnist_evaluator, opening, out_dir,  # noqa: E402
                            train_and_evaluate)

SECTION = "Limited data: DiffAugment and ADA (issue 17)"
STEPS = 1500
AUGS = {"none": {}, "diffaug": {"augment": "diffaug"}, "ada": {"augment": "ada"},
        "diffaug-t": {"augment": "diffaug", "augment_policy": "translation"}}  # DiffAugment's translation alone
CONTROL = "mnist-full"  # trained without augmentation only
DATA_TEXT = {"mnist-1000": "a class-balanced 1,000-digit subset of the MNIST **test split** (`--data mnist --split test "
                           "--train-subset 1000`)",
             "mnist-100": "100 digits of the test split (10 per class)",
             "digits": "the 1,797 bundled digits (16x16)",
             CONTROL: "the control `mnist-full`: all 10,000 digits of the test split, without augmentation"}
SETS = {  # name -> (preset, changes)
    "mnist-1000": ("dcgan-mnist", {"data": "mnist", "split": "test", "train_subset": 1000}),
    "mnist-100": ("dcgan-mnist", {"data": "mnist", "split": "test", "train_subset": 100}),
    "digits": ("dcgan-digits", {"data": "digits"}),
    "mnist-full": ("dcgan-mnist", {"data": "mnist", "split": "test"}),  # all 10,000: the gap augmentation can close
}
COMMON = dict(g_width=32, d_width=32, batch_size=64, ema_decay=0.995)
#: the recipes: changes over the DCGAN presets (and how the report names them)
RECIPES = {"dcgan": {}, "sn-hinge": {"loss": "hinge", "spectral_norm": True},
           "cgan": {"model": "cgan", "backbone": "dcgan", "conditioning": "concat"},
           "cgan-sn": {"model": "cgan", "backbone": "dcgan", "conditioning": "concat", "loss": "hinge",
                       "spectral_norm": True}}
RECIPE_TEXT = {
    "dcgan": "`dcgan` (presets `dcgan-mnist` / `dcgan-digits`)",
    "sn-hinge": "`sn-hinge` (the DCGAN with spectral norm in D, no batch norm there, and the hinge loss: the D of "
                "gankit's best 28 px recipe `stacked-mnist-best`; Miyato et al. 2018)",
    "cgan": "`cgan` (the class-conditional GAN of preset `cgan-mnist`, Mirza & Osindero 2014: DCGAN backbone, "
            "label concatenated to z and to D's input; gankit's best MNIST recipe by FD, section \"MNIST (test "
            "split) quality by model and objective\")",
    "cgan-sn": "`cgan-sn` (that cGAN with spectral norm in D, no batch norm there, and the hinge loss)",
}
QUICK = dict(g_width=8, d_width=8, z_dim=16, batch_size=32)
#: at most this many steps between checkpoints (a bookkeeping field: not part of the --reuse key)
CHECKPOINT_EVERY = 2000
METRICS = "fid,kid,pr"
#: the papers' rows (FID; DiffAugment: StyleGAN2, Zhao et al. 2020, Tables 2 and 5; ADA: Karras et al. 2020, Fig. 11)
PAPERS = [("DiffAugment", "CIFAR-10, 10% of the data (StyleGAN2)", 36.02, 14.50),
          ("DiffAugment", "CIFAR-10, 20% of the data (StyleGAN2)", 23.08, 12.15),
          ("DiffAugment", "100-shot Obama", 80.20, 46.87),
          ("DiffAugment", "100-shot Panda", 34.27, 12.06),
          ("ADA", "MetFaces (1,336 images)", 57.26, 18.22)]
TARGET = 0.60  # FD at least 60% lower with augmentation on mnist-1000
#: ada_kimg: p can cross [0, 1] in this fraction of a run's real images. 0.2 (p 0 -> 1 in 200 steps of a
#: 1,000-step run) let DCGAN's early, over-confident D drive p to 1.0 (leaking) before any over-fitting
ADA_RUN_FRACTION = 1.0


def eval_samples(args, quick: bool) -> int:
    """Samples per final evaluation (``--n``; 2,000, or 200 with ``--quick``)."""
    return args.n or (200 if quick else 2000)


def recipe_prefix(recipe: str) -> str:
    """What a recipe's run folders and figures start with (none for DCGAN, the first recipe)."""
    return "" if recipe == "dcgan" else f"{recipe}-"


def ada_kimg(steps: int, quick: bool = False) -> float:
    """ADA's speed for a run of ``steps``: p can cross [0, 1] in ADA_RUN_FRACTION of the run's real images."""
    return max(steps * (QUICK if quick else COMMON)["batch_size"] * ADA_RUN_FRACTION / 1000, 0.1)


def config(name: str, aug: str, seed: int, steps: int, data_root: Path, quick: bool, recipe: str = "dcgan",
           d_width: int | None = None, kimg: float | None = None):
    from gankit import TrainConfig

    preset, changes = SETS[name]
    cfg = TrainConfig.from_preset(preset)
    ada = {"ada_kimg": kimg or ada_kimg(steps, quick)} if aug == "ada" else {}
    # a checkpoint every 2,000 steps (a quarter of a short run): a run killed part-way resumes with --reuse
    run = dict(data_root=str(data_root), steps=steps, epochs=None, sample_every=steps,
               checkpoint_every=min(CHECKPOINT_EVERY, max(steps // 4, 1)), keep_checkpoints=1,
               log_every=max(steps // 50, 1), seed=seed, **QUIET, **FP32)
    width = {"d_width": d_width} if d_width else {}
    return cfg.replace(**{**run, **changes, **COMMON, **RECIPES[recipe], **width, **AUGS[aug], **ada,
                          **(QUICK if quick else {})})


class FDCurve:
    """A trainer callback: FD of ``n`` samples of the EMA generator every ``every`` steps, against the
    evaluator's features of the full split (``reference``); each point is also written to ``path``
    (to watch a run). A run resumed from a checkpoint keeps the points ``path`` holds from before it (a new
    run finds no file: the trainer empties the run directory)."""

    def __init__(self, extractor, reference, every: int, n: int = 1000, path: Path | None = None):
        self.extractor, self.reference, self.every, self.n, self.path = extractor, reference, every, n, path
        self.points: list[tuple[int, float]] = []

    def __call__(self, trainer) -> None:
        import torch
        from gankit.metrics.frechet import fid_from_features

        if trainer.step % self.every:
            return
        G = trainer.ema.model if trainer.ema is not None else trainer.G
        g = torch.Generator().manual_seed(7)
        z = torch.randn(self.n, G.z_dim, generator=g)
        y = G.sample_labels(self.n, "cpu") if G.num_classes else None
        x = trainer.generate(z, y)
        fake = self.extractor.extract(x)["features"]
        if not self.points and self.path is not None and self.path.is_file():  # the first point after a resume
            self.points = [tuple(p) for p in json.loads(self.path.read_text())]
        # points at or after this step are the killed run's, past its checkpoint: measured again here
        self.points = [p for p in self.points if p[0] < trainer.step]
        self.points.append((trainer.step, fid_from_features(self.reference, fake)))
        if self.path is not None:
            self.path.write_text(json.dumps(self.points))


def metrics_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def one_run(name, aug, seed, steps, data_root, quick, evaluators, args, out, recipe="dcgan"):
    from gankit.data import load_dataset

    cfg = config(name, aug, seed, steps, data_root, quick, recipe, args.d_width, args.ada_kimg)
    extractor, reference = evaluators[name.split("-")[0]]
    if reference is None:  # the full split's features, once per dataset
        reference = extractor.extract(load_dataset(cfg.replace(train_subset=None)).all_images())["features"]
        evaluators[name.split("-")[0]] = (extractor, reference)
    prefix = recipe_prefix(recipe)
    run_dir = out / f"{prefix}{name}-{aug}-s{seed}{f'-d{args.d_width}' if args.d_width else ''}"
    curve = FDCurve(extractor, reference, max(steps // 20, 1), 200 if quick else 1000, run_dir / "curve.json")
    r = train_and_evaluate(cfg, run_dir, extractor.model, n=eval_samples(args, quick), metrics=METRICS,
                           reuse=args.reuse, callbacks=[curve])
    saved = run_dir / "curve.json"
    if curve.points:
        saved.write_text(json.dumps(curve.points))
    r.update(recipe=recipe, set=name, augment=aug, seed=seed, curve=json.loads(saved.read_text()) if saved.exists() else [])
    print(f"{recipe:8s} {name:10s} {aug:8s} seed {seed}  FD {fmt(r.get('fid'), 4):>6s}  KID {fmt(r.get('kid'), 3)}  "
          f"P {fixed(r.get('precision'))} R {fixed(r.get('recall'))}  train {r['train_s']:.0f} s", flush=True)
    return r


def real_floors(extractor, reference, data_root: Path, quick: bool, n: int) -> dict[str, float]:
    """FD against the full test split (``reference``: its features, computed here when None) of real digits:
    the 1,000-digit training subset itself (what a generator that reproduced its training set exactly would
    score, up to sample size) and ``n`` random digits of the full split (the floor of an evaluation with
    ``n`` samples; a little optimistic, as they are part of the reference)."""
    import torch
    from gankit.data import load_dataset, training_data
    from gankit.metrics.frechet import fid_from_features

    cfg = config("mnist-1000", "none", 0, 1, data_root, quick)
    full = load_dataset(cfg.replace(train_subset=None)).all_images()
    ref = reference if reference is not None else extractor.extract(full)["features"]
    pick = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))[:n]
    return {"subset": fid_from_features(ref, extractor.extract(training_data(cfg).all_images())["features"]),
            "full_n": fid_from_features(ref, extractor.extract(full[pick])["features"]), "n": n}


def augmentation_cost(data_root: Path, quick: bool, rounds: int = 3, steps: int = 30) -> dict[str, float]:
    """Seconds per training step (D step + G step) for each augmentation, the best of ``rounds``
    interleaved rounds of ``steps`` steps on the mnist-1000 setting."""
    import tempfile

    from gankit import Trainer

    best = {a: float("inf") for a in AUGS}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {a: Trainer(config("mnist-1000", a, 0, 10**6, data_root, quick), Path(tmp) / a) for a in AUGS}
        for _ in range(rounds):
            for a, tr in trainers.items():
                t = time.perf_counter()
                for _ in range(steps):
                    tr.d_step()
                    tr.g_step()
                best[a] = min(best[a], (time.perf_counter() - t) / steps)
    return best


def figures(results, images: Path, prefix: str = "") -> dict[str, Path]:
    """The FD curve (with D's real/fake gap) and ADA's p, of the seed-0 runs; file names start with
    ``limited-<prefix>``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {}
    rows = {(r["set"], r["augment"], r["seed"]): r for r in results}
    seed0 = [rows[k] for k in (*(("mnist-1000", a, 0) for a in AUGS), (CONTROL, "none", 0)) if k in rows]
    if seed0:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
        for r in seed0:
            if r["curve"]:
                s, f = zip(*r["curve"])
                a1.plot(s, f, marker="o", label=label(r))
            m = metrics_rows(Path(r["run"]))
            a2.plot([v["step"] for v in m], [v["d_real"] - v["d_fake"] for v in m], label=label(r))
        control = " (and the control)" if any(r["set"] == CONTROL for r in seed0) else ""
        a1.set(xlabel="generator step", ylabel="lenet FD (1,000 samples)", title=f"FD over training, 1,000 digits{control}")
        a1.set_yscale("log")
        a2.set(xlabel="generator step", ylabel="D(x) - D(G(z))", title="D's real/fake gap")
        for a in (a1, a2):
            a.legend()
        fig.tight_layout()
        paths["curve"] = images / f"limited-{prefix}fd-curve.png"
        fig.savefig(paths["curve"], dpi=100)
        plt.close(fig)
    ada = rows.get(("mnist-1000", "ada", 0))
    if ada:
        m = [v for v in metrics_rows(Path(ada["run"])) if "ada_p" in v]
        fig, ax = plt.subplots(figsize=(6, 3.4))
        ax.plot([v["step"] for v in m], [v["ada_p"] for v in m], label="p")
        ax.plot([v["step"] for v in m], [v["ada_rt"] for v in m], label="r_t = E[sign D(x_real)]")
        ax.axhline(0.6, ls="--", c="grey", lw=0.8, label="target 0.6")
        ax.set(xlabel="generator step", title="ADA on 1,000 digits (seed 0)", ylim=(-0.05, 1.05))
        ax.legend()
        fig.tight_layout()
        paths["ada"] = images / f"limited-{prefix}ada-p.png"
        fig.savefig(paths["ada"], dpi=100)
        plt.close(fig)
    return paths


def label(r: dict) -> str:
    """A run's name in the figures: its augmentation, or the control's data."""
    return "all 10,000 digits, none" if r["set"] == CONTROL else r["augment"]


def memorisation(results, extractor, images: Path, prefix: str = "") -> dict[str, dict]:
    """The 100-digit runs: a sample grid each, and the nearest-training-image check (pixels, lenet)."""
    import gankit
    from gankit.analysis import memorization
    from gankit.data import training_data
    from gankit.utils.images import save_image_grid

    out = {}
    for r in results:
        if r["set"] != "mnist-100" or r["seed"] != 0:
            continue
        G = gankit.load(r["run"])
        samples = G.sample(200, seed=0).cpu()
        grid = save_image_grid(samples[:64], images / f"limited-{prefix}100-{r['augment']}.png", nrow=8, scale=1)
        train = training_data(G.config.replace(download=False)).all_images()
        spaces = {"pixels": memorization.pixels, "lenet": lambda x: extractor.extract(x)["features"]}
        check = memorization.memorization_check(samples, train, images, spaces, n_show=12,
                                                prefix=f"limited-{prefix}100-nearest-{r['augment']}")
        out[r["augment"]] = {"grid": grid, "nearest": images / f"limited-{prefix}100-nearest-{r['augment']}.png",
                             **{k: v for k, v in check["spaces"].items()}}
    return out


def main(argv: list[str] | None = None) -> int:
    from gankit.metrics.features import LeNetExtractor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke test; does not touch docs/")
    ap.add_argument("--steps", type=int, default=None, help=f"generator steps per run (default {STEPS}; quick 20)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sets", default="mnist-1000,mnist-100,digits", help=f"of {', '.join(SETS)}")
    ap.add_argument("--augs", default="none,diffaug,ada", help=f"augmentations to run, of {', '.join(AUGS)}")
    ap.add_argument("--recipes", default="dcgan,sn-hinge",
                    help=f"recipes, of {', '.join(RECIPES)}; the first gets every set, the others --recipe-sets")
    ap.add_argument("--recipe-sets", default="mnist-1000", help="sets of the recipes after the first")
    ap.add_argument("--recipe-seeds", default=None, help="seeds of the recipes after the first (default --seeds)")
    ap.add_argument("--d-width", type=int, default=None, help=f"D's width (default {COMMON['d_width']})")
    ap.add_argument("--ada-kimg", type=float, default=None,
                    help=f"ADA's speed (default: p can cross [0, 1] in {ADA_RUN_FRACTION:.0%} of the run's images)")
    ap.add_argument("--digits-evaluator", default=None)
    ap.add_argument("--title", default=SECTION, help=f"the docs section's heading (default: {SECTION})")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="start no new run after this many minutes; report the runs done (resume with --reuse)")
    add_common_args(ap, "limited_data", 2000, 200)
    args = ap.parse_args(argv)
    quick, steps = args.quick, args.steps or (20 if args.quick else STEPS)
    seeds = [int(s) for s in args.seeds.split(",")]
    sets = [s for s in args.sets.split(",") if s]
    out = out_dir(args.out, "limited_data", quick)
    out.mkdir(parents=True, exist_ok=True)
    doc = None if args.no_write or (quick and args.doc is None) else (args.doc or DOCS)
    images = doc.parent / "images" if doc is not None else out
    images.mkdir(parents=True, exist_ok=True)
    data_root = args.data_root.resolve()

    t0 = time.perf_counter()
    mnist, mnist_text = mnist_evaluator(args.evaluator, data_root, quick)
    evaluators = {"mnist": (LeNetExtractor(mnist), None)}
    digits_text = ""
    if "digits" in sets + args.recipe_sets.split(","):  # the 16x16 evaluator, trained once where it is missing
        digits, digits_text = digits_evaluator(args.digits_evaluator or (out / "lenet-digits-16-quick" if quick else None),
                                               quick)
        evaluators["digits"] = (LeNetExtractor(digits), None)
    recipes = [r for r in args.recipes.split(",") if r]
    order = []
    for i, recipe in enumerate(recipes):  # the headline first (1,000 digits, seed 0; the 100-digit check), then the rest
        rsets = sets if i == 0 else [s for s in args.recipe_sets.split(",") if s]
        rseeds = seeds if i == 0 or args.recipe_seeds is None else [int(s) for s in args.recipe_seeds.split(",")]
        order += [(recipe, n, rseeds[0]) for n in rsets if n == "mnist-1000"]
        order += [(recipe, n, rseeds[0]) for n in rsets if n != "mnist-1000"]
        order += [(recipe, n, s) for s in rseeds[1:] for n in rsets if n != "mnist-100"]
    results, skipped = [], []
    if CONTROL in sets and "none" not in args.augs.split(","):
        print(f"{CONTROL} is trained without augmentation only, and --augs leaves out none: not run", flush=True)
    for recipe, name, seed in order:
        for aug in [a for a in args.augs.split(",") if a and (name != CONTROL or a == "none")]:
            if args.max_minutes is not None and time.perf_counter() - t0 > 60 * args.max_minutes:
                skipped.append(f"{recipe}/{name}/{aug}/seed {seed}")
                continue
            results.append(one_run(name, aug, seed, steps, data_root, quick, evaluators, args, out, recipe))
            (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    cost = augmentation_cost(data_root, quick, steps=5 if quick else 30)
    print("seconds per step: " + ", ".join(f"{a} {v * 1000:.1f} ms" for a, v in cost.items()), flush=True)
    first = [r for r in results if r["recipe"] == recipes[0]]  # the figures and the 100-digit check
    prefix = recipe_prefix(recipes[0])  # figure names: the DCGAN sections' stay
    mem = memorisation(first, evaluators["mnist"][0], images, prefix)
    floors = (real_floors(*evaluators["mnist"], data_root, quick, eval_samples(args, quick))
              if any(r["set"] == "mnist-1000" for r in results) else None)
    figs = figures(first, images, prefix)
    text = report(results, recipes, args.d_width, args.ada_kimg, cost, mem, figs, floors, steps, mnist_text,
                  digits_text, doc, argv, time.perf_counter() - t0)
    if skipped:
        text += (f"\n\nNot run within --max-minutes {args.max_minutes:g} (resume with --reuse): "
                 + ", ".join(skipped) + ".")
    print(text)
    if doc is not None:
        write_section(doc, args.title, text)
        print(f"wrote {doc}")
    return 0


def summary(results, recipe, name):
    """Per augmentation: mean and spread over seeds of FD, KID, precision, recall."""
    rows = {}
    for aug in AUGS:
        rs = [r for r in results if r["recipe"] == recipe and r["set"] == name and r["augment"] == aug
              and r.get("fid") is not None]
        if rs:
            rows[aug] = {k: [r[k] for r in rs if r.get(k) is not None] for k in ("fid", "kid", "precision", "recall")}
            rows[aug]["seeds"] = len(rs)
    return rows


def control_line(results, recipe: str) -> str:
    """What the 1,000-digit runs lose to the lack of data: the un-augmented FD on all 10,000 digits (the
    control) beside the un-augmented and the best augmented FD on the 1,000, and the FD the target asks for."""
    small, full = summary(results, recipe, "mnist-1000"), summary(results, recipe, CONTROL)
    if "none" not in small:
        return ""
    base, ctrl = statistics.mean(small["none"]["fid"]), statistics.mean(full["none"]["fid"])
    return (f"Control ({recipe}): the same recipe on all 10,000 digits, without augmentation, reaches FD "
            f"{mean_sd(full['none']['fid'])} ({full['none']['seeds']} seed(s)), {abs(1 - ctrl / base):.0%} "
            f"{'below' if ctrl <= base else 'above'} the "
            f"un-augmented 1,000-digit runs' {fmt(base, 3)}: that gap is what the lack of data costs this recipe "
            f"at this budget. The target asks the augmented 1,000-digit runs for FD {fmt(base * (1 - TARGET), 3)}, "
            f"{'below' if base * (1 - TARGET) < ctrl else 'above'} the control's: "
            + ("augmentation would have to beat training on ten times the data." if base * (1 - TARGET) < ctrl
               else "within what ten times the data buys.") + "\n")


def leak_line(results) -> str:
    """When ADA's p passed the 0.8 non-leaking bound (Karras et al. 2020, Sec. 2.2), per ADA run."""
    over, under = [], []
    for r in results:
        if r["augment"] != "ada":
            continue
        m = [v for v in metrics_rows(Path(r["run"])) if "ada_p" in v]
        first = next((v["step"] for v in m if v["ada_p"] >= 0.8), None)
        name = f"{r['recipe']} {r['set']} seed {r['seed']}"
        (over if first is not None else under).append(f"{name} at step {first}" if first is not None else name)
    return (f"p stayed below 0.8 in {len(under)} of the {len(over) + len(under)} ADA runs"
            + (f"; it passed 0.8 in {', '.join(over)}" if over else "") + ".")


def mean_sd(v: list[float], digits: int = 3) -> str:
    if not v:
        return "—"
    return fmt(statistics.mean(v), digits) + (f" ± {fmt(statistics.stdev(v), 2)}" if len(v) > 1 else "")


def report(results, recipes, d_width, kimg, cost, mem, figs, floors, steps, mnist_text, digits_text, doc, argv, total_s) -> str:
    command = bench_command("limited_data", argv)
    rel = (lambda p: Path(p).resolve().relative_to(doc.resolve().parent).as_posix()) if doc else str
    lines = [*opening(command, results), ""]
    common = {**COMMON, **({"d_width": d_width} if d_width else {})}
    kimg_text = (f"`ada_kimg` {kimg:g}" if kimg else f"`ada_kimg` {ada_kimg(steps):g}, so p can rise from 0 to 1 at "
                 f"most once in the run ({ADA_RUN_FRACTION:g} of its {steps * 64:,} real images) and passes 0.8 "
                 "only if r_t stays above the target for most of it")
    used = [a for a in AUGS if any(r["augment"] == a for r in results)]
    lines += [f"Recipes: {'; '.join(RECIPE_TEXT[r] for r in recipes)}; "
              f"all with {', '.join(f'{k} {v}' for k, v in common.items())}; "
              f"**{steps} generator steps** per run, `--augment {' | '.join(used)}` "
              + ("(`diffaug-t`: DiffAugment's translation alone) " if "diffaug-t" in used else "")
              + "(ADA: target 0.6, interval 4, "
              f"{kimg_text}; the paper's 500 kimg is 2% of its 25M-image runs). Data: "
              + "; ".join(DATA_TEXT[n] for n in SETS if any(r["set"] == n for r in results))
              + ". Evaluation: `evaluate_run` with 2,000 EMA samples, lenet-feature FD "
              "and KID and precision/recall (k = 3) against the *full* split the subset was drawn from (10,000 test "
              f"digits; all 1,797 digits). Evaluators: MNIST {mnist_text}"
              + (f"; digits {digits_text}" if digits_text else "") + ". Mean ± standard deviation over the seeds.", ""]
    header = ["recipe", "data", "augment", "seeds", "FD", "FD ÷ none (control: ÷ 1,000 digits' none)", "KID",
              "precision", "recall"]
    rows, gains = [], {}
    for recipe in recipes:
        for name in SETS:
            s = summary(results, recipe, name)
            ref = summary(results, recipe, "mnist-1000") if name == CONTROL else s  # the control: ÷ 1,000 digits' none
            base = statistics.mean(ref["none"]["fid"]) if "none" in ref else None
            for aug, v in s.items():
                ratio = statistics.mean(v["fid"]) / base if base else None
                if name == "mnist-1000" and aug != "none" and ratio is not None:
                    gains[f"{recipe} {aug}"] = 1 - ratio
                rows.append([recipe, name, aug, v["seeds"], mean_sd(v["fid"]), fixed(ratio), mean_sd(v["kid"]),
                             mean_sd(v["precision"], 2), mean_sd(v["recall"], 2)])
    lines += [table(header, rows, right_from=3), ""]
    if gains:
        best = max(gains, key=gains.get)
        verdict = "reached" if gains[best] >= TARGET else "**not reached**"
        lines += [f"Target (FD at least {TARGET:.0%} lower with augmentation on the 1,000-digit subset): {verdict}; "
                  f"the best is {best}, FD {abs(gains[best]):.0%} {'lower' if gains[best] >= 0 else 'higher'} than "
                  f"none (FD change: {', '.join(f'{a} {-g:+.0%}' for a, g in gains.items())}).", ""]
    lines += [control_line(results, recipe) for recipe in recipes if summary(results, recipe, CONTROL)]
    if floors:
        lines += [f"Real digits against the full split, as the runs are measured: the 1,000 training digits themselves "
                  f"FD {fmt(floors['subset'], 3)}; {floors['n']:,} random digits of the full split FD "
                  f"{fmt(floors['full_n'], 3)} (the floor of a {floors['n']:,}-sample evaluation; a little "
                  "optimistic, as they are among the reference digits).", ""]
    lines += ["The papers' rows (FID, Inception features; not comparable with lenet FD, only the relative gain is):", "",
              table(["method", "setting", "FID without", "FID with", "change"],
                    [[m, s, f"{a:.2f}", f"{b:.2f}", f"{b / a - 1:+.0%}"] for m, s, a, b in PAPERS], right_from=2), ""]
    if "curve" in figs:
        lines += ["FD over training (1,000 samples every twentieth of the run, seed 0) beside D's real/fake gap "
                  "(mean D(x) − D(G(z)) per log interval, from metrics.jsonl): where the un-augmented "
                  "discriminator over-fits, its gap widens and FD stops improving or rises.", "",
                  f"![FD over training]({rel(figs['curve'])})", ""]
    ada = next((r for r in results if r["recipe"] == recipes[0] and r["set"] == "mnist-1000" and r["augment"] == "ada"
                and r["seed"] == 0), None)
    if "ada" in figs and ada:
        m = [v for v in metrics_rows(Path(ada["run"])) if "ada_p" in v]
        lines += [f"ADA's p beside r_t on the 1,000 digits (seed 0): p ends at {m[-1]['ada_p']:.3f} "
                  f"(max {max(v['ada_p'] for v in m):.3f}), r_t at {m[-1]['ada_rt']:.2f}; {leak_line(results)} "
                  "p is saved in checkpoints; an exact resume restores it (tests/test_augment.py).", "",
                  f"![ADA p and r_t]({rel(figs['ada'])})", ""]
    if mem:
        lines += ["**100 digits** (10 per class of the test split): 64 samples of each run, and the nearest-"
                  "training-image check (`gankit.analysis.memorization`; ratio = median distance sample → nearest "
                  "training image ÷ training image → nearest other training image; well below 1 means copies; "
                  "pixel and lenet-feature spaces, 200 samples).", ""]
        lines += [table(["augment", "pixels ratio", "lenet ratio", "samples", "nearest training images"],
                        [[a, fixed(v["pixels"]["ratio_median"]), fixed(v["lenet"]["ratio_median"]),
                          f"![{a}]({rel(v['grid'])})", f"![{a} nearest]({rel(v['nearest'])})"]
                         for a, v in mem.items()]), ""]
        ada100 = next((r for r in results if r["recipe"] == recipes[0] and r["set"] == "mnist-100"
                       and r["augment"] == "ada"), None)
        if ada100:
            m = [v for v in metrics_rows(Path(ada100["run"])) if "ada_p" in v]
            lines += [f"ADA's p on the 100 digits peaked at {max(v['ada_p'] for v in m):.2f} (ends "
                      f"{m[-1]['ada_p']:.2f}); non-leaking needs p < 0.8 (Karras et al. 2020, Sec. 2.2): "
                      "look for rotated or flipped digits in its grid.", ""]
    base = cost["none"]
    lines += [f"Cost of augmentation (one D step + one G step, batch 64 on 1,000 MNIST digits, DCGAN width 32, best "
              f"of 3 interleaved rounds of 30 steps): none {base * 1000:.1f} ms, "
              + ", ".join(f"{a} {v * 1000:.1f} ms ({(v - base) / base:+.0%})" for a, v in cost.items() if a != "none")
              + ".", "", f"Total benchmark time {total_s / 60:.0f} min."]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
