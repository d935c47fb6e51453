"""``gankit analyze <what>``: the figures of the GAN papers and tutorials, each a command that
draws the picture and checks the claim, writing PNG/GIF files and ``<what>.json`` into ``--out``.

    optimal-d     trained D vs D* = p_data/(p_data+p_g) on 1-D densities (Goodfellow 2014, Prop. 1)
    game-value    V(G, D*) = 2 JSD(p_data || p_g) - log 4 by integration (Theorem 1)
    saturation    minimax vs non-saturating G cost, and G's gradient norm on real runs (Sec. 3)
    toy1d         the 1-D training animation (Fig. 1)
    interpolate   linear / spherical latent paths of a run (DCGAN Sec. 6.1); class grid (conditional)
    arithmetic    latent vector arithmetic A - B + C (DCGAN Sec. 6.3)
    memorization  nearest training images of samples, pixels and features (Goodfellow 2014, Fig. 2)
    collapse      samples over training: toy scatters with modes, or class histograms
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path



def register(subparsers) -> None:
    p = subparsers.add_parser("analyze", help="reproduce the GAN papers' analysis figures (writes PNG/GIF + JSON)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True, metavar="WHAT")

    def add(name, help, run_arg=False, train_flags=False, description=None):
        q = sub.add_parser(name, help=help, description=description or help,
                           conflict_handler="resolve" if train_flags else "error")
        if train_flags:
            from ._flags import add_config_flags

            q.add_argument("--config", default=None, help="YAML/JSON config file or preset name to start from")
            add_config_flags(q)  # every TrainConfig key as a flag (--steps, --lr, --data-root, ...)
        if run_arg:
            q.add_argument("run", help="a run directory trained with gankit")
            q.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
        q.add_argument("--out", default=f"analysis/{name}", help="folder for the figures and JSON "
                       f"(default analysis/{name})")
        q.set_defaults(func=_run, what=name)
        return q

    q = add("optimal-d", "train D on fixed 1-D p_data, p_g and compare it with D*")
    q.add_argument("--pairs", nargs="+", default=["gaussians", "mixture"], help="gaussians, mixture, equal")
    q.add_argument("--d-steps", type=int, default=2000, help="D's training steps (default 2000)")
    q.add_argument("--batch-size", type=int, default=2048)
    q.add_argument("--seed", type=int, default=0)

    q = add("game-value", "check V(G, D*) = 2 JSD - log 4 by numerical integration")
    q.add_argument("--pairs", nargs="+", default=["gaussians", "mixture", "equal"])

    q = add("saturation", "G's cost and gradient under minimax vs non-saturating; gradient norms on real runs",
            train_flags=True, description="Plot log(1 - D) and -log D and their gradients, then train the same "
            "config under minimax and under nonsaturating (same seed, D pre-trained --pretrain-d steps) and record "
            "G's gradient norm after every step. Training flags as in `gankit train`; defaults: --model mlp "
            "--data digits --optimizer sgd --lr 0.01 --steps 200. Runs go to OUT/runs/<objective>.")
    q.add_argument("--pretrain-d", type=int, default=50,
                   help="D steps before G's first step, so that D rejects G as early in training (default 50)")
    q.add_argument("--curves-only", action="store_true", help="only the analytic curves, no training")

    q = add("toy1d", "animate p_data, p_g and D while a 1-D GAN trains (GIF)")
    q.add_argument("--density", default="gaussian", help="1-D p_data: gaussian N(2, 0.5²) or bimodal")
    q.add_argument("--loss", default="nonsaturating")
    q.add_argument("--steps", type=int, default=3000)
    q.add_argument("--every", type=int, default=150, help="steps between frames")
    q.add_argument("--lr", type=float, default=5e-4, help="G's learning rate (D's is 4x)")
    q.add_argument("--seed", type=int, default=0)

    q = add("interpolate", "linear and spherical latent interpolation (grid + GIF); class grid", run_arg=True)
    q.add_argument("--method", choices=("linear", "slerp", "both"), default="both")
    q.add_argument("--paths", type=int, default=8)
    q.add_argument("--steps", type=int, default=10, help="points along each path")
    q.add_argument("--label", type=int, default=None, help="conditional models: one class for every path")
    q.add_argument("--seed", type=int, default=0)

    q = add("arithmetic", "latent vector arithmetic A - B + C", run_arg=True)
    for g in "abc":
        q.add_argument(f"--{g}", required=True, metavar="SPEC",
                       help=f"group {g.upper()}: pool indices (e.g. 3,17,40) or label=K (needs --evaluator)")
    q.add_argument("--pool", type=int, default=256, help="samples drawn to choose from (see pool.png)")
    q.add_argument("--per-group", type=int, default=3, help="exemplars per group chosen by label")
    q.add_argument("--results", type=int, default=8, help="result z plus noisy variants")
    q.add_argument("--noise", type=float, default=0.25, help="uniform noise on the variants (DCGAN: 0.25)")
    q.add_argument("--evaluator", default=None, help="LeNet evaluator folder (gankit train-evaluator)")
    q.add_argument("--label", type=int, default=None, help="conditional models: the class to render")
    q.add_argument("--seed", type=int, default=0)

    q = add("memorization", "nearest training image of each sample, in pixel and feature space", run_arg=True)
    q.add_argument("--samples", type=int, default=1000, help="samples measured (the figure shows --show)")
    q.add_argument("--show", type=int, default=24)
    q.add_argument("--evaluator", default=None,
                   help="LeNet evaluator folder for the feature space (default: 7x7 downsampled pixels)")
    q.add_argument("--data-root", default=None, help="override the run's data_root")
    q.add_argument("--seed", type=int, default=0)

    q = add("collapse", "samples over training: toy scatters with mode centres, or class histograms",
            train_flags=True, description="Train a config (flags as in `gankit train`; default: the mlp-ring "
            "setup for 2000 steps) and every --every steps sample fixed noise: a scatter with the mode centres "
            "and the modes captured (toy sets), or the class histogram from --evaluator (labelled images). "
            "The run goes to OUT/run.")
    q.add_argument("--every", type=int, default=None, help="steps between snapshots (default: steps / 10)")
    q.add_argument("--samples", type=int, default=2000, help="samples per snapshot")
    q.add_argument("--evaluator", default=None, help="LeNet evaluator folder (needed for image data)")


def _run(args) -> int:
    from ..errors import GankitError
    from ..utils.io import write_json

    out = Path(args.out)  # created by the first file written: bad input leaves nothing behind
    try:
        result = ANALYSES[args.what](args, out)
    except ValueError as e:  # bad user input caught by the analysis functions
        raise GankitError(str(e)) from None
    path = write_json(out / f"{args.what}.json", result)
    for figure in figures(result):
        print(f"wrote {figure}")
    print(f"wrote {path}", file=sys.stderr)
    return 0


def figures(result) -> list[str]:
    """The PNG / GIF files an analysis result names (at any depth), in order, each once."""
    found: list[str] = []
    stack = [result]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            stack[:0] = list(item.values())
        elif isinstance(item, list):
            stack[:0] = item
        elif isinstance(item, str) and item.endswith((".png", ".gif")) and item not in found and Path(item).is_file():
            found.append(item)
    return found


def _pairs(names):
    from ..analysis.theory import PAIRS
    from ..errors import GankitError

    bad = [n for n in names if n not in PAIRS]
    if bad:
        raise GankitError(f"unknown density pair {bad[0]!r}; choose from: {', '.join(PAIRS)}")
    return {n: PAIRS[n] for n in names}


def _optimal_d(args, out):
    from ..analysis import theory

    if args.d_steps < 1 or args.batch_size < 1:
        raise ValueError("--d-steps and --batch-size must be >= 1")
    result = theory.optimal_d_report(_pairs(args.pairs), out, args.d_steps, args.batch_size, args.seed)
    for name in args.pairs:
        err = result[name]
        print(f"{name}: max |D - D*| = {err['max_abs_error']:.4f}, mean {err['mean_abs_error']:.4f}")
    return result


def _game_value(args, out):
    from ..analysis import theory

    result = theory.game_value_report(_pairs(args.pairs), out)
    for name, r in result["pairs"].items():
        print(f"{name}: V(G, D*) = {r['value']:.6f}, 2 JSD - log 4 = {r['two_jsd_minus_log4']:.6f} "
              f"(JSD {r['jsd']:.6f}; Monte Carlo {r['jsd_monte_carlo']:.4f} ± {r['jsd_monte_carlo_stderr']:.4f})")
    return result


def _train_config(args, defaults: dict):
    from ._flags import config_from_flags

    return config_from_flags(args, args.config, defaults, exclude=("out",))


def _saturation(args, out):
    from ..analysis import saturation
    from ..training import Trainer

    cfg = None if args.curves_only else _train_config(args, {
        "model": "mlp", "data": "digits", "optimizer": "sgd", "lr": 0.01, "steps": 200, "tensorboard": False,
        "progress": False})
    result = saturation.report(Trainer, cfg, out, pretrain_d=args.pretrain_d)
    for name, s in result.get("summary", {}).items():
        if isinstance(s, dict):
            print(f"{name}: ||grad_G|| step 1 {s['grad_norm_step_1']:.4g}, first 10 {s['grad_norm_first_10']:.4g}, "
                  f"mean {s['grad_norm_mean']:.4g}; D(G(z)) first 10 {s['d_fake_first_10']:.3f}")
    return result


def _toy1d(args, out):
    from ..analysis import toy1d
    from ..errors import GankitError
    from ..training import Trainer

    if args.density not in toy1d.DATA_1D:
        raise GankitError(f"unknown --density {args.density!r}; choose from: {', '.join(toy1d.DATA_1D)}")
    if args.every < 1:
        raise GankitError("--every must be >= 1")
    cfg = toy1d.default_config(loss=args.loss, steps=args.steps, lr=args.lr, lr_d=4 * args.lr, seed=args.seed)
    result = toy1d.animate(Trainer, toy1d.DATA_1D[args.density], out, cfg, every=args.every)
    last = result["frames"][-1]
    print(f"step {last['step']}: JSD(p_data || p_g) = {last['jsd']:.4f} (from {result['frames'][0]['jsd']:.4f})")
    return result


def _load(args):
    from ..pretrained import load
    from ..runs import Run

    Run(args.run).require_noise_generator(f"gankit analyze {args.what}")
    return load(args.run, ema=not args.no_ema)


def _interpolate(args, out):
    from ..analysis import latent

    if args.paths < 1 or args.steps < 2:
        raise ValueError("--paths must be >= 1 and --steps >= 2")
    G = _load(args)
    _need_images(G, "interpolate")
    if args.label is not None and not 0 <= args.label < G.num_classes:
        raise ValueError(f"--label needs a conditional generator and a class in [0, {G.num_classes}); "
                         f"{args.run} has {G.num_classes or 'no'} classes")
    methods = ("linear", "slerp") if args.method == "both" else (args.method,)
    result = {"run": str(args.run), "interpolations": [latent.save_interpolation(
        G, out, args.paths, args.steps, m, args.seed, args.label) for m in methods]}
    if G.num_classes:
        result["class_grid"] = latent.class_grid(G, out / "class-grid.png", n_rows=args.paths, seed=args.seed)
    return result


def _need_images(G, what):
    from ..errors import GankitError

    if G.data_spec.kind != "image":
        raise GankitError(f"analyze {what} needs an image generator; this run makes {G.data_spec.kind}")


def _group(spec: str):
    from ..errors import GankitError

    try:
        if spec.startswith("label="):
            return int(spec[6:])
        return [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise GankitError(f"bad group {spec!r}: give pool indices like 3,17,40 or label=K") from None


def _classifier(args, G):
    from ..analysis._evaluator import load_classifier

    return load_classifier(args.evaluator, G.data_spec.shape[-1], G.data_spec.shape[0])


def _arithmetic(args, out):
    from ..analysis import latent
    from ..errors import GankitError

    G = _load(args)
    _need_images(G, "arithmetic")
    groups = {g: _group(getattr(args, g)) for g in "abc"}
    classifier = None
    if args.evaluator:
        classifier = _classifier(args, G)[0]
    elif any(isinstance(v, int) for v in groups.values()):
        raise GankitError("label=K groups need --evaluator DIR (a LeNet from `gankit train-evaluator`)")
    result = latent.vector_arithmetic(G, groups, out, pool=args.pool, seed=args.seed, per_group=args.per_group,
                                      n_results=args.results, noise=args.noise, classifier=classifier,
                                      label=args.label)
    print(f"A={result['groups']['A']} B={result['groups']['B']} C={result['groups']['C']} -> {result['png']}")
    return {"run": str(args.run), **result}


def _memorization(args, out):
    from ..analysis import memorization
    from ..data import training_data

    G = _load(args)
    _need_images(G, "memorization")
    cfg = G.config.replace(download=False, **({"data_root": args.data_root} if args.data_root else {}))
    train = training_data(cfg).all_images()  # what the run trained on (its --train-subset)
    samples = G.sample(args.samples, seed=args.seed).cpu()
    spaces = {"pixels": memorization.pixels}
    if args.evaluator:
        spaces["lenet"] = _classifier(args, G)[1]
    else:
        spaces["downsampled7"] = memorization.downsampled(7)
    result = memorization.memorization_check(samples, train.to(samples.dtype), out, spaces, n_show=args.show)
    for name, s in result["spaces"].items():
        print(f"{name}: median distance sample -> nearest training image {s['sample_to_train_median']:.3f}, "
              f"training image -> nearest other {s['train_to_other_train_median']:.3f} (ratio {s['ratio_median']:.2f})")
    return {"run": str(args.run), "data": cfg.data, "split": cfg.split, **result}


def _collapse(args, out):
    from ..analysis.collapse import CollapseRecorder
    from ..data import load_dataset
    from ..errors import GankitError
    from ..training import Trainer

    cfg = _train_config(args, {"model": "mlp", "data": "ring", "z_dim": 2, "g_hidden": [128, 128, 128],
                               "d_hidden": [128, 128, 128], "dropout": 0.0, "steps": 2000, "batch_size": 256,
                               "lr": 1e-4, "tensorboard": False, "progress": False})
    data = load_dataset(cfg)
    classifier = None
    if data.spec.kind == "image":
        if not args.evaluator:
            raise GankitError("collapse on image data needs --evaluator DIR (a LeNet from `gankit train-evaluator`)")
        from ..analysis._evaluator import load_classifier

        classifier = load_classifier(args.evaluator, data.spec.shape[-1], data.spec.shape[0])[0]
    trainer = Trainer(cfg, out / "run", data=data, overwrite=True)
    every = args.every or max(1, trainer.total_steps // 10)
    recorder = CollapseRecorder(every, args.samples, classifier, max(trainer.spec.num_classes, 1), cfg.seed)
    recorder.record(trainer)  # step 0
    trainer.callbacks.append(recorder)
    trainer.train()
    result = {"config": cfg.to_dict(), **recorder.save(out)}
    last = result["records"][-1]
    if "modes" in last:
        print(f"step {last['step']}: {last['modes']}/{last['num_modes']} modes, high quality {last['high_quality']:.3f}")
    elif "kl_to_uniform" in last:
        print(f"step {last['step']}: KL(classes || uniform) {last['kl_to_uniform']:.4f}, "
              f"{last['classes_present']} classes")
    return result


#: ``gankit analyze WHAT`` -> the function that runs it and returns its JSON result
ANALYSES = {"optimal-d": _optimal_d, "game-value": _game_value, "saturation": _saturation, "toy1d": _toy1d,
            "interpolate": _interpolate, "arithmetic": _arithmetic, "memorization": _memorization,
            "collapse": _collapse}
