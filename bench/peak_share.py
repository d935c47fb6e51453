"""How much of the machine's matmul peak DCGAN-64 training reaches, fp32 and bf16 (issue 23, item 1).

    OMP_NUM_THREADS=1 python -m bench peak_share [--preset dcgan64-mnist] [--rounds 4] [--iters 4] [--write] [--quick]

Issue 23's first target is stated as a share of the machine: bf16 training at >= 50% of the measured
bf16 matmul peak (on the Sapphire-Rapids-class Xeon it was filed on: DCGAN-64 >= 150 images/s on one
thread). This benchmark measures both sides of that ratio in one process, on whatever CPU runs it:

* the peak: the best of 5 square matrix products (4096 x 4096, one thread) in fp32 and in bf16;
* the work: the FLOPs of one training iteration (one D step + one G step of dcgan64-mnist, batch 64),
  counted with FlopCounterMode's formulas (``torch.utils.flop_counter``; convolutions and matrix
  products, forward and backward: what the peak is a peak of);
* the rate: images per CPU-second of that iteration for main.py's algorithm in fp32
  (bench/reference_loop.py: pytorch/examples' dcgan update on the same networks), gankit's fp32
  default, ``--channels-last``, that with ``--reuse-fake``, ``--amp bf16 --channels-last``, and that
  with ``--reuse-fake``; all side by side in this process, interleaved rounds (order reversed every
  other round), median over rounds with min-max.

Achieved GFLOP/s = FLOPs per iteration x iterations per CPU-second; share = achieved / peak of the
variant's dtype. The share is of the whole iteration (batch norm, activations and Adam count as
time but not as FLOPs), so it is a lower bound on the convolutions' own share (and a convolution can
run a little above a 4096 x 4096 product's rate). For issue 23's second target (fp32 >= 1.3x main.py)
the section states the rate that 1.3x would take as a share of the fp32 peak.
``--preset`` measures another image preset the same way (issue 23 asks for the 28x28 and r3gan
presets too), in a section of its own: a DCGAN preset with all the rows above, any other (r3gan-mnist)
with gankit's fp32, fp32 + channels-last and bf16 + channels-last (main.py's algorithm is DCGAN's).
``--quick``: one round, one iteration, small matrices: a smoke test; writes nothing.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

if not __package__:  # python bench/peak_share.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, MNIST_ROOT, bench_command, header, load_average, table, write_section  # noqa: E402
from bench._speed import interleaved_rates, preset_config  # noqa: E402

LOOP = "main.py's algorithm, fp32"
VARIANTS = {LOOP: {}, "fp32": {}, "fp32 + channels-last": {"channels_last": True},
            "fp32 + channels-last + reuse-fake": {"channels_last": True, "reuse_fake": True},
            "bf16 + channels-last": {"amp": "bf16", "channels_last": True},
            "bf16 + channels-last + reuse-fake": {"amp": "bf16", "channels_last": True, "reuse_fake": True}}
#: the rows of a preset whose model is not DCGAN (main.py's algorithm and --reuse-fake are DCGAN recipes)
GENERIC = ("fp32", "fp32 + channels-last", "bf16 + channels-last")
#: with R1/R2: these rows again with PyTorch's generic double backward in place of gankit's penalty convolutions
PLAIN = " (PyTorch's double backward)"


class PlainDoubleBackward:
    """A trainer whose steps run with ``gankit.models.penaltyconv.ENABLED = False``: the convolutions'
    double backward is PyTorch's generic one (the A side of the penalty convolutions, in this process)."""

    def __init__(self, trainer):
        self.trainer, self.cfg = trainer, trainer.cfg

    def _plain(self, step):
        from gankit.models import penaltyconv

        penaltyconv.ENABLED = False
        try:
            step()
        finally:
            penaltyconv.ENABLED = True

    def d_step(self):
        self._plain(self.trainer.d_step)

    def g_step(self):
        self._plain(self.trainer.g_step)

    def close(self):
        self.trainer.close()
TARGET_SHARE = 0.5


def title(preset: str) -> str:
    """The section of ``preset`` (DCGAN-64's keeps the title it was first written under)."""
    name = "DCGAN-64" if preset == "dcgan64-mnist" else f"`{preset}`"
    return f"Share of the matmul peak reached by {name} training (CPU; issue 23, item 1)"


def matmul_peak(dtype, n: int = 4096, repeats: int = 5) -> float:
    """GFLOP/s of the best of ``repeats`` n x n matrix products in ``dtype`` (after one untimed)."""
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(dtype) for _ in range(2))
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class Loop:
    """main.py's update (bench/reference_loop.py) with a trainer's two calls, on random batches of the data."""

    def __init__(self, cfg):
        from bench.reference_loop import ReferenceLoop
        from gankit.data import load_dataset

        self.loop = ReferenceLoop(cfg, load_dataset(cfg), seed=cfg.seed)
        self.x, self.batch = self.loop.data.x, cfg.batch_size

    def d_step(self):
        import torch

        self.loop.step(self.x[torch.randint(len(self.x), (self.batch,))])

    def g_step(self):  # main.py's G update is part of its one step
        pass

    def close(self):
        pass


def conv_backward_flops(args) -> int:
    """FLOPs of ``aten.convolution_backward(grad_out, input, weight, ..., transposed, ..., groups, mask)``:
    each gradient it computes (input, weight) costs what the forward convolution costs. PyTorch's own
    formula (torch 2.14) counts a grouped convolution's weight gradient ``groups`` times over (it treats the
    gradient as an ungrouped convolution): 129x the forward for a depthwise layer of 128 channels."""
    from torch.utils.flop_counter import conv_flop_count

    grad_out, x, w, transposed, mask = args[0], args[1], args[2], args[7], args[10]
    return conv_flop_count(list(x.shape), list(w.shape), list(grad_out.shape), transposed) * (int(mask[0]) + int(mask[1]))


def iteration_flops(trainer) -> int:
    """FLOPs of one D step + one G step of ``trainer``: matrix products and convolutions, forward and
    backward, counted by PyTorch's FLOP formulas (``torch.utils.flop_counter``, FlopCounterMode's; the
    convolution backward's by :func:`conv_backward_flops`) in a dispatch mode of our own:
    FlopCounterMode's per-module bookkeeping registers backward hooks that ``torch.autograd.grad``
    (R1/R2's input gradients) refuses."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func._overloadpacket not in flop_registry:  # e.g. aten.conv2d under inference mode: its parts
                with self:
                    out = func.decompose(*args, **kwargs)
                if out is not NotImplemented:
                    return out
            out = func(*args, **kwargs)
            if func._overloadpacket is torch.ops.aten.convolution_backward:
                Count.total += conv_backward_flops(args)
            elif (formula := flop_registry.get(func._overloadpacket)) is not None:
                Count.total += formula(*args, **kwargs, out_val=out)
            return out

    with Count():
        trainer.d_step(), trainer.g_step()
    return Count.total


def main(argv: list[str] | None = None) -> int:
    import torch

    from gankit import Trainer

    ap = argparse.ArgumentParser(prog="python -m bench peak_share", description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="dcgan64-mnist", help="an image preset (default: DCGAN-64)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--iters", type=int, default=4, help="timed iterations per trainer per round")
    ap.add_argument("--data-root", default=str(MNIST_ROOT))
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round of 1 iteration, 512 x 512 products")
    ap.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    ap.add_argument("--doc", type=Path, default=DOCS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rounds, iters, n = (1, 1, 512) if args.quick else (args.rounds, args.iters, 4096)
    peak = {"fp32": matmul_peak(torch.float32, n), "bf16": matmul_peak(torch.bfloat16, n)}
    print(f"matmul peak ({n}x{n}, 1 thread): fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s")
    trainers, flops = {}, {}
    dcgan = preset_config(args.preset, args.data_root).model == "dcgan"
    variants = VARIANTS if dcgan else {k: VARIANTS[k] for k in GENERIC}
    base = preset_config(args.preset, args.data_root)
    if not dcgan and (base.r1_gamma > 0 or base.r2_gamma > 0):
        variants = {**variants, **{k + PLAIN: VARIANTS[k] for k in GENERIC[1:]}}
    try:
        for k, overrides in variants.items():
            cfg = preset_config(args.preset, args.data_root, seed=0, steps=10 ** 6, **overrides)
            trainers[k] = (Loop(cfg) if k == LOOP
                           else Trainer(cfg, tempfile.mkdtemp(prefix="gankit-peak-") + "/run", overwrite=True))
            if k.endswith(PLAIN):
                trainers[k] = PlainDoubleBackward(trainers[k])
            flops[k] = iteration_flops(trainers[k])
        batch = trainers["fp32"].cfg.batch_size
        measured = interleaved_rates(trainers, rounds, iters, batch)
    finally:
        for t in trainers.values():
            t.close()
    # the peaks again: did the machine's speed change meanwhile?
    after = {"fp32": matmul_peak(torch.float32, n), "bf16": matmul_peak(torch.bfloat16, n)}
    rows, shares = [], {}
    for k, rs in measured.items():
        dtype = "bf16" if "bf16" in k else "fp32"
        achieved = [flops[k] * r / batch / 1e9 for r in rs]
        shares[k] = statistics.median(achieved) / peak[dtype]
        rows.append([k, f"{flops[k] / 1e9:.1f}", f"{statistics.median(rs):.1f} ({min(rs):.1f}–{max(rs):.1f})",
                     f"{statistics.median(achieved):.0f}", f"{peak[dtype]:.0f} ({dtype})", f"**{100 * shares[k]:.0f}%**"])
    best = max((k for k in shares if "bf16" in k and not k.endswith(PLAIN)), key=shares.get)
    plain = [f"{k}: **{statistics.median(a / b for a, b in zip(measured[k], measured[k + PLAIN])):.2f}×** "
             f"({min(a / b for a, b in zip(measured[k], measured[k + PLAIN])):.2f}–"
             f"{max(a / b for a, b in zip(measured[k], measured[k + PLAIN])):.2f})"
             for k in measured if k + PLAIN in measured]
    met = shares[best] >= TARGET_SHARE
    size = trainers["fp32"].cfg.image_size
    text = "\n".join([
        *header(bench_command("peak_share", argv), "1 torch thread", f"load average {load_average()} at the end"), "",
        f"Matrix-product peak, {n}x{n}, one thread, best of 5: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 "
        f"{peak['bf16']:.0f} GFLOP/s (again after the training rounds: fp32 {after['fp32']:.0f}, bf16 "
        f"{after['bf16']:.0f}). `{args.preset}` "
        f"({size}x{size}, batch {batch}, the MNIST *test* split): FLOPs of one D step + one G step counted with "
        f"the formulas of `torch.utils.flop_counter.FlopCounterMode` (a convolution's backward: one forward's FLOPs "
        f"per gradient; PyTorch's formula counts a grouped weight gradient once per group); images per CPU-second over {rounds} interleaved rounds of "
        f"{iters} iterations (median, min–max); achieved GFLOP/s = FLOPs per iteration × iterations per "
        "CPU-second; share = achieved ÷ the peak of the variant's dtype (a lower bound on the convolutions' own "
        "share: the rest of the iteration counts as time, not FLOPs).", "",
        table(["variant", "GFLOP per iteration", "images/CPU-s", "achieved GFLOP/s", "peak GFLOP/s", "share of peak"],
              rows, right_from=1), "",
        f"Target (bf16 training at ≥ {100 * TARGET_SHARE:.0f}% of the bf16 peak): **{'met' if met else 'not met'}** "
        f"on this machine ({best}: {100 * shares[best]:.0f}%).", *(item2(measured, flops, shares, peak, batch) if dcgan else []),
        *(["", "The penalty convolutions (`gankit.models.penaltyconv`: R1/R2's double backward as whole first-order "
           "convolutions) against PyTorch's generic double backward, images per CPU-second, median of the per-round "
           "ratios (min–max): " + "; ".join(plain) + "."] if plain else [])])
    print("\n" + text)
    if args.write and not args.quick:
        write_section(args.doc, title(args.preset), text)
    return 0


def item2(measured: dict, flops: dict, shares: dict, peak: dict, batch: int) -> list[str]:
    """The lines on issue 23's second target: fp32 against main.py's algorithm, and the rate 1.3x would take."""
    loop_rate = statistics.median(measured[LOOP])
    fastest32 = max((k for k in measured if "bf16" not in k and k != LOOP), key=lambda k: statistics.median(measured[k]))
    fewest = min(flops[k] for k in measured if "bf16" not in k and k != LOOP)
    need = 1.3 * loop_rate / batch * fewest / 1e9  # GFLOP/s that 1.3x main.py's rate takes
    return [
        "", f"fp32 against main.py's algorithm (issue 23, item 2: ≥ 1.3×): {fastest32} "
        f"**{statistics.median(measured[fastest32]) / loop_rate:.2f}×**. 1.3× main.py's algorithm is "
        f"{1.3 * loop_rate:.1f} images/CPU-s; with the fewest FLOPs of an fp32 row ({fewest / 1e9:.1f} GFLOP per "
        f"iteration, direct convolution) that takes {need:.0f} GFLOP/s, **{100 * need / peak['fp32']:.0f}%** of "
        f"the measured fp32 matrix-product rate, which main.py's algorithm already runs at {100 * shares[LOOP]:.0f}% "
        f"of and the best fp32 row at {100 * shares[fastest32]:.0f}%."]


if __name__ == "__main__":
    raise SystemExit(main())
