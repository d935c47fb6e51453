"""Load a trained generator from a run directory (diffusers-style ``from_pretrained`` for runs)."""
from __future__ import annotations

from pathlib import Path

import torch

from .errors import GankitError
from .models import build_models
from .models.network import build_network
from .runs import Run
from .utils.io import load_weights


def build_run_networks(run: Run, cfg, meta: dict) -> tuple[torch.nn.Module, torch.nn.Module]:
    """G and D of ``run``, freshly initialised: from each network's own recorded arguments
    (format 2), or — for runs written by gankit 0.1.0 — from the training config and data spec."""
    if "generator" in meta and "discriminator" in meta:
        try:
            return build_network(meta["generator"]), build_network(meta["discriminator"])
        except (ValueError, TypeError, KeyError) as e:
            raise GankitError(f"{run.config_path} describes networks gankit cannot build ({e}); "
                              f"it must be the JSON gankit wrote") from None
    return build_models(cfg, run.data_spec())


def load(run_dir: str | Path, ema: bool = True, device: str | torch.device = "cpu",
         discriminator: bool = False):
    """Rebuild the generator of ``run_dir`` and load its safetensors weights.

    Returns the generator in eval mode (``G.sample(n, labels=..., seed=...)`` draws images), or
    ``(G, D)`` with ``discriminator=True``. Uses the EMA weights when the run kept them.
    ``G.config`` is the run's training config, ``G.data_spec`` its data spec.
    """
    run = Run(run_dir)
    cfg, meta = run.read()
    spec = run.data_spec()
    weights = run.generator_weights(ema)
    G, D = build_run_networks(run, cfg, meta)
    load_weights(G, weights, device)
    G.to(device).eval().requires_grad_(False)
    G.config, G.data_spec = cfg, spec
    if discriminator:
        load_weights(D, run.weights("discriminator"), device)
        return G, D.to(device).eval()
    return G
