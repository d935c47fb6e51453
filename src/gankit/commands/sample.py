"""``gankit sample RUN``: draw samples from a trained run into a PNG grid (or a scatter for 2-D data)."""
from __future__ import annotations


#: the most samples ``gankit sample`` draws into one grid or scatter
MAX_SAMPLES = 10_000
#: image formats of the grid (PIL) and scatter (matplotlib) writers that both support
OUT_SUFFIXES = (".png", ".jpg", ".jpeg")


def register(subparsers) -> None:
    s = subparsers.add_parser("sample", help="draw samples from a trained run into a PNG grid")
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
    s.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import GankitError
    from ..pretrained import load
    from ..runs import Run
    from ..utils.images import save_image_grid, save_scatter

    out = Path(args.out)
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise GankitError(f"--out {out}: gankit writes {', '.join(OUT_SUFFIXES)} files; name the output e.g. "
                          f"samples.png")
    if args.n > MAX_SAMPLES:
        raise GankitError(f"-n must be <= {MAX_SAMPLES} for one grid (got {args.n:,}); for many samples use the "
                          f"Python API (gankit.load(RUN).sample) in batches")
    if args.seed is not None and not 0 <= args.seed <= 2**63 - 1:
        raise GankitError(f"--seed must be an integer in [0, {2**63 - 1}] (got {args.seed})")
    Run(args.run).require_noise_generator("gankit sample" + (" --drs" if args.drs else ""))
    if args.drs:
        x, G = _drs_samples(args)
    else:
        G = load(args.run, ema=not args.no_ema, device=args.device)
        try:
            x = G.sample(args.n, labels=args.label, seed=args.seed)
        except ValueError as e:
            raise GankitError(f"{e} (run {args.run})") from None
    if G.data_spec.kind == "points":
        save_scatter(x, out, title=f"{args.n} samples")
    else:
        save_image_grid(x, out)
    print(f"wrote {args.n} samples to {out}")
    return 0


def _drs_samples(args):
    """Discriminator rejection sampling (gankit.sampling) for ``gankit sample --drs``."""
    from ..errors import GankitError
    from ..pretrained import load
    from ..sampling import run_sampler

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
