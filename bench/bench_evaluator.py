"""The offline evaluator: held-out accuracy of the LeNet trained by `gankit train-evaluator`, and the
feature-extraction throughput of lenet and Inception on the CPU.

    OMP_NUM_THREADS=1 python bench/bench_evaluator.py [--mnist-root ../shared/data/mnist]
        [--save-dir /work/evaluators] [--threads 1] [--no-write]

Trains on the MNIST *test* split (the only split available offline): 8,000 images to train on,
2,000 held out (seeded), at 28x28; and on scikit-learn's digits (1,437 / 360) at 16x16. Both go
through the same function as the CLI (``gankit.metrics.lenet.train_evaluator``), with its default
hyper-parameters, so ``gankit train-evaluator --data mnist --data-root ROOT --split test
--held-out 2000 --out DIR`` recreates the MNIST evaluator exactly (same seed, one thread).
Writes the figures into docs/benchmarks.md (its own section) unless --no-write.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

if not __package__:  # python bench/bench_evaluator.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, ROOT, header, replace_section, table  # noqa: E402

from gankit.metrics.features import InceptionExtractor, LeNetExtractor  # noqa: E402
from gankit.metrics.inception import FIDInceptionV3  # noqa: E402
from gankit.metrics.lenet import load_evaluator, train_evaluator  # noqa: E402

SECTION = "## Evaluation: evaluator accuracy and feature throughput"


def throughput(extractor, images: torch.Tensor, repeats: int = 1) -> float:
    extractor.extract(images[: extractor.batch_size])  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        extractor.extract(images)
    return repeats * len(images) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist-root", default="../shared/data/mnist",
                    help="folder holding MNIST/raw/t10k-*; relative paths are from the repository root")
    ap.add_argument("--save-dir", default="/work/evaluators", help="where to keep the trained evaluators")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--inception-images", type=int, default=50)
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    save = Path(args.save_dir)
    mnist_root = Path(args.mnist_root) if Path(args.mnist_root).is_absolute() else ROOT / args.mnist_root

    rows = []
    jobs = [("MNIST (test split) 28x28", "lenet-mnist-28",
             dict(data="mnist", data_root=str(mnist_root), split="test", held_out=2000), 0.98,
             f"gankit train-evaluator --data mnist --data-root {args.mnist_root} --split test --held-out 2000 "
             f"--out {save / 'lenet-mnist-28'}"),
            ("digits (sklearn) 16x16", "lenet-digits-16", dict(data="digits", image_size=16), 0.95,
             f"gankit train-evaluator --data digits --image-size 16 --out {save / 'lenet-digits-16'}")]
    for label, name, kw, target, command in jobs:
        cfg = train_evaluator(out=save / name, **kw)
        acc = cfg["held_out_accuracy"]
        print(f"{label}: held-out accuracy {acc:.4f} ({cfg['held_out_size']} held out, {cfg['train_size']} "
              f"trained on, {cfg['train_time_s']:.0f}s) {'OK' if acc >= target else 'BELOW'} target {target}")
        rows.append((label, cfg, target, command))

    ev = load_evaluator(save / "lenet-mnist-28")
    images = torch.rand(2000, 1, 28, 28) * 2 - 1
    lenet_rate = throughput(LeNetExtractor(ev), images, repeats=2)
    torch.manual_seed(0)
    inc = InceptionExtractor(FIDInceptionV3(), identity="random")
    inc_rate = throughput(inc, images[: args.inception_images])
    print(f"features: lenet {lenet_rate:.0f} images/s, inception {inc_rate:.1f} images/s "
          f"(28x28 inputs, {torch.get_num_threads()} thread(s))")
    if args.no_write:
        return

    lines = [SECTION, "",
             *header(f"OMP_NUM_THREADS=1 python bench/bench_evaluator.py --save-dir {args.save_dir}",
                     f"{torch.get_num_threads()} torch thread(s)"), "",
             "The LeNet evaluator (`gankit train-evaluator`, defaults: width 32, 128 features, 12 epochs, "
             "Adam 2e-3 cosine, shifts of size/14 px) on a seeded held-out part. Only the MNIST *test* "
             "split (10,000 digits) is available offline, so MNIST figures train on 8,000 of it and "
             "measure on the other 2,000.", "",
             table(["data", "trained on", "held out", "held-out accuracy", "target", "training time"],
                   [[label, cfg["train_size"], cfg["held_out_size"], f"{100 * cfg['held_out_accuracy']:.2f}%",
                     f"≥ {100 * target:.0f}%", f"{cfg['train_time_s']:.0f} s"] for label, cfg, target, _ in rows]),
             "", "Feature extraction (forward pass only, random 28x28 inputs, CPU):", "",
             table(["extractor", "features", "images/s"],
                   [["lenet (evaluator above)", ev.hidden, f"{lenet_rate:.0f}"],
                    ["inception (FID Inception-v3, resized to 299x299)", 2048, f"{inc_rate:.1f}"]]), "",
             "So a 10,000-sample evaluation extracts its features in "
             f"{10_000 / lenet_rate:.1f} s with lenet and {10_000 / inc_rate / 60:.0f} min with Inception "
             "on this CPU. The evaluators were saved (outside the repository) and are recreated by:", ""]
    lines += [f"    {cmd}" for *_, cmd in rows]
    replace_section(DOCS, SECTION, "\n".join(lines))
    print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
