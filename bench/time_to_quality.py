"""Time to quality on the CPU: training time (wall and CPU seconds) for gankit and for the reference algorithm
to reach a domain FID threshold on MNIST, side by side.

    OMP_NUM_THREADS=1 python -m bench time_to_quality [--quick] [--threshold 250]
    (or python bench/time_to_quality.py ...)

The reference is bench/reference_loop.py: a faithful plain-PyTorch re-implementation of pytorch/examples'
dcgan ``main.py`` algorithm (BCE on a sigmoid D, G updated on the D step's fakes, D not frozen in G's step),
written for this benchmark, at the same architecture as the gankit preset (``dcgan-mnist``: DCGAN at 28x28,
nz 100, widths 64, batch 64, Adam 2e-4 / 0.5). gankit runs the preset through ``gankit.Trainer`` as shipped
(its EMA generator, decay 0.999, is what ``gankit.load`` returns; the raw G is tracked too; its epoch-end
checkpoints and sample grids count as training time). Every ``--eval-every`` steps both clocks are paused
and the domain FID is measured: LeNet-evaluator features of ``--n-eval`` samples (G in eval mode, fixed
noise) against the 10,000 real digits (the MNIST *test* split, the only split offline). A run stops at the
threshold or after ``--budget`` seconds of training; runs alternate (reference, gankit; reversed for the next
seed) with one torch thread each. Writes its section of docs/benchmarks.md unless ``--quick`` or ``--no-write``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # python bench/time_to_quality.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, MNIST_ROOT, header, load_average, replace_section, table  # noqa: E402
from bench._speed import VARIANTS, preset_config, prototype_game  # noqa: E402

SECTION = "## Time to quality"
PRESET_NOTES = {"dcgan-mnist": "DCGAN 28x28, nz 100, widths 64, batch 64, Adam 2e-4 / 0.5, EMA 0.999",
                "mlp-mnist": "MLP GAN 28x28, batch 64, Adam 2e-4 / 0.5"}


class Probe:
    """Measures FID every ``every`` steps with the clocks paused; says when to stop."""

    def __init__(self, extractor, real_stats, threshold: float, every: int, n: int, budget_s: float, seed: int = 0):
        self.extractor, self.real_stats, self.threshold = extractor, real_stats, threshold
        self.every, self.n, self.budget_s, self.seed = every, n, budget_s, seed
        self.start()
        self.curve: list[dict] = []
        self.reached: dict[str, tuple[int, float, float]] = {}

    def start(self) -> None:
        """Zero both clocks (wall and this process's CPU time)."""
        self.t0, self.c0, self.paused, self.paused_cpu = time.perf_counter(), time.process_time(), 0.0, 0.0

    def train_time(self) -> float:
        return time.perf_counter() - self.t0 - self.paused

    def train_cpu(self) -> float:
        return time.process_time() - self.c0 - self.paused_cpu

    def fid(self, G) -> float:
        from gankit.metrics import frechet_distance, feature_statistics

        batches = (G.sample(min(500, self.n - i), seed=self.seed + i) for i in range(0, self.n, 500))
        mu, sigma = feature_statistics(self.extractor.extract(batches)["features"].numpy())
        return frechet_distance(mu, sigma, *self.real_stats)

    def __call__(self, step: int, generators: dict) -> bool:
        """Call after every step; returns True when every generator reached the threshold or time is up."""
        t = self.train_time()
        if step % self.every and t < self.budget_s:
            return False
        cpu, e0, c0 = self.train_cpu(), time.perf_counter(), time.process_time()
        fids = {name: self.fid(G) for name, G in generators.items()}
        self.paused += time.perf_counter() - e0
        self.paused_cpu += time.process_time() - c0
        self.curve.append({"step": step, "time": t, "cpu": cpu, **fids})
        for name, f in fids.items():
            if f <= self.threshold and name not in self.reached:
                self.reached[name] = (step, t, cpu)
        return len(self.reached) == len(generators) or t >= self.budget_s


def run_gankit(args, probe: Probe, variant: str, seed: int) -> None:
    from gankit import Trainer

    overrides, proto = VARIANTS[variant]
    cfg = preset_config(args.preset, str(args.mnist_root), seed=seed, epochs=None, steps=10**7, **overrides)
    with tempfile.TemporaryDirectory(prefix="gankit-ttq-") as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")
        if proto:
            trainer.game = prototype_game(proto, trainer.game)

        def check(t):
            gens = {"G": t.G} if t.ema is None else {"EMA G": t.ema.model, "G": t.G}
            if probe(t.step, gens):
                t.stop_requested = True

        trainer.callbacks.append(check)
        probe.start()
        trainer.train()


def run_reference(args, probe: Probe, seed: int) -> None:
    from gankit.data import load_dataset

    from bench.reference_loop import ReferenceLoop

    cfg = preset_config(args.preset, str(args.mnist_root), seed=seed)
    loop = ReferenceLoop(cfg, load_dataset(cfg), seed=seed)
    probe.start()
    loop.run(10**7, lambda lp: probe(lp.iterations, {"G": lp.G}))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench time_to_quality", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke test: tiny budget, one seed, no docs")
    ap.add_argument("--preset", default="dcgan-mnist")
    ap.add_argument("--variants", default="default,bf16+cl", help="gankit variants (see bench/throughput.py)")
    ap.add_argument("--threshold", type=float, default=250.0,
                    help="domain FID to reach (250: about 2,000 steps of the 28x28 DCGAN)")
    ap.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (100; --quick 20)")
    ap.add_argument("--n-eval", type=int, default=None, help="samples per evaluation (2000; --quick 500)")
    ap.add_argument("--budget", type=float, default=None, help="seconds of training per run at most (1200; --quick 8)")
    ap.add_argument("--seeds", type=int, default=None, help="runs per side (2; --quick 1)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mnist-root", type=Path, default=MNIST_ROOT)
    ap.add_argument("--evaluator", type=Path, default=None,
                    help="LeNet evaluator folder (default ../evaluators/lenet-mnist-28, trained there if missing; "
                         "--quick without it trains a tiny one)")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--docs", type=Path, default=DOCS)
    args = ap.parse_args(argv)
    defaults = dict(seeds=1, budget=8.0, eval_every=20, n_eval=500) if args.quick else \
        dict(seeds=2, budget=1200.0, eval_every=100, n_eval=2000)
    for k, v in defaults.items():
        setattr(args, k, v if getattr(args, k) is None else getattr(args, k))
    import torch

    from gankit.data import load_dataset
    from gankit.metrics import feature_statistics
    from gankit.metrics import build_extractor

    from bench._quality import mnist_evaluator

    torch.set_num_threads(args.threads)
    args.mnist_root = args.mnist_root.resolve()
    evaluator, args.evaluator_note = mnist_evaluator(args.evaluator, args.mnist_root, args.quick)
    extractor = build_extractor("lenet", evaluator=evaluator)
    real = load_dataset(preset_config(args.preset, str(args.mnist_root))).x
    real_stats = feature_statistics(extractor.extract(real)["features"].numpy())
    runs = []
    for s in range(args.seeds):
        seed = 1000 + s
        sides = ["reference"] + [f"gankit:{v}" for v in args.variants.split(",")]
        for side in sides if s % 2 == 0 else sides[::-1]:
            probe = Probe(extractor, real_stats, args.threshold, args.eval_every, args.n_eval, args.budget)
            if side == "reference":
                run_reference(args, probe, seed)
            else:
                run_gankit(args, probe, side.partition(":")[2], seed)
            runs.append({"side": side, "seed": seed, "reached": probe.reached, "curve": probe.curve})
            print(f"  seed {seed} {side}: reached {probe.reached}", flush=True)
            for c in probe.curve:
                print("    " + " ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in c.items()),
                      flush=True)
    text = report(args, runs, argv if argv is not None else sys.argv[1:])
    print("\n" + text)
    if not (args.quick or args.no_write):
        replace_section(args.docs, SECTION, text)
    return {"runs": runs}


CLOCKS = ("step", "time", "cpu")


def report(args, runs: list[dict], argv: list[str]) -> str:
    rows, hits = [], {}
    for r in runs:
        last = r["curve"][-1]
        for name in [k for k in last if k not in CLOCKS]:
            hit = r["reached"].get(name)
            label = r["side"].replace("gankit:", "gankit ") + (f" ({name})" if r["side"] != "reference" else "")
            rows.append([label, r["seed"]] + ([hit[0], f"{hit[1]:.0f}", f"{hit[2]:.0f}"] if hit else
                                              [f"> {last['step']}", f"> {last['time']:.0f}", f"> {last['cpu']:.0f}"])
                        + [f"{min(c[name] for c in r['curve']):.2f}"])
            hits.setdefault(label, []).append(hit)
    command = f"OMP_NUM_THREADS={args.threads} python -m bench time_to_quality {' '.join(argv)}".rstrip()
    lines = [SECTION, "", *header(command, f"{args.threads} torch thread(s)", f"load average {load_average()}"), "",
             f"Preset `{args.preset}` ({PRESET_NOTES.get(args.preset, 'see src/gankit/presets')}) on the MNIST *test* "
             f"split (10,000 digits, the only split offline). Threshold: domain FID ≤ {args.threshold:g} (features "
             f"of the LeNet evaluator {args.evaluator_note}, {args.n_eval} samples of G in eval mode vs the 10,000 "
             f"real digits; measured every {args.eval_every} steps with both clocks paused; CPU s: this process's "
             f"CPU time, steadier than wall time on "
             f"a shared machine). The reference is bench/reference_loop.py, a "
             f"plain-PyTorch re-implementation of pytorch/examples' dcgan algorithm written for this benchmark (not "
             f"main.py, which only builds 64x64 nets), on the same networks. Runs alternate, one at a time; "
             f"budget {args.budget:g} s of training per run.", "",
             table(["program", "seed", "steps to threshold", "wall s to threshold", "CPU s to threshold",
                    "best FID seen"], rows, right_from=1), ""]
    ref = hits.get("reference", [])
    for label, hs in hits.items():
        if label == "reference" or not ref or not all(ref) or not all(hs):
            continue
        parts = []
        for i, what in ((1, "wall"), (2, "CPU"), (0, "steps")):
            a, b = statistics.median(h[i] for h in ref), statistics.median(h[i] for h in hs)
            parts.append(f"{what}: {b:.0f} vs {a:.0f} → **{a / b:.2f}x**")
        lines.append(f"- {label} vs reference (medians; > 1: gankit first): " + "; ".join(parts))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
