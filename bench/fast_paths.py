"""The CPU fast paths one at a time, each against its reference path in the same process.

    OMP_NUM_THREADS=1 python -m bench fast_paths [--rounds 4] [--iters 6] [--write]

* ``smallconv``: DCGAN-64 (preset dcgan64-mnist, the MNIST *test* split) training steps (one D step +
  one G step) under ``--amp bf16 --channels-last``, with the GEMM path of ``gankit.models.smallconv`` on
  and off (``smallconv.ENABLED``), and with it extended to the 8x8 layers (``MAX_POSITIONS = 64``). Two
  trainers, interleaved rounds (order reversed every other round); images per CPU-second.
* ``adam``: one Adam step over DCGAN-64's G and D parameters, fused (the default) against the
  per-parameter loop (``--no-fused-adam``), median of 9.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from bench._common import DOCS, MNIST_ROOT, header, load_average, table, write_section
from bench._speed import preset_config

TITLE = "CPU fast paths, one at a time (bf16 GEMM convolutions, fused Adam)"


def smallconv_rounds(rounds: int, iters: int, data_root: str) -> dict[str, list[float]]:
    from gankit import Trainer
    from gankit.models import smallconv

    cfg = preset_config("dcgan64-mnist", data_root, seed=0, steps=10 ** 6, amp="bf16", channels_last=True)
    settings = {"oneDNN (off)": (False, 16), "GEMM at ≤ 4x4 (default)": (True, 16), "GEMM at ≤ 8x8": (True, 64)}
    trainers = {k: Trainer(cfg, tempfile.mkdtemp(prefix="gankit-fast-") + "/run", overwrite=True) for k in settings}
    rates: dict[str, list[float]] = {k: [] for k in settings}
    try:
        for r in range(rounds):
            for k in (list(settings) if r % 2 == 0 else list(settings)[::-1]):
                smallconv.ENABLED, smallconv.MAX_POSITIONS = settings[k]
                t = trainers[k]
                t.d_step(), t.g_step()
                t0 = time.process_time()
                for _ in range(iters):
                    t.d_step(), t.g_step()
                rates[k].append(cfg.batch_size * iters / (time.process_time() - t0))
                print(f"round {r + 1}: {k}: {rates[k][-1]:.1f} images/CPU-s", flush=True)
    finally:
        smallconv.ENABLED, smallconv.MAX_POSITIONS = True, 16
        for t in trainers.values():
            t.close()
    return rates


def adam_ms() -> dict[str, float]:
    from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator

    out = {}
    for name, kw in (("per-parameter loop (--no-fused-adam)", {}), ("fused (default)", {"fused": True})):
        torch.manual_seed(0)
        params = [*DCGANGenerator(1, 64).parameters(), *DCGANDiscriminator(1, 64).parameters()]
        for p in params:
            p.grad = torch.randn_like(p)
        opt = torch.optim.Adam(params, 2e-4, betas=(0.5, 0.999), **kw)
        opt.step()
        ts = []
        for _ in range(9):
            t0 = time.process_time()
            opt.step()
            ts.append(time.process_time() - t0)
        out[name] = 1e3 * statistics.median(ts)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench fast_paths", description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--iters", type=int, default=6, help="timed iterations per trainer per round")
    ap.add_argument("--data-root", default=str(MNIST_ROOT))
    ap.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rates = smallconv_rounds(args.rounds, args.iters, args.data_root)
    base = rates["oneDNN (off)"]
    rows = []
    for k, rs in rates.items():
        ratios = [a / b for a, b in zip(rs, base)]
        rows.append([k, f"{statistics.median(rs):.1f}", f"**{statistics.median(ratios):.2f}** "
                     f"({min(ratios):.2f}–{max(ratios):.2f})"])
    adam = adam_ms()
    loop, fused = adam.values()
    command = "OMP_NUM_THREADS=1 python -m bench fast_paths " + " ".join(argv if argv is not None else [])
    text = "\n".join([
        *header(command.rstrip(), "1 torch thread", f"load average {load_average()} at the end"), "",
        f"DCGAN-64 (dcgan64-mnist, batch 64) under `--amp bf16 --channels-last`: one D step + one G step per "
        f"iteration, {args.iters} timed iterations per trainer per round after one untimed, {args.rounds} "
        f"interleaved rounds, images per CPU-second (median; the ratio is the median of the per-round ratios to "
        f"oneDNN, min–max).", "",
        table(["small-spatial layers", "images/CPU-s", "× oneDNN"], rows, right_from=1), "",
        f"Adam over DCGAN-64's G and D parameters (one step, median of 9): per-parameter loop {loop:.1f} ms, fused "
        f"{fused:.1f} ms (**{loop / fused:.1f}x**); per training iteration that is one D and one G step."])
    print("\n" + text)
    if args.write:
        write_section(DOCS, TITLE, text)


if __name__ == "__main__":
    main()
