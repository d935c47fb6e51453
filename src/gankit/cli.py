"""The ``gankit`` command: train, sample, info, presets."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
import typing
from pathlib import Path

from .config import TrainConfig, list_presets, read_config_file
from .errors import GankitError

log = logging.getLogger("gankit")
DEFAULT_PRESET = "dcgan-digits"


# ---------------------------------------------------------------------- train
def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (``--n-critic`` for ``n_critic``); absent flags change nothing."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        t = hints[f.name]
        args = typing.get_args(t)
        base = next((a for a in args if a is not type(None)), t) if args and type(None) in args else t
        kw = dict(dest=f.name, default=argparse.SUPPRESS)
        if base is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif typing.get_origin(base) is list:
            p.add_argument(flag, type=int, nargs="+", metavar="N", **kw)
        else:
            p.add_argument(flag, type=base, metavar=f.name.upper(), **kw)


def cmd_train(args) -> int:
    from .training.trainer import Trainer, read_run_config

    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    if args.resume:
        run_dir = Path(args.resume if isinstance(args.resume, str) else flags.get("out") or "")
        if not str(run_dir):
            raise GankitError("--resume needs the run directory: --resume RUN or --resume --out RUN")
        cfg, _ = read_run_config(run_dir)
        cfg = cfg.replace(**{k: v for k, v in flags.items() if k != "out"})
    else:
        # The default job: with neither --config nor --data, start from the dcgan-digits preset.
        preset = args.config or (None if "data" in flags else DEFAULT_PRESET)
        base = read_config_file(preset) if preset else {}
        cfg = TrainConfig.from_dict({**base, **flags}, "flags")
        if not cfg.out and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise GankitError("--out is required under torchrun (every process must name the same run directory)")
        run_dir = Path(cfg.out or f"runs/{cfg.model}-{cfg.data}-{time.strftime('%Y%m%d-%H%M%S')}")
    trainer = Trainer(cfg, run_dir, resume=bool(args.resume), overwrite=args.overwrite)
    main_rank = trainer.dist.is_main  # under torchrun, rank 0 alone reports
    if main_rank:
        print(f"training {cfg.model}/{cfg.loss} on {cfg.data} ({len(trainer.data)} samples, shape "
              f"{tuple(trainer.spec.shape)}) for {trainer.total_steps} generator steps on {trainer.device} "
              f"-> {run_dir}" + (f" ({trainer.dist.world_size} processes)" if trainer.dist.enabled else ""),
              file=sys.stderr)
    result = trainer.train()
    if not main_rank:
        return 0
    state = "stopped early (signal) and saved" if result["stopped_early"] else "done"
    print(f"{state}: {result['steps']} steps in {result['wall_time_s']:.1f}s "
          f"({result['images_per_s']:.0f} images/s)")
    print(f"samples: {result['samples']}")
    print(f"report:  {result['report']}")
    return 0


# ---------------------------------------------------------------------- sample / info
def cmd_sample(args) -> int:
    from .pretrained import load
    from .utils.images import save_image_grid, save_scatter

    if args.drs:
        x, G = _drs_samples(args)
    else:
        G = load(args.run, ema=not args.no_ema, device=args.device)
        try:
            x = G.sample(args.n, labels=args.label, seed=args.seed)
        except ValueError as e:
            raise GankitError(f"{e} (run {args.run})") from None
    out = Path(args.out)
    if G.data_spec.kind == "points":
        save_scatter(x, out, title=f"{args.n} samples")
    else:
        save_image_grid(x, out)
    print(f"wrote {args.n} samples to {out}")
    return 0


def _drs_samples(args):
    """Discriminator rejection sampling (gankit.sampling) for ``gankit sample --drs``."""
    from .pretrained import load
    from .sampling import run_sampler

    if not (args.drs_percentile < 0 or 0 <= args.drs_percentile < 1):
        raise GankitError(f"--drs-percentile must be in [0, 1), or -1 for exact rejection (got {args.drs_percentile})")
    G, D = load(args.run, ema=not args.no_ema, device=args.device, discriminator=True)
    cfg = G.config
    if G.num_classes or cfg.pack > 1 or args.label is not None:
        raise GankitError(f"--drs needs an unconditional run whose D scores single samples (this run: model "
                          f"{cfg.model}, pack {cfg.pack}); sample without --drs")
    seed = 0 if args.seed is None else args.seed
    sampler = run_sampler(G, D, calibrate=args.drs_calibrate or 0, seed=seed,
                          percentile=None if args.drs_percentile < 0 else args.drs_percentile)
    x = sampler.sample(args.n, seed=seed)
    print(f"rejection sampling: accepted {100 * sampler.acceptance:.1f}% of G's samples")
    return x, G


def cmd_info(args) -> int:
    from .pretrained import load
    from .training.checkpoint import latest_checkpoint
    from .training.trainer import read_run_config

    cfg, meta = read_run_config(args.run)
    G, D = load(args.run, discriminator=True)
    last = latest_checkpoint(Path(args.run))
    rows = [json.loads(x) for x in (Path(args.run) / "metrics.jsonl").read_text().splitlines()] \
        if (Path(args.run) / "metrics.jsonl").exists() else []
    info = {
        "run": str(args.run), "model": cfg.model, "loss": cfg.loss, "data": cfg.data,
        "data_spec": meta["data_spec"], "gankit_version": meta.get("gankit_version"),
        "generator_params": sum(p.numel() for p in G.parameters()),
        "discriminator_params": sum(p.numel() for p in D.parameters()),
        "latest_checkpoint": str(last) if last else None,
        "last_metrics": rows[-1] if rows else None,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:22s} {v}")
    return 0


def cmd_presets(args) -> int:
    for name in list_presets():
        print(name)
    return 0


# ---------------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gankit", description="Generative Adversarial Networks on PyTorch.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN (default: DCGAN on the bundled digits)",
                       description="Train a GAN. Flags override the --config file (see `gankit presets`); "
                                   f"with neither --config nor --data it starts from the {DEFAULT_PRESET} preset.")
    t.add_argument("--config", help="YAML/JSON config file or preset name")
    t.add_argument("--resume", nargs="?", const=True, default=False, metavar="RUN",
                   help="continue the run in RUN (or --out) from its latest checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    add_config_flags(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid")
    s.add_argument("run")
    s.add_argument("-n", type=int, default=64)
    s.add_argument("--label", type=int, default=None, help="class for conditional models")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    s.add_argument("--drs", action="store_true", help="discriminator rejection sampling (Azadi et al. 2019): "
                   "keep G's samples with the probability D's density ratio gives them")
    s.add_argument("--drs-percentile", type=float, default=0.95, metavar="Q",
                   help="--drs: gamma is this quantile of F per batch (default 0.95); -1: exact (gamma 0)")
    s.add_argument("--drs-calibrate", type=int, default=0, metavar="STEPS",
                   help="--drs: first train D this many steps against the frozen G (default 0)")
    s.add_argument("--device", default="cpu")
    s.add_argument("--out", default="samples.png")
    s.set_defaults(func=cmd_sample)

    i = sub.add_parser("info", help="describe a run directory")
    i.add_argument("run")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    pr = sub.add_parser("presets", help="list the bundled config presets")
    pr.set_defaults(func=cmd_presets)

    from . import commands

    for module in commands.modules():
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    if getattr(args, "n", 1) is not None and getattr(args, "n", 1) < 1:
        print("gankit: error: -n must be >= 1", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
