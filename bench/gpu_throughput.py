"""GPU training throughput (issue 5, part 6): images/s with AMP (bf16) and torch.compile, and the
achieved fraction of the GPU's peak.

    python -m bench gpu_throughput [--device cuda] [--presets dcgan64-mnist,dcgan-mnist,mlp-mnist]
        [--variants fp32,tf32,bf16,bf16+cl,bf16+cl+compile] [--iters 60] [--warmup 15] [--data-root DIR]
        [--quick] [--no-write]

Each preset of the CPU table (bench/throughput.py) trains with each variant in this process
(``gankit.Trainer``, batch 64, the MNIST split), timed by a callback after every generator step that
first synchronises the device; images/s = batch x iterations / wall time over the iterations after
``--warmup`` (start-up, cuDNN autotuning and torch.compile excluded). Variants: ``fp32`` (TF32 off
for matmuls and convolutions), ``tf32`` (on: a setting of the bench, ``torch.backends``), ``bf16``
(``--amp bf16``), ``+cl`` (``--channels-last``), ``+compile`` (``--compile``).

FLOPs per iteration (one D step and one G step, forward and backward) are counted once per preset
with ``torch.utils.flop_counter.FlopCounterMode`` on the uncompiled fp32 trainer (the variants do
the same arithmetic); achieved TFLOP/s = FLOPs x iterations/s, and the fraction of peak divides it
by the device's dense peak for the variant's arithmetic (PEAK_TFLOPS: fp32 without tensor cores,
TF32 and BF16 tensor cores; NVIDIA's datasheets). CI never needs a GPU: the unit test runs
``--quick --device cpu`` (no peak there). Writes its section of docs/benchmarks.md unless
``--quick`` or ``--no-write``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

if not __package__:  # python bench/gpu_throughput.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, MNIST_ROOT, header, replace_section, table  # noqa: E402
from bench._speed import images_per_s, preset_config, worker  # noqa: E402

SECTION = "## Training throughput (GPU)"
PRESETS = ("dcgan64-mnist", "dcgan-mnist", "mlp-mnist")
#: variant -> (bench/_speed.py's gankit variant of the same config, TF32 on, the arithmetic of its peak)
VARIANTS = {
    "fp32": ("default", False, "fp32"),
    "tf32": ("default", True, "tf32"),
    "bf16": ("bf16", False, "bf16"),
    "bf16+cl": ("bf16+cl", False, "bf16"),
    "bf16+cl+compile": ("bf16+cl+compile", False, "bf16"),
}
#: dense peak TFLOP/s (no sparsity): (name fragment, {arithmetic: peak}); the first match wins
PEAK_TFLOPS = [
    ("H200", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("H100 PCIe", {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0}),
    ("H100", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}),  # SXM (HBM3)
    ("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0}),
]


def peak_tflops(device_name: str, arithmetic: str) -> float | None:
    """The dense peak of a GPU by its ``torch.cuda.get_device_name``, or None if not in the table."""
    for fragment, peaks in PEAK_TFLOPS:
        if fragment in device_name:
            return peaks[arithmetic]
    return None


def config(preset: str, device: str, data_root: Path, data: str = "mnist"):
    """The preset as the throughput benchmarks train it, on ``device``."""
    return preset_config(preset, str(data_root), steps=1, seed=0, device=device, data=data)


def set_tf32(on: bool) -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def flops_per_iteration(preset: str, device: str, data_root: Path, data: str = "mnist") -> int:
    """FLOPs of one D step and one G step (forward and backward) of the fp32 trainer."""
    from torch.utils.flop_counter import FlopCounterMode

    from gankit import Trainer

    with tempfile.TemporaryDirectory(prefix="gankit-gpu-") as tmp:
        t = Trainer(config(preset, device, data_root, data), Path(tmp) / "run")
        with FlopCounterMode(display=False) as counter:
            t.d_step()
            t.g_step()
    return counter.get_total_flops()


def measure(preset: str, variant: str, device: str, data_root: Path, iters: int, warmup: int,
            data: str = "mnist") -> dict:
    """Images/s of one trainer run (bench/_speed.py's worker) after ``warmup`` generator steps."""
    import torch

    name, tf32, _ = VARIANTS[variant]
    set_tf32(tf32)
    r = worker({"kind": "gankit", "variant": name, "preset": preset, "iters": iters, "seed": 0, "device": device,
                "data": data, "data_root": str(data_root), "threads": torch.get_num_threads()})
    per_iter = [b - a for a, b in zip(r["times"][warmup - 1:], r["times"][warmup:])]
    return {"preset": preset, "variant": variant, "batch": r["batch"], "iters": len(per_iter),
            "images_per_s": images_per_s(r, warmup), "median_iter_ms": 1e3 * statistics.median(per_iter)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench gpu_throughput", description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--iters", type=int, default=60, help="generator steps per run (default 60; quick 6)")
    ap.add_argument("--warmup", type=int, default=15, help="steps not timed (default 15; quick 2)")
    ap.add_argument("--data-root", type=Path, default=MNIST_ROOT)
    ap.add_argument("--data", default="mnist", help="mnist (default), or digits where the MNIST files are absent "
                    "(the embedded 8x8 digits resized to the preset's size: the same arithmetic)")
    ap.add_argument("--quick", action="store_true", help="smoke test: mlp-mnist, fp32 and bf16, 6 steps")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    import torch

    if args.quick:
        args.presets, args.variants = "mlp-mnist", "fp32,bf16"
        args.iters, args.warmup = 6, 2
    presets, variants = args.presets.split(","), args.variants.split(",")
    bad = [p for p in presets if p not in PRESETS] + [v for v in variants if v not in VARIANTS]
    if bad:
        ap.error(f"unknown preset/variant {', '.join(bad)}; presets: {', '.join(PRESETS)}; "
                 f"variants: {', '.join(VARIANTS)}")
    if args.warmup < 1 or args.iters < args.warmup + 2:
        ap.error("need --warmup >= 1 and --iters >= warmup + 2")
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print("gpu_throughput: error: no CUDA device here; run it on a GPU machine, or pass --device cpu",
              file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name() if torch.device(args.device).type == "cuda" else "CPU"
    rows = []
    for preset in presets:
        flops = flops_per_iteration(preset, args.device, args.data_root, args.data)
        for variant in variants:
            r = measure(preset, variant, args.device, args.data_root, args.iters, args.warmup, args.data)
            r["tflops"] = flops * r["images_per_s"] / r["batch"] / 1e12
            peak = peak_tflops(name, VARIANTS[variant][2])
            r.update(gflop_per_iter=flops / 1e9, peak=peak, fraction=r["tflops"] / peak if peak else None)
            rows.append(r)
            print(f"{preset:14s} {variant:16s} {r['images_per_s']:10.0f} images/s  {r['median_iter_ms']:7.2f} ms/iter  "
                  f"{r['tflops']:7.2f} TFLOP/s" + (f"  {100 * r['fraction']:.1f}% of peak" if peak else ""), flush=True)
    if not (args.quick or args.no_write):
        replace_section(DOCS, SECTION, report(rows, name, argv))
    return 0


def report(rows: list[dict], name: str, argv) -> str:
    cmd = "python -m bench gpu_throughput " + " ".join(sys.argv[1:] if argv is None else argv)
    base = {r["preset"]: r["images_per_s"] for r in rows if r["variant"] == "fp32"}
    cells = []
    for r in rows:
        ratio = f"{r['images_per_s'] / base[r['preset']]:.2f}" if r["preset"] in base else "—"
        frac = f"{100 * r['fraction']:.1f}% of {r['peak']:.0f}" if r["fraction"] is not None else "—"
        cells.append([r["preset"], r["variant"], f"{r['images_per_s']:.0f}", ratio, f"{r['median_iter_ms']:.2f}",
                      f"{r['gflop_per_iter']:.2f}", f"{r['tflops']:.2f}", frac])
    columns = ["preset", "variant", "images/s", "× fp32", "ms / iteration", "GFLOP / iteration", "TFLOP/s",
               "% of peak"]
    lines = [SECTION, "", *header(cmd.strip(), f"device {name}", shared=False), "",
             table(columns, cells, right_from=2)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
