"""The CPU fast paths one at a time, each against its reference path in the same process.

    OMP_NUM_THREADS=1 python -m bench fast_paths [--rounds 4] [--iters 6] [--write]

* ``smallconv``: DCGAN-64 (preset dcgan64-mnist, the MNIST *test* split) training steps (one D step +
  one G step) under ``--amp bf16 --channels-last``, with the GEMM path of ``gankit.models.smallconv`` on
  and off (``smallconv.ENABLED``), and with it extended to the 8x8 layers (``MAX_POSITIONS = 64``). Two
  trainers, interleaved rounds (order reversed every other round); images per CPU-second.
* ``adam``: one Adam step over DCGAN-64's G and D parameters, NCHW and channels-last: the per-parameter
  loop (``--no-fused-adam``), PyTorch's fused kernel, and gankit's Adam (the default; the fused kernel
  on flat views), median of 9 steps taken in turn.
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


ADAM_VARIANTS = {"per-parameter loop (--no-fused-adam)": (torch.optim.Adam, {}),
                 "PyTorch's fused kernel": (torch.optim.Adam, {"fused": True}),
                 "gankit's Adam, fused (default)": (None, {"fused": True})}


def adam_ms(repeats: int = 9) -> dict[tuple[str, str], float]:
    """ms per Adam step over DCGAN-64's G and D parameters, NCHW and channels-last (as ``--channels-last``
    keeps them), for each of :data:`ADAM_VARIANTS`: the median of ``repeats`` steps, the variants
    taking turns step by step."""
    from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from gankit.training.optim import Adam

    opts, times = {}, {}
    for layout, fmt in (("NCHW", torch.contiguous_format), ("channels-last", torch.channels_last)):
        for name, (cls, kw) in ADAM_VARIANTS.items():
            torch.manual_seed(0)
            nets = [m.to(memory_format=fmt) for m in (DCGANGenerator(1, 64), DCGANDiscriminator(1, 64))]
            params = [p for m in nets for p in m.parameters()]
            for p in params:
                p.grad = torch.randn_like(p)  # randn_like keeps the parameter's layout
            opts[layout, name] = (cls or Adam)(params, 2e-4, betas=(0.5, 0.999), **kw)
            opts[layout, name].step()
            times[layout, name] = []
    for _ in range(repeats):
        for key, opt in opts.items():
            t0 = time.process_time()
            opt.step()
            times[key].append(time.process_time() - t0)
    return {key: 1e3 * statistics.median(ts) for key, ts in times.items()}


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
    loop = adam["NCHW", next(iter(ADAM_VARIANTS))]
    adam_rows = [[name, *(f"{adam[lay, name]:.1f} ({loop / adam[lay, name]:.1f}x)" for lay in ("NCHW", "channels-last"))]
                 for name in ADAM_VARIANTS]
    command = "OMP_NUM_THREADS=1 python -m bench fast_paths " + " ".join(argv if argv is not None else [])
    text = "\n".join([
        *header(command.rstrip(), "1 torch thread", f"load average {load_average()} at the end"), "",
        f"DCGAN-64 (dcgan64-mnist, batch 64) under `--amp bf16 --channels-last`: one D step + one G step per "
        f"iteration, {args.iters} timed iterations per trainer per round after one untimed, {args.rounds} "
        f"interleaved rounds, images per CPU-second (median; the ratio is the median of the per-round ratios to "
        f"oneDNN, min–max).", "",
        table(["small-spatial layers", "images/CPU-s", "× oneDNN"], rows, right_from=1), "",
        "Adam over DCGAN-64's G and D parameters: ms per step, median of 9 steps taken in turn (× the "
        "per-parameter loop on NCHW parameters); a training iteration is one D and one G step. PyTorch's fused "
        "CPU kernel copies channels-last parameters into NCHW order and back; gankit's Adam hands it flat views "
        "in the parameters' own order (`gankit.training.optim`).", "",
        table(["Adam", "NCHW parameters: ms", "channels-last parameters: ms"], adam_rows, right_from=1)])
    print("\n" + text)
    if args.write:
        write_section(DOCS, TITLE, text)


if __name__ == "__main__":
    main()
