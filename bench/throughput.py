"""Training throughput on the CPU: gankit's Trainer vs pytorch/examples' dcgan ``main.py``, side by side.

    OMP_NUM_THREADS=1 python -m bench throughput --reference-main /work/ref/dcgan_main.py [--quick]
    (or python bench/throughput.py ...)

Every measured run is its own process with the same thread settings (``--threads``, default 1, set as
OMP_NUM_THREADS/MKL_NUM_THREADS and ``torch.set_num_threads``). Runs are interleaved in rounds
(reference, gankit variants, ...; the order reversed every other round) and each figure is the
median over rounds of the per-round ratio, since the machine is shared and noisy. Images/s =
batch * iterations / wall time, over the iterations after ``warmup`` (start-up, first-iteration
allocations and torch.compile excluded); images/CPU-s divides by the CPU time (user + system) those
iterations used instead (main.py's DataLoader workers included, read from /proc): on a busy shared
machine wall time mostly measures the neighbours, CPU time the work per image.

* ``main.py`` (``--reference-main``, a local copy that is never committed): run as
  ``main.py --dataset mnist --dataroot TMP --niter 1 --workers W --manualSeed S`` on the CPU; its
  per-iteration log lines are timestamped as they arrive (``python -u``). TMP is a temporary
  torchvision MNIST root whose ``train-*`` files are the *test* split (10,000 digits, the only
  split offline), decompressed, so main.py reads the same images as gankit.
* ``loop``: bench/reference_loop.py, the same algorithm re-implemented in-process (any architecture).
* gankit: ``gankit.Trainer`` on the preset (``Trainer.train()``, timed by a callback after every
  generator step) with the variants in VARIANTS: gankit options (``--amp bf16``, ``--channels-last``,
  ``--compile``; ``--reuse-fake`` updates G on the D step's fakes as main.py does, where Algorithm 1
  of Goodfellow et al. 2014, gankit's default, draws fresh noise for G). One is a *prototype* of a
  trainer change, patched in here as a different game (not a gankit option): ``fused`` runs D once
  on the concatenated real+fake batch (BatchNorm then normalises the mixed batch: different semantics).

The full run also trains the 64x64 preset one epoch per side and compares the domain FID (LeNet
evaluator features at 28x28, 10,000 samples vs the 10,000 real digits). Writes its section of
docs/benchmarks.md unless ``--quick`` or ``--no-write``.
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # python bench/throughput.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, MNIST_ROOT, header, load_average, replace_section, table  # noqa: E402
from bench._speed import (VARIANTS, images_per_s, preset_config, print_worker_result, run_worker,  # noqa: E402
                          thread_env, worker)

SECTION = "## Training throughput (CPU) vs pytorch/examples dcgan"
QUALITY_SECTION = "## Training throughput (CPU): quality after one epoch, further seeds"
PRESETS = ("dcgan64-mnist", "dcgan-mnist", "mlp-mnist")
PRESET_NOTES = {"dcgan64-mnist": "DCGAN 64x64, nz 100, ngf = ndf = 64: pytorch/examples' nets",
                "dcgan-mnist": "DCGAN 28x28, widths 64", "mlp-mnist": "MLP GAN 28x28, G 256-512-1024, D 512-256",
                "r3gan-mnist": "R3GAN 28x28 (preset r3gan-mnist: RpGAN + R1 + R2, grouped-conv ResNets)"}

#: the gankit variants (bench/_speed.py's VARIANTS) measured for each preset by default
VARIANT_SETS = {
    "dcgan64-mnist": ("default", "channels_last", "bf16", "bf16+cl", "bf16+cl+compile", "reuse", "bf16+cl+reuse"),
    "dcgan-mnist": ("default", "bf16", "bf16+cl", "compile", "bf16+cl+reuse"),
    "mlp-mnist": ("default", "bf16", "compile", "reuse"),
    "r3gan-mnist": ("default", "bf16+cl"),
}

MAIN_LINE = re.compile(r"^\[(\d+)/(\d+)\]\[(\d+)/(\d+)\] Loss_D")


def mnist_root_for_main(mnist_root: Path, tmp: Path) -> Path:
    """A torchvision MNIST root whose train files are the test split (decompressed: torchvision
    only checks that ``MNIST/raw/<name>`` exists, then reads the uncompressed IDX files)."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for part in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        src = mnist_root / "MNIST" / "raw" / f"t10k-{part}.gz"
        if not src.is_file():
            raise SystemExit(f"missing {src}: --mnist-root must hold MNIST/raw/t10k-*.gz")
        (raw / f"t10k-{part}").write_bytes(gzip.decompress(src.read_bytes()))
        link = raw / f"train-{part}"
        if not link.exists():
            link.symlink_to(f"t10k-{part}")
    return tmp


def parse_main_line(line: str) -> tuple[int, int] | None:
    """(iteration, iterations per epoch) of a main.py log line, or None."""
    m = MAIN_LINE.match(line)
    return (int(m.group(3)), int(m.group(4))) if m else None


def run_main(main_py: Path, dataroot: Path, iters: int | None, threads: int, workers: int, seed: int,
             outf: Path, timeout: float) -> dict:
    """pytorch/examples' main.py on the CPU; ``iters=None`` runs the whole epoch (and saves netG)."""
    cmd = [sys.executable, "-u", str(main_py), "--dataset", "mnist", "--dataroot", str(dataroot), "--niter", "1",
           "--workers", str(workers), "--manualSeed", str(seed), "--outf", str(outf)]
    t_start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=outf,
                            env=thread_env(threads), bufsize=1)
    times, cpu, tail, deadline = [], [], [], time.monotonic() + timeout
    try:
        for line in proc.stdout:
            now = time.perf_counter()
            tail = (tail + [line])[-20:]
            if parse_main_line(line):
                times.append(now)
                cpu.append(tree_cpu_seconds(proc.pid))
                if iters is not None and len(times) >= iters:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("main.py timed out")
    finally:
        if iters is not None and proc.poll() is None:
            proc.terminate()
        rc = proc.wait(timeout=120)
    if iters is None and rc != 0 or len(times) < (iters or 2):
        raise RuntimeError(f"main.py failed (exit {rc}):\n{''.join(tail)}")
    return {"times": times, "cpu": cpu, "batch": 64, "start": t_start}


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (main.py and its DataLoader
    workers), from /proc (Linux); NaN where /proc cannot be read."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    try:
        while todo:
            p = todo.pop()
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    except (OSError, ValueError):
        return float("nan") if p == pid else total
    return total


# ---------------------------------------------------------------------------------------- FID
def domain_fid(G, evaluator, mnist_root: Path, n: int = 10_000, seed: int = 0, preset: str = "dcgan64-mnist") -> float:
    """Fréchet distance of LeNet-evaluator features between n samples of G (eval mode) and the 10,000
    real test digits as the preset trains on them (resized to 64x64); the extractor resizes both to its
    28x28 with antialiasing."""
    from gankit.data import load_dataset
    from gankit.metrics import fid_from_features
    from gankit.metrics import build_extractor

    ext = build_extractor("lenet", evaluator=evaluator)
    real = load_dataset(preset_config(preset, str(mnist_root))).x
    batches = (G.sample(min(500, n - i), seed=seed + i) for i in range(0, n, 500))
    return fid_from_features(ext.extract(batches)["features"].numpy(), ext.extract(real)["features"].numpy())


def reference_generator(path: Path, size: int = 64):
    """main.py's netG state dict loaded into gankit's DCGANGenerator (same layers and key names)."""
    import torch

    from gankit.models import DCGANGenerator

    G = DCGANGenerator(1, size, 100, 64)
    G.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return G


# ---------------------------------------------------------------------------------------- driver
def rounds(n_rounds: int, entries: list) -> list:
    """Interleave: every round runs all entries, the order reversed every other round."""
    return [entries if r % 2 == 0 else entries[::-1] for r in range(n_rounds)]


def measure(args, preset: str, variants: tuple, iters: int, warmup: int, dataroot: Path | None, log) -> dict:
    """Rounds of [main.py?, loop, gankit variants...]: images per wall second and per CPU second of each
    run, ``{"wall": {entry: [rate per round]}, "cpu": {...}}``."""
    entries = (["main.py"] if dataroot else []) + ["loop"] + [f"gankit:{v}" for v in variants]
    rates: dict[str, list[float]] = {e: [] for e in entries}
    cpu: dict[str, list[float]] = {e: [] for e in entries}
    for r, order in enumerate(rounds(args.rounds, entries)):
        for entry in order:
            seed = args.seed + r
            if entry == "main.py":
                with tempfile.TemporaryDirectory() as outf:
                    res = run_main(args.reference_main, dataroot, iters, args.threads, args.workers, seed,
                                   Path(outf), args.timeout)
            else:
                kind, _, variant = entry.partition(":")
                spec = {"kind": kind, "variant": variant or "default", "preset": preset, "iters": iters,
                        "threads": args.threads, "data_root": str(args.mnist_root), "seed": seed}
                res = worker(spec) if args.in_process else run_worker(spec, args.timeout)
            rates[entry].append(images_per_s(res, warmup))
            cpu[entry].append(images_per_s(res, warmup, clock="cpu"))
            log(f"  {preset} round {r + 1} {entry:24s} {rates[entry][-1]:8.1f} images/s "
                f"{cpu[entry][-1]:8.1f} images/CPU-s")
    return {"wall": rates, "cpu": cpu}


def ratio_stats(rates: dict, entry: str, base: str) -> tuple[float, float, float]:
    ratios = [a / b for a, b in zip(rates[entry], rates[base])]
    return statistics.median(ratios), min(ratios), max(ratios)


def epoch_quality(args, dataroot: Path | None, variants: tuple, log) -> list[dict]:
    """One epoch of dcgan64-mnist per side; images/s over the epoch and FID of the final G."""
    import gankit

    from bench._quality import mnist_evaluator

    evaluator, args.evaluator_note = mnist_evaluator(args.evaluator, args.mnist_root, False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(args.fid_seeds):
            seed = args.seed + 100 + s
            sides = (["main.py"] if dataroot else ["loop"]) + [f"gankit:{v}" for v in variants]
            for entry in sides if s % 2 == 0 else sides[::-1]:
                run_dir = Path(tmp) / f"{entry.replace(':', '-')}-{s}"
                run_dir.mkdir()
                if entry == "main.py":
                    res = run_main(args.reference_main, dataroot, None, args.threads, args.workers, seed, run_dir,
                                   args.timeout * 4)
                    G = reference_generator(run_dir / "netG_epoch_0.pth")
                else:
                    kind, _, variant = entry.partition(":")
                    spec = {"kind": kind, "variant": variant or "default", "preset": "dcgan64-mnist", "iters": 0,
                            "threads": args.threads, "data_root": str(args.mnist_root), "seed": seed,
                            "epoch": True, "run_dir": str(run_dir)}
                    res = run_worker(spec, args.timeout * 4)
                    G = (gankit.load(run_dir / "run") if kind == "gankit"
                         else reference_generator(run_dir / "netG_loop.pth"))
                rate = images_per_s(res, args.warmup, last=150)
                cpu_rate = images_per_s(res, args.warmup, last=150, clock="cpu")
                fid = domain_fid(G, evaluator, args.mnist_root, seed=seed)
                rows.append({"entry": entry, "seed": seed, "images_per_s": rate, "images_per_cpu_s": cpu_rate,
                             "fid": fid, "iterations": len(res["times"])})
                log(f"  one epoch, seed {seed}: {entry:24s} {rate:7.1f} images/s {cpu_rate:7.1f} images/CPU-s "
                    f"FID {fid:.2f}")
    return rows


def summary(cpu: dict, base: str) -> str:
    """One line: gankit's CPU-time ratios to ``base``, options and prototypes apart, against the 2x target."""
    ratios = {e.split(":", 1)[1]: ratio_stats(cpu, e, base)[0] for e in cpu if e.startswith("gankit:")}
    options = {v: r for v, r in ratios.items() if VARIANTS[v][1] is None}
    best = max(options, key=options.get)
    text = (f"Summary (CPU time, × {base}): gankit default **{ratios['default']:.2f}x**; fastest with gankit's "
            f"own options: {best} **{options[best]:.2f}x**")
    protos = {v: r for v, r in ratios.items() if VARIANTS[v][1] is not None}
    if protos:
        p = max(protos, key=protos.get)
        text += f"; with a prototype: {p} **{protos[p]:.2f}x**"
    met = [v for v, r in options.items() if r >= 2]
    return text + (f". Target ≥ 2x: met by {', '.join(met)}." if met else
                   ". Target ≥ 2x: not met by gankit's options.")


def report(args, results: dict, quality: list[dict], command: str, load: str) -> str:
    lines = [args.title or (QUALITY_SECTION if not results else SECTION), "",
             *header(command, f"{args.threads} torch thread(s) per run (OMP_NUM_THREADS={args.threads})",
                     f"main.py with `--workers {args.workers}`", f"load average {load}"), ""]
    if not results:
        lines += ["The quality part of the section above (`--rounds 0`: no throughput rounds) for more seeds.", ""]
    else:
        lines += [
            f"{args.rounds} interleaved rounds; in each, every program trains {args.iters} iterations (batch 64) in "
            f"its own process; images/s counts the iterations after the first {args.warmup} over their wall time, "
            f"images/CPU-s over the CPU time they used (user + system, main.py's DataLoader workers included: "
            f"the work per image, steadier than wall time on a shared machine). A ratio is the median over rounds "
            f"of gankit's rate divided by the same round's reference (min–max in brackets). bf16 timings on this "
            f"machine switch between two speeds for seconds at a time (AMX clock/licence changes), hence medians over "
            f"interleaved rounds with their min–max. "
            f"Data: the MNIST *test* split (10,000 digits, the only split offline); main.py reads it as its "
            f"train split through a temporary torchvision root (decompressed IDX files, "
            f"`train-*` → `t10k-*`). pytorch/examples commit "
            f"{args.reference_commit or 'unknown'}.", ""]
    for preset, clocks in results.items():
        wall = clocks["wall"]
        bases = (["main.py"] if "main.py" in wall else []) + ["loop"]
        lines += [f"**{preset}** ({PRESET_NOTES.get(preset, preset)})", ""]
        columns = (["program", "images/s"] + [f"× {b}" for b in bases] + ["images/CPU-s"] +
                   [f"× {b} (CPU)" for b in bases])
        rows = []
        for e in wall:
            row = [e.replace("gankit:", "gankit ")]
            for clock in ("wall", "cpu"):
                rates = clocks[clock]
                row.append(f"{statistics.median(rates[e]):.1f}")
                for b in bases:
                    if e == b:
                        row.append("1")
                    else:
                        m, lo, hi = ratio_stats(rates, e, b)
                        row.append(f"**{m:.2f}** ({lo:.2f}–{hi:.2f})")
            rows.append(row)
        lines += [table(columns, rows, right_from=1), "", summary(clocks["cpu"], bases[0]), ""]
    if quality:
        lines += ["**Quality after one epoch** (dcgan64-mnist, 156–157 iterations; domain FID = Fréchet distance "
                  f"of the features of the LeNet evaluator {args.evaluator_note}, samples downsampled 64→28 with "
                  "antialiasing, 10,000 samples of G in eval mode vs the 10,000 real digits as trained on (resized "
                  "to 64x64, then like the samples back to 28x28; the round trip alone costs the real digits 99 "
                  "against the 28x28 originals); lower is better; images/s over iterations "
                  f"{args.warmup + 1}–150 of that epoch)", ""]
        rows = [[q["entry"].replace("gankit:", "gankit "), q["seed"], f"{q['images_per_s']:.1f}",
                 f"{q['images_per_cpu_s']:.1f}", f"{q['fid']:.2f}"] for q in quality]
        lines += [table(["program", "seed", "images/s", "images/CPU-s", "FID"], rows, right_from=1), ""]
    lines += [] if not results else [
        "Variants: `channels_last`, `bf16` (`--amp bf16`, CPU autocast), `compile` (`--compile`) are gankit "
        "options, and so is `reuse` (`--reuse-fake`): G's update on the D step's fakes as main.py does, instead "
        "of Algorithm 1's fresh noise (one G forward per iteration instead of two). `fused`, a bench-only "
        "*prototype* (not a gankit option; only with `--variants ...+fused`), runs D once on the real+fake batch "
        "(BatchNorm statistics of the mixed batch). "
        "Algorithmic differences in the default comparison: gankit draws fresh noise for G's step (one more "
        "G forward than main.py) and freezes D during it (main.py also computes D's weight gradients there, "
        "then discards them); main.py runs two backward passes in D's step and loads data with a "
        "DataLoader (PIL resize per image in worker processes), gankit indexes a pre-resized uint8 tensor. "
        "`loop` is bench/reference_loop.py, a plain-PyTorch re-implementation of main.py's algorithm for "
        "timing (not main.py itself), on the nets gankit builds for the preset.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench throughput", description=__doc__.splitlines()[0])
    ap.add_argument("--reference-main", type=Path, default=None,
                    help="path to a local copy of pytorch/examples' dcgan/main.py (never commit it); without it, "
                         "gankit is compared with bench/reference_loop.py only")
    ap.add_argument("--reference-commit", default=None, help="the pytorch/examples commit of that copy (for the docs)")
    ap.add_argument("--quick", action="store_true", help="a smoke test: few iterations, one round, no FID, no docs")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--variants", default=None, help="comma-separated gankit variants (default: all for the preset)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleaved rounds (3; --quick 1); 0: only the one-epoch quality runs, into a section "
                         "of their own")
    ap.add_argument("--iters", type=int, default=None, help="iterations per run at 64x64, x4 at 28x28 (20; --quick 4)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed first iterations (4; --quick 2)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="main.py's --workers (its default is 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fid-seeds", type=int, default=1, help="one-epoch quality runs per side (0: skip)")
    ap.add_argument("--fid-variants", default="default,bf16+cl,bf16+cl+reuse")
    ap.add_argument("--mnist-root", type=Path, default=MNIST_ROOT)
    ap.add_argument("--evaluator", type=Path, default=None,
                    help="LeNet evaluator folder (default ../evaluators/lenet-mnist-28, trained there if missing)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    ap.add_argument("--in-process", action="store_true",
                    help="run gankit and the loop in this process, one after the other (for smoke tests: no "
                         "process start-up, no isolation)")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--docs", type=Path, default=DOCS)
    ap.add_argument("--title", default=None, help="the docs section's heading (default: the throughput section; "
                                                  "give another to keep the default section, e.g. for more presets)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print_worker_result(args.worker)
        return {}
    quick = {"rounds": 1, "iters": 4, "warmup": 2} if args.quick else {"rounds": 3, "iters": 20, "warmup": 4}
    for k, v in quick.items():
        setattr(args, k, v if getattr(args, k) is None else getattr(args, k))
    if args.quick:
        args.fid_seeds, args.variants = 0, args.variants or "default"
    if args.reference_main is not None and not args.reference_main.is_file():
        raise SystemExit(f"--reference-main {args.reference_main}: no such file")
    args.mnist_root = args.mnist_root.resolve()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    results, quality = {}, []
    with tempfile.TemporaryDirectory(prefix="mnist-for-main-") as tmp:
        dataroot = mnist_root_for_main(args.mnist_root, Path(tmp)) if args.reference_main else None
        for preset in args.presets.split(",") if args.rounds else ():
            variants = tuple(args.variants.split(",")) if args.variants else \
                VARIANT_SETS.get(preset, ("default",))
            iters = args.iters if "64" in preset else 4 * args.iters
            results[preset] = measure(args, preset, variants, iters, args.warmup,
                                      dataroot if preset == "dcgan64-mnist" else None, log)
        if args.fid_seeds and "dcgan64-mnist" in args.presets.split(","):
            quality = epoch_quality(args, dataroot, tuple(args.fid_variants.split(",")), log)
    load = load_average()
    command = (f"OMP_NUM_THREADS={args.threads} python -m bench throughput " +
               " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    text = report(args, results, quality, command, load)
    print("\n" + text)
    if not (args.quick or args.no_write):
        replace_section(args.docs, args.title or (SECTION if results else QUALITY_SECTION), text)
    return {"rates": {p: c["wall"] for p, c in results.items()}, "cpu_rates": {p: c["cpu"] for p, c in results.items()},
            "quality": quality}


if __name__ == "__main__":
    main()
