"""Throughput of the FID Inception network's forward pass (random weights; speed does not
depend on the weight values).

    python bench/bench_features.py [--batch 50] [--iters 3] [--device cpu]

Prints one line: images per second, with the input size, batch, device and thread count.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

if not __package__:  # python bench/bench_features.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
import bench._common  # noqa: E402,F401  (makes this checkout's src/ importable)

from gankit.metrics.inception import FIDInceptionV3  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--iters", type=int, default=3, help="timed batches (after one warm-up)")
    ap.add_argument("--size", type=int, default=32, help="input side before the 299 resize")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = FIDInceptionV3().eval().requires_grad_(False).to(device)
    x = torch.rand(args.batch, 3, args.size, args.size, device=device) * 2 - 1

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    with torch.inference_mode():
        model(x)  # warm-up
        sync()
        t0 = time.perf_counter()
        for _ in range(args.iters):
            model(x)
        sync()
        dt = time.perf_counter() - t0
    n = args.batch * args.iters
    print(f"FIDInceptionV3 forward: {n / dt:.1f} images/s ({args.size}px -> 299px, batch "
          f"{args.batch}, {args.iters} batches, {device}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__})")


if __name__ == "__main__":
    main()
