"""Load a trained generator from a run directory (diffusers-style ``from_pretrained``)."""
from __future__ import annotations

from pathlib import Path

import torch

from .data import DataSpec
from .errors import GankitError
from .models import build_models
from .training.checkpoint import load_weights
from .training.trainer import read_run_config


def load(run_dir: str | Path, ema: bool = True, device: str | torch.device = "cpu",
         discriminator: bool = False):
    """Rebuild the generator of ``run_dir`` from its config.json and load its safetensors weights.

    Returns the generator in eval mode (``G.sample(n, labels=..., seed=...)`` draws images), or
    ``(G, D)`` with ``discriminator=True``. Uses the EMA weights when the run kept them.
    """
    run_dir = Path(run_dir)
    cfg, meta = read_run_config(run_dir)
    spec = DataSpec.from_dict(meta["data_spec"])
    G, D = build_models(cfg, spec)
    weights = run_dir / "generator_ema.safetensors"
    if not (ema and weights.is_file()):
        weights = run_dir / "generator.safetensors"
    if not weights.is_file():
        raise GankitError(f"{run_dir} has no generator weights yet (no checkpoint was written)")
    load_weights(G, weights, device)
    G.to(device).eval().requires_grad_(False)
    G.config, G.data_spec = cfg, spec
    if discriminator:
        load_weights(D, run_dir / "discriminator.safetensors", device)
        return G, D.to(device).eval()
    return G
