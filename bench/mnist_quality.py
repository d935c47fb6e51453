"""MNIST (test split) quality by model and objective (issue 5, part 3).

    OMP_NUM_THREADS=1 python -m bench mnist_quality [--quick] [--steps N] [--models mlp,dcgan]
        [--objectives nonsaturating,hinge] [--evaluator DIR] [--data-root DIR] [--no-write]

Trains every model (mlp, dcgan, cgan, acgan: the ``<model>-mnist`` presets; acgan-eq3: AC-GAN with
D's class loss on generated samples too, Odena et al. 2017, Eq. 3) with every main
objective for the same number of generator steps, one run after the other in this process,
and evaluates each with ``gankit.metrics.evaluate_run`` and the LeNet MNIST evaluator:
10,000 samples (EMA generator) against the 10,000 real digits, domain FID and KID on the
evaluator's 128-D features, precision/recall (Kynkäänniemi et al. 2019, k=3), density/coverage
(Naeem et al. 2020, k=5), classes seen and class KL, and for cgan/acgan the share of samples
the classifier puts in the requested class (target >= 95%). Only the MNIST *test* split
(10,000 digits) is available offline: the runs train on it and are measured against it.
Writes the table into docs/benchmarks.md (its own section) and one sample grid per model
(its best objective by FID) to docs/images/quality-<model>.png, unless --quick or --no-write.
``--quick``: tiny widths, a few steps, 200 samples, a tiny evaluator: a smoke test (< 1 min).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

if not __package__:  # python bench/mnist_quality.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, FP32, table, write_section  # noqa: E402
from bench._quality import (QUIET, add_common_args, fixed, fmt, mnist_evaluator, opening, out_dir,  # noqa: E402
                            train_and_evaluate)

SECTION = "MNIST (test split) quality by model and objective"
#: row name -> (preset, its changes). acgan-eq3: the preset with D's class loss on generated samples too,
#: as in Odena et al. 2017, Eq. 3 (the preset: on real samples only).
MODELS = {"mlp": ("mlp-mnist", {}), "dcgan": ("dcgan-mnist", {}), "cgan": ("cgan-mnist", {}),
          "acgan": ("acgan-mnist", {}), "acgan-eq3": ("acgan-mnist", {"aux_fake": True})}
OBJECTIVES = ("nonsaturating", "hinge", "lsgan", "wgan-gp")
DEFAULT_OBJECTIVES = ("nonsaturating", "hinge", "wgan-gp")  # lsgan on request (CPU budget)
STEPS = 5000
#: The objectives' own optimiser settings. WGAN-GP: Gulrajani et al. 2017, Algorithm 1 (Adam 1e-4,
#: betas (0, 0.9)) with n_critic 2 instead of 5, to keep the run within the CPU budget.
OBJECTIVE_SETTINGS = {"wgan-gp": dict(n_critic=2, lr=1e-4, beta1=0.0, beta2=0.9)}
#: The benchmark's changes to the presets, the same for every run: convolutional widths halved
#: (64 -> 32) to fit the CPU budget, and EMA of G's weights (the evaluated generator).
COMMON = dict(g_width=32, d_width=32, batch_size=64, ema_decay=0.999, seed=0)
QUICK = dict(g_width=8, d_width=8, z_dim=16, g_hidden=[64], d_hidden=[64], batch_size=32, log_every=2)
CLASS_ACCURACY_TARGET = 0.95
METRICS = "fid,kid,is,pr,modes"


def config(model: str, objective: str, steps: int, data_root: Path, quick: bool):
    from gankit import TrainConfig

    preset, changes = MODELS[model]
    cfg = TrainConfig.from_preset(preset)
    run = dict(loss=objective, data_root=str(data_root), split="test", steps=steps, epochs=None, sample_every=steps,
               checkpoint_every=steps, keep_checkpoints=1, log_every=100, **QUIET, **FP32)
    return cfg.replace(**{**run, **changes, **COMMON, **OBJECTIVE_SETTINGS.get(objective, {}),
                          **(QUICK if quick else {})})


def save_grid(run: str, path: Path) -> Path:
    """100 samples of a run (seed 0); conditional runs: column j holds digit j."""
    import gankit
    from gankit.utils.images import save_image_grid

    G = gankit.load(run)
    labels = [i % 10 for i in range(100)] if G.num_classes else None
    return save_image_grid(G.sample(100, labels=labels, seed=0), path, nrow=10, scale=1)


def row(r: dict, best_fid: float) -> list[str]:
    cond = r.get("class_accuracy")
    kid = r.get("kid")
    return [r["model"], r["objective"], fmt(r.get("fid"), 4), "—" if kid is None else fmt(kid, 4),
            *(fixed(r.get(k)) for k in ("precision", "recall", "density", "coverage")),
            f"{r.get('classes_seen', '—')}/10", fixed(r.get("class_kl"), 3),
            "—" if cond is None else f"{100 * cond:.1f}%",
            fixed(r["fid"] / best_fid) if r.get("fid") and best_fid else "—", f"{r['train_s']:.0f}"]


HEADER = ["model", "objective", "FID", "KID", "precision", "recall", "density", "coverage", "classes",
          "class KL", "class acc.", "FID ÷ model's best", "train s"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke test; does not touch docs/")
    ap.add_argument("--steps", type=int, default=None, help=f"generator steps per run (default {STEPS}; quick 4)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--objectives", default=None, help=f"of {', '.join(OBJECTIVES)} (default "
                    f"{','.join(DEFAULT_OBJECTIVES)}; quick: nonsaturating,wgan-gp)")
    add_common_args(ap, "mnist_quality", 10000, 200)
    args = ap.parse_args(argv)
    quick = args.quick
    steps = args.steps or (4 if quick else STEPS)
    n = args.n or (200 if quick else 10_000)
    models = [m for m in args.models.split(",") if m]
    objectives = [o for o in (args.objectives or ("nonsaturating,wgan-gp" if quick else ",".join(DEFAULT_OBJECTIVES)))
                  .split(",") if o]
    bad = [m for m in models if m not in MODELS] + [o for o in objectives if o not in OBJECTIVES]
    if bad:
        ap.error(f"unknown model/objective {', '.join(bad)}; models: {', '.join(MODELS)}; "
                 f"objectives: {', '.join(OBJECTIVES)}")
    out = out_dir(args.out, "mnist_quality", quick)
    doc = None if args.no_write or (quick and args.doc is None) else (args.doc or DOCS)
    images = doc.parent / "images" if doc is not None else out
    data_root = args.data_root.resolve()

    t_start = time.perf_counter()
    evaluator, ev_text = mnist_evaluator(args.evaluator, data_root, quick)
    cache = out / "feature-cache" if quick else None
    print(f"evaluator: {ev_text}; {steps} generator steps per run; {n} samples per evaluation", flush=True)
    results = []
    for model in models:
        for objective in objectives:
            cfg = config(model, objective, steps, data_root, quick)
            r = train_and_evaluate(cfg, out / f"{model}-{objective}", evaluator, n=n, metrics=METRICS,
                                   cache_dir=cache, reuse=args.reuse)
            r.update(model=model, objective=objective, n_critic=cfg.n_critic)
            results.append(r)
            print(f"{model:6s} {objective:14s} FID {fmt(r['fid'], 4):>6s}  precision {fmt(r['precision'], 2)}  "
                  f"recall {fmt(r['recall'], 2)}  class acc {fmt(r.get('class_accuracy'), 3)}  "
                  f"train {r['train_s']:.0f} s  eval {r['eval_s']:.0f} s", flush=True)
    total = time.perf_counter() - t_start
    best = {m: min((r for r in results if r["model"] == m and r.get("fid") is not None),
                   key=lambda r: r["fid"], default=None) for m in models}
    rows = [row(r, best[r["model"]]["fid"] if best[r["model"]] else None) for r in results]
    text = table(HEADER, rows)
    print("\n" + text + f"\n\ntotal {total / 60:.1f} min")
    (out / "results.json").write_text(json.dumps(results, indent=1))

    grids = {}
    for m, r in best.items():
        if r is not None:
            grids[m] = save_grid(r["run"], images / f"quality-{m}.png")
    if doc is not None:
        write_section(doc, SECTION, report(results, best, grids, text, steps, n, ev_text, doc, argv))
        print(f"wrote {doc} and {', '.join(str(p) for p in grids.values())}")
    return 0


def _aux_fake_lines(results) -> list[str]:
    """acgan (D classifies real digits only) beside acgan-eq3 (also the generated ones), per objective."""
    by = {(r["model"], r["objective"]): r for r in results}
    pairs = [(o, by[("acgan", o)], by[("acgan-eq3", o)]) for (m, o) in by if m == "acgan" and ("acgan-eq3", o) in by]
    if not pairs:
        return [""]
    cells = "; ".join(f"{o}: class acc. {100 * a['class_accuracy']:.1f}% vs {100 * e['class_accuracy']:.1f}%, "
                      f"FID {fmt(a['fid'], 4)} vs {fmt(e['fid'], 4)}, recall {fixed(a['recall'])} vs {fixed(e['recall'])}"
                      for o, a, e in pairs)
    return ["", "AC-GAN's discriminator classifying real digits only (`acgan`, the preset) against also classifying "
            f"the generated ones (`acgan-eq3`, Odena et al. 2017, Eq. 3): {cells}.", ""]


def report(results, best, grids, text, steps, n, ev_text, doc, argv) -> str:
    cond = [r for r in results if r.get("class_accuracy") is not None]
    reached = [r for r in cond if r["class_accuracy"] >= CLASS_ACCURACY_TARGET]
    command = "OMP_NUM_THREADS=1 python -m bench mnist_quality" + ("".join(f" {a}" for a in argv) if argv else "")
    settings = ", ".join(f"{k} {v}" for k, v in COMMON.items())
    lines = [
        *opening(command, results),
        "",
        "**Data: the MNIST *test* split (10,000 digits), the only MNIST split available offline**: every run "
        "trains on it and is measured against it (`--data-root ../shared/data/mnist --split test`).",
        "",
        f"Each model (preset `<model>-mnist`; `acgan-eq3`: the acgan preset with `aux_fake: true`, D's class "
        "loss on generated samples too, as in Odena et al. 2017, Eq. 3, where the preset trains D's classifier "
        "on real digits only) is trained with each objective for the same budget of **{steps} "
        f"generator steps** (batch 64; {steps * 64 / 10_000:.1f} epochs of the split), with {settings} for every run "
        f"(the widths of the convolutional models halved from the presets' 64 to fit the CPU budget). "
        "WGAN-GP uses its paper's optimiser (Adam 1e-4, betas (0, 0.9), λ = 10, layer norm in D) with "
        f"n_critic = {OBJECTIVE_SETTINGS['wgan-gp']['n_critic']} (the paper: 5) for the CPU budget, so its "
        "discriminator takes twice the steps of the others; every other objective uses n_critic = 1 "
        "and Adam 2e-4, betas (0.5, 0.999).",
        "",
        f"Evaluation: `gankit.metrics.evaluate_run(run, evaluator=..., n={n})` (as `gankit evaluate RUN --evaluator "
        f"DIR`): {n:,} samples of the EMA generator (conditional models: balanced requested labels) against "
        f"the 10,000 real digits. Evaluator: {ev_text}. FID and KID are computed on its 128-D features "
        "(*domain* FID: not comparable with Inception FIDs in papers, only between these rows); KID is "
        "unbiased MMD² (the polynomial kernel of Bińkowski et al. 2018 on the unnormalised LeNet features, "
        "hence its scale); precision/recall k = 3, density/coverage k = 5, on 10,000 samples and the "
        "10,000 real digits; classes = digits the classifier predicts at least once; class KL = "
        "KL(predicted histogram ‖ uniform); class acc. = share of conditional samples classified as the "
        "requested digit (target ≥ 95%). Caveat: the evaluator trained on 8,000 of the same 10,000 "
        "reference digits. FID ÷ model's best: each run's FID over the best FID of its model in this table.",
        "",
        text,
        "",
        (f"Class-accuracy target (≥ 95% for cgan/acgan): reached by {len(reached)} of {len(cond)} conditional runs"
         + (f" ({', '.join(r['model'] + '/' + r['objective'] for r in reached)})." if reached else ".")
         + (" Not reached: " + ", ".join(f"{r['model']}/{r['objective']} {100 * r['class_accuracy']:.1f}%"
                                         for r in cond if r not in reached) + "." if len(reached) < len(cond) else "")),
        *_aux_fake_lines(results),
        "Samples of each model's best objective by FID (100 samples, seed 0; conditional models: column j "
        "asks for digit j):",
        "",
    ]
    for m, p in grids.items():
        rel = Path(p).resolve().relative_to(doc.resolve().parent) if doc else p
        lines.append(f"- {m} ({best[m]['objective']}, FID {fmt(best[m]['fid'], 4)}): ![{m}]({rel.as_posix()})")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
