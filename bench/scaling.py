"""Cost that grows as the work grows: DCGAN training time per image across batch sizes and image
sizes, in fp32 and bf16 (+ channels-last), on the CPU.

    OMP_NUM_THREADS=1 python -m bench scaling [--sizes 32,64,128] [--batches 16,64,256] [--rounds 2]
                                              [--images 256] [--quick] [--no-write]

Every cell trains preset ``dcgan64-mnist`` (DCGAN, widths 64, the MNIST *test* split resized) at that
image size and batch size in this process, one thread: one untimed iteration (D step + G step), then
iterations until at least ``--images`` images have gone through D's real side; ms/image is their CPU
time over their images (CPU time: steadier than wall time on a shared machine). Cells are measured in
``--rounds`` rounds, the order reversed every other round; the table gives the median over rounds.
"Fixed cost" fits time per iteration = fixed + per-image x batch over the three batch sizes (least
squares): the share of batch 16's iteration that does not scale with the batch.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from bench._common import DOCS, MNIST_ROOT, header, load_average, table, write_section
from bench._speed import preset_config

TITLE = "Training cost per image across batch and image sizes (CPU)"
MODES = {"fp32": {}, "bf16+cl": {"amp": "bf16", "channels_last": True}}


def measure(size: int, batch: int, mode: str, images: int, data_root: str) -> float:
    """ms of CPU time per image of one cell (see the module docstring)."""
    from gankit import Trainer

    cfg = preset_config("dcgan64-mnist", data_root, image_size=size, batch_size=batch, steps=10 ** 6, seed=0,
                        **MODES[mode])
    trainer = Trainer(cfg, tempfile.mkdtemp(prefix="gankit-scaling-") + "/run", overwrite=True)
    try:
        trainer.d_step(), trainer.g_step()
        n = max(1, -(-images // batch))
        t = time.process_time()
        for _ in range(n):
            trainer.d_step(), trainer.g_step()
        return (time.process_time() - t) * 1e3 / (n * batch)
    finally:
        trainer.close()


def fixed_share(batches: list[int], per_image: list[float]) -> float:
    """Least-squares fit of per-iteration time = a + b * batch; a's share of the smallest batch's time."""
    t = [p * b for p, b in zip(per_image, batches)]
    mb, mt = statistics.fmean(batches), statistics.fmean(t)
    slope = sum((b - mb) * (y - mt) for b, y in zip(batches, t)) / sum((b - mb) ** 2 for b in batches)
    a = mt - slope * mb
    return max(a, 0.0) / t[0]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench scaling", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="32,64,128")
    ap.add_argument("--batches", default="16,64,256")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--images", type=int, default=256, help="timed images per cell (at least one iteration)")
    ap.add_argument("--data-root", default=str(MNIST_ROOT))
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (sizes 16,32, batches 4,8), no docs")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        args.sizes, args.batches, args.rounds, args.images = "16,32", "4,8", 1, 8
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    cells = [(s, b, m) for m in MODES for s in sizes for b in batches]
    res: dict[tuple, list[float]] = {c: [] for c in cells}
    for r in range(args.rounds):
        for c in (cells if r % 2 == 0 else cells[::-1]):
            res[c].append(measure(*c, args.images, args.data_root))
            print(f"round {r + 1}: size {c[0]} batch {c[1]} {c[2]}: {res[c][-1]:.2f} ms/image", flush=True)
    rows = []
    for m in MODES:
        for s in sizes:
            med = [statistics.median(res[(s, b, m)]) for b in batches]
            spread = [f"{med[i]:.2f} ({min(res[(s, b, m)]):.2f}–{max(res[(s, b, m)]):.2f})"
                      for i, b in enumerate(batches)]
            rows.append([m, s, *spread, f"{med[0] / med[-1]:.2f}",
                         f"{100 * fixed_share(batches, med):.0f}%" if len(batches) > 2 else "—"])
    command = "OMP_NUM_THREADS=1 python -m bench scaling " + " ".join(argv if argv is not None else [])
    text = "\n".join([
        *header(command.rstrip(), "1 torch thread", f"load average {load_average()} at the end"), "",
        f"DCGAN (preset dcgan64-mnist's nets at each size, widths 64), one D step + one G step per iteration; "
        f"ms of CPU time per image, median over {args.rounds} interleaved rounds (min–max); "
        f"at least {args.images} images per cell after one untimed iteration.", "",
        table(["mode", "size", *[f"batch {b}: ms/image" for b in batches], f"batch {batches[0]} ÷ {batches[-1]}",
               f"fixed share at batch {batches[0]}"], rows, right_from=1)])
    print("\n" + text)
    if not (args.quick or args.no_write):
        write_section(DOCS, TITLE, text)


if __name__ == "__main__":
    main()
