"""Shared by the benchmarks that train pix2pix (``translation``, ``amp_quality``): one run of the
pix2pix-edges2mnist settings scored on the 2,000 digits the MNIST evaluator held out, and the small tools
of the image-to-image benchmarks (apply a generator in batches, L1 and SSIM, a picture grid)."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from bench._common import EVALUATORS, FP32, MNIST_ROOT  # first: src/ importable
import gankit
from gankit import TrainConfig
from gankit.data import load_dataset
from gankit.metrics.lenet import accuracy, load_evaluator
from gankit.translation.metrics import l1_distance, ssim

EVAL_MNIST = EVALUATORS / "lenet-mnist-28"
QUIET = dict(progress=False, tensorboard=False, download=False, device="cpu", seed=0)


@torch.no_grad()
def apply(fn, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    return torch.cat([fn(chunk) for chunk in x.split(batch)])


def scores(pred, target) -> dict:
    return {"l1": l1_distance(pred, target).mean().item(), "ssim": ssim(pred, target).mean().item()}


# ---------------------------------------------------------------------- pix2pix
def bench_pix2pix(steps: int, workdir: Path, figure: Path | None, data_root: Path = MNIST_ROOT,
                  overwrite: bool = False, **changes) -> dict:
    """pix2pix (the pix2pix-edges2mnist preset's settings) trained for ``steps`` in ``workdir``/pix2pix and
    scored on the evaluator's held-out digits; ``changes``: config fields over those (``amp``, ``seed``...)."""
    cfg = TrainConfig(model="pix2pix", data="edges2mnist", data_root=str(data_root), split="test", g_width=32,
                      d_width=32, batch_size=64, steps=steps, log_every=50, checkpoint_every=steps, **QUIET, **FP32)
    cfg = cfg.replace(**changes)
    pairs = load_dataset(cfg)
    ev = load_evaluator(EVAL_MNIST)
    held_out = ev.config["held_out_size"]
    assert (ev.config["split"], ev.config["seed"], ev.config["train_size"] + held_out) == ("test", 0, len(pairs))
    perm = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(ev.config["seed"]))  # evaluator's split
    train, test = pairs.subset(perm[held_out:]), pairs.subset(perm[:held_out])
    t = gankit.Trainer(cfg, workdir / "pix2pix", data=train, overwrite=overwrite)
    t0 = time.perf_counter()
    t.train()
    wall = time.perf_counter() - t0
    a, b = test.batch(torch.arange(len(test)))
    G = t.G.eval()
    out = apply(G, a)
    result = {
        "steps": steps, "epochs": round(steps * cfg.batch_size / len(train), 2), "train": len(train),
        "test": len(test), "wall_s": round(wall, 1), "g_params": sum(p.numel() for p in G.parameters()),
        "translated": {**scores(out, b), "accuracy": accuracy(ev, out, test.y)},
        "ground_truth": {"accuracy": accuracy(ev, b, test.y)},
        "edges_as_output": {**scores(a, b), "accuracy": accuracy(ev, a, test.y)},
    }
    if figure is not None:  # 18 held-out examples as (input | output | target) triplets, 3 per row
        k = torch.arange(18)
        grid(torch.stack([a[k], out[k], b[k]], 1).flatten(0, 1), figure, nrow=9, scale=4)
    return result


def grid(images: torch.Tensor, path: Path, nrow: int, scale: int) -> None:
    """A PNG grid on grey padding (white would merge with the inverted digits' background)."""
    from PIL import Image
    from torchvision.utils import make_grid

    g = make_grid(images.add(1).div(2).clamp(0, 1), nrow=nrow, padding=2, pad_value=0.5)
    im = Image.fromarray(g.mul(255).round().byte()[0].numpy())
    im.resize((im.width * scale, im.height * scale), Image.NEAREST).save(path)
