"""``gankit train-evaluator``: train the LeNet evaluator used by offline ``gankit evaluate``."""
from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-evaluator", help="train the LeNet classifier whose features and classes gankit evaluate uses",
        description="Train a LeNet-style classifier on a labelled image dataset, report its accuracy on a "
                    "seeded held-out part, and save it (model.safetensors + config.json) into --out.")
    p.add_argument("--data", default="mnist", help="labelled image dataset (mnist, fashion-mnist, digits, ...)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--split", default="train", choices=("train", "test", "all"))
    p.add_argument("--image-size", type=int, default=None, help="resize (default: the dataset's own size)")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=False,
                   help="allow torchvision to download absent files (default: no)")
    p.add_argument("--out", required=True, help="folder to write the evaluator into")
    p.add_argument("--held-out", type=float, default=0.2,
                   help="held-out part: a fraction (< 1) or a number of images (default 0.2)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images (quick checks)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=32, help="channels of the first conv (the second has 2x)")
    p.add_argument("--hidden", type=int, default=128, help="feature dimension (first FC layer)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-accuracy", type=float, default=0.0,
                   help="exit with status 1 when the held-out accuracy is below this")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..metrics.lenet import train_evaluator

    report = train_evaluator(
        data=args.data, data_root=args.data_root, split=args.split, image_size=args.image_size,
        download=args.download, out=args.out, held_out=args.held_out, limit=args.limit, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, width=args.width, hidden=args.hidden, seed=args.seed,
        log=lambda e, loss, acc: print(f"epoch {e}: loss {loss:.4f}, held-out accuracy {acc:.4f}",
                                       file=sys.stderr))
    print(f"held-out accuracy {report['held_out_accuracy']:.4f} on {report['held_out_size']} images "
          f"({report['train_size']} trained on, {report['train_time_s']:.0f}s); saved to {args.out}")
    if report["held_out_accuracy"] < args.min_accuracy:
        print(f"gankit: error: held-out accuracy below --min-accuracy {args.min_accuracy}", file=sys.stderr)
        return 1
    return 0
