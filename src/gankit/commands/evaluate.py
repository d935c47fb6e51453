"""``gankit evaluate RUN``: FID / KID / IS / PR / DC / mode metrics into RUN/eval.json and eval.md."""
from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="measure a trained run (FID, KID, IS, precision/recall, modes)",
        description="Sample a run's generator, extract features once, and compare them with the run's "
                    "training data (reference features cached per dataset/split/size/extractor). "
                    "Writes RUN/eval.json and RUN/eval.md. 2-D toy runs get the mode metrics instead.")
    p.add_argument("run", help="run directory (from gankit train)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated subset of fid,kid,cmmd,is,pr,modes (default: all that apply; "
                        "pr = precision/recall k=3 and density/coverage k=5)")
    p.add_argument("--n", "--num-samples", dest="n", type=int, default=10_000,
                   help="generated samples (default 10000; spell it --num-samples under torchrun, whose "
                        "own parser takes --n for one of its options)")
    p.add_argument("--seed", type=int, default=0, help="noise seed for the samples")
    p.add_argument("--evaluator", default=None, metavar="PATH",
                   help="evaluator folder from `gankit train-evaluator` (lenet features and classes)")
    p.add_argument("--extractor", default="lenet", choices=("lenet", "inception", "pixels", "dinov2", "clip"),
                   help="feature space (default lenet, which needs --evaluator); dinov2: FD-DINOv2 "
                        "(ViT-L/14), clip: CLIP ViT-L/14@336px for CMMD (both need --weights or --download-weights)")
    p.add_argument("--inception-weights", default=None, metavar="PATH",
                   help="pt_inception-2015-12-05 weights for --extractor inception")
    p.add_argument("--is-logits", default="unbiased", choices=("unbiased", "biased"),
                   help="Inception Score logits: unbiased pool3·Wᵀ (default; Salimans et al.'s code, "
                        "torch-fidelity) or fc with bias")
    p.add_argument("--resize", default="legacy-pytorch-fid", choices=("legacy-pytorch-fid", "clean"),
                   help="resize into Inception: pytorch-fid's bilinear (default) or clean-fid's 'clean' bicubic")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="weights file of the dinov2 / clip extractor")
    p.add_argument("--download-weights", action="store_true",
                   help="download the inception / dinov2 / clip weights (checked against their SHA-256) into "
                        "the cache ($GANKIT_WEIGHTS or ~/.cache/gankit/weights); needs internet once")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="reference feature cache (default $GANKIT_CACHE or ~/.cache/gankit/stats)")
    p.add_argument("--n-ref", type=int, default=50_000, help="at most this many real images (default 50000)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-ema", action="store_true", help="evaluate the raw generator, not its EMA")
    p.add_argument("--json", action="store_true", help="print eval.json instead of the summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..metrics.evaluate import EvalOptions, evaluate_run

    options = EvalOptions(metrics=args.metrics, n=args.n, seed=args.seed, extractor=args.extractor,
                          evaluator=args.evaluator, inception_weights=args.inception_weights,
                          cache_dir=args.cache_dir, n_ref=args.n_ref, ema=not args.no_ema,
                          device=args.device, batch_size=args.batch_size, is_logits=args.is_logits,
                          resize=args.resize, weights=args.weights, download=args.download_weights)
    result = evaluate_run(args.run, options)
    for warning in result.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for key, value in result["metrics"].items():
        print(f"{key:20s} {value:.6g}" if isinstance(value, float) else f"{key:20s} {value}")
    for key, why in result.get("skipped", {}).items():
        print(f"{key:20s} skipped: {why}")
    print(f"wrote {args.run}/eval.json and eval.md (earlier results kept in {args.run}/evals/)")
    return 0
