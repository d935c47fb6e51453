"""Throughput of the FID Inception network's forward pass (random weights; speed does not
depend on the weight values), and with ``--compare`` side by side with pytorch-fid's.

    python bench/bench_features.py [--batch 50] [--iters 3] [--device cpu]
    OMP_NUM_THREADS=1 python -m bench bench_features --compare --threads 1 [--rounds 3] [--write]

The plain run prints one line: images per second of gankit's extractor model (``for_inference()``, as
``InceptionExtractor`` runs it), with the input size, batch, device and thread count.

``--compare`` builds three models from the same random weights — pytorch-fid's ``InceptionV3`` (its
weights file replaced by gankit's random state dict: the keys match), gankit's in NCHW, and gankit's with
its batch norms folded into the convolutions and in channels-last (`FIDInceptionV3.for_inference()`, the
extractor's default) — and times them in interleaved rounds (the
order reversed every other round), each on the same batch of 32x32 images resized to 299. A ratio is the
median over rounds of the per-round ratio (min-max). Feature difference: the largest absolute difference
of the 2048 pool features from pytorch-fid's, relative to the largest feature. ``--write`` replaces the
section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

if not __package__:  # python bench/bench_features.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, header, load_average, table, write_section  # noqa: E402

from gankit.metrics.inception import FIDInceptionV3  # noqa: E402

TITLE = "Inception features: channels-last beside pytorch-fid"
LENET_TITLE = "LeNet evaluator features: channels-last beside NCHW"


def _timed(model, x, iters: int) -> float:
    """Images per CPU-second of ``iters`` forward passes on ``x`` (after one untimed pass): CPU time, as
    wall time on a shared machine mostly measures the neighbours."""
    with torch.inference_mode():
        model(x)
        t0 = time.process_time()
        for _ in range(iters):
            model(x)
        return x.shape[0] * iters / (time.process_time() - t0)


def compare(args) -> str:
    import pytorch_fid.inception as pfi

    torch.manual_seed(0)
    ours = FIDInceptionV3().eval().requires_grad_(False)
    state = ours.state_dict()
    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *a, **k: state  # no download: gankit's random weights
    try:
        ref = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True,
                              use_fid_inception=True).eval().requires_grad_(False)
    finally:
        pfi.load_state_dict_from_url = original
    cl = ours.for_inference()  # what InceptionExtractor runs: batch norms folded, channels-last
    x = torch.rand(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    models = {"pytorch-fid 0.3.0": (lambda v: ref((v + 1) / 2)[0].flatten(1)),
              "gankit, NCHW": (lambda v: ours(v)["pool"]), "gankit, BN folded + channels-last (default)": (lambda v: cl(v)["pool"])}
    with torch.inference_mode():
        feats = {name: f(x) for name, f in models.items()}
    base = feats["pytorch-fid 0.3.0"]
    rates: dict[str, list[float]] = {name: [] for name in models}
    for r in range(args.rounds):
        for name in (list(models) if r % 2 == 0 else list(models)[::-1]):
            rates[name].append(_timed(models[name], x, args.iters))
            print(f"round {r + 1}: {name}: {rates[name][-1]:.2f} images/CPU-s", flush=True)
    ref_rates = rates["pytorch-fid 0.3.0"]
    rows = []
    for name, rs in rates.items():
        ratios = [a / b for a, b in zip(rs, ref_rates)]
        diff = ((feats[name] - base).abs().max() / base.abs().max()).item()
        rows.append([name, f"{statistics.median(rs):.2f}", f"**{statistics.median(ratios):.2f}** "
                     f"({min(ratios):.2f}–{max(ratios):.2f})", f"{diff:.1e}"])
    cl_ratio = statistics.median(a / b for a, b in zip(rates["gankit, BN folded + channels-last (default)"], ref_rates))
    cl_diff = ((feats["gankit, BN folded + channels-last (default)"] - base).abs().max() / base.abs().max()).item()
    met = cl_ratio >= 1.7 and cl_diff <= 2e-6
    command = f"OMP_NUM_THREADS={args.threads} python -m bench bench_features --compare --threads {args.threads} " \
              f"--rounds {args.rounds} --iters {args.iters} --batch {args.batch}" + (" --write" if args.write else "")
    lines = [f"## {TITLE}", "", *header(command, f"{torch.get_num_threads()} torch thread(s)",
                                          f"load average {load_average()} at the end"), "",
             f"FID Inception-v3 forward passes (pool-3 features), batch {args.batch} of 32x32 images resized to "
             f"299x299, {args.iters} timed batches per model per round, {args.rounds} interleaved rounds; the same "
             "random weights in all three (speed does not depend on the values). gankit's `InceptionExtractor` "
             "(`gankit evaluate`, FID/KID/IS/P&R) runs `FIDInceptionV3.for_inference()`: batch norms folded into "
             "the convolutions, model and input channels-last.", "",
             table(["model", "images/CPU-s (median)", "× pytorch-fid", "feature difference vs pytorch-fid"], rows,
                   right_from=1), "",
             f"Target (≥ 1.7× pytorch-fid at ≤ 2e-6 feature difference): **{'met' if met else 'NOT met'}** "
             f"({cl_ratio:.2f}×, {cl_diff:.1e})."]
    return "\n".join(lines)


def compare_lenet(args) -> str:
    """The lenet extractor (``LeNetExtractor``: a channels-last copy of the evaluator) beside the same
    evaluator run in NCHW, on real MNIST digits: images per CPU-second and the feature difference."""
    from bench._common import MNIST_ROOT

    from gankit import TrainConfig
    from gankit.data import load_dataset
    from gankit.metrics import LeNetExtractor, load_evaluator

    path = Path(args.evaluator)
    model = load_evaluator(path)
    images = load_dataset(TrainConfig(data="mnist", data_root=str(MNIST_ROOT), split="test",
                                      download=False).validate()).all_images()[:args.lenet_images]
    nchw, ext = load_evaluator(path).eval().requires_grad_(False), LeNetExtractor(model)
    plain = {"NCHW (the evaluator as trained)": lambda v: nchw.features(v),
             "channels-last (LeNetExtractor, default)": lambda v: ext._forward(v)[0]}
    batches = images.split(ext.batch_size)
    with torch.inference_mode():
        feats = {name: torch.cat([f(b) for b in batches]) for name, f in plain.items()}
    rates: dict[str, list[float]] = {name: [] for name in plain}
    for r in range(args.rounds):
        for name in (list(plain) if r % 2 == 0 else list(plain)[::-1]):
            with torch.inference_mode():
                t0 = time.process_time()
                for b in batches:
                    plain[name](b)
                rates[name].append(len(images) / (time.process_time() - t0))
    base_name = next(iter(plain))
    base = feats[base_name]
    rows = []
    for name, rs in rates.items():
        ratios = [a / b for a, b in zip(rs, rates[base_name])]
        diff = ((feats[name] - base).abs().max() / base.abs().max()).item()
        rows.append([name, f"{statistics.median(rs):.0f}", f"**{statistics.median(ratios):.2f}** "
                     f"({min(ratios):.2f}–{max(ratios):.2f})", f"{diff:.1e}"])
    command = f"OMP_NUM_THREADS={args.threads} python -m bench bench_features --compare-lenet --threads {args.threads} " \
              f"--rounds {args.rounds} --lenet-images {args.lenet_images}" + (" --write" if args.write else "")
    return "\n".join([f"## {LENET_TITLE}", "", *header(command, f"{torch.get_num_threads()} torch thread(s)",
                                                     f"load average {load_average()} at the end"), "",
                      f"The MNIST evaluator `{path.name}` on {len(images):,} digits of the MNIST **test** split, "
                      f"batches of {ext.batch_size}, penultimate features; {args.rounds} interleaved rounds, CPU time. "
                      "`gankit evaluate` and every lenet metric (FID/KID/P&R on lenet features, class metrics, Stacked "
                      "MNIST modes) run the channels-last copy.", "",
                      table(["evaluator run", "images/CPU-s (median)", "× NCHW", "feature difference vs NCHW"], rows,
                            right_from=1)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--iters", type=int, default=3, help="timed batches (after one warm-up)")
    ap.add_argument("--size", type=int, default=32, help="input side before the 299 resize")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--compare", action="store_true", help="pytorch-fid, gankit NCHW and channels-last side by side")
    ap.add_argument("--rounds", type=int, default=3, help="--compare: interleaved rounds")
    ap.add_argument("--write", action="store_true", help="--compare: write the section of docs/benchmarks.md")
    ap.add_argument("--compare-lenet", action="store_true", help="the lenet evaluator in NCHW and channels-last")
    ap.add_argument("--evaluator", default=str(Path(__file__).resolve().parents[2] / "evaluators" / "lenet-mnist-28"),
                    help="--compare-lenet: the evaluator folder (default ../evaluators/lenet-mnist-28)")
    ap.add_argument("--lenet-images", type=int, default=10000, help="--compare-lenet: MNIST test digits")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compare or args.compare_lenet:
        title, text = (TITLE, compare(args)) if args.compare else (LENET_TITLE, compare_lenet(args))
        print("\n" + text)
        if args.write:
            write_section(DOCS, title, text.split("\n", 2)[2])
        return
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = FIDInceptionV3().to(device).for_inference()
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
    print(f"FIDInceptionV3 forward (for_inference: BN folded, channels-last): {n / dt:.1f} images/s ({args.size}px -> 299px, batch "
          f"{args.batch}, {args.iters} batches, {device}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__})")


if __name__ == "__main__":
    main()
