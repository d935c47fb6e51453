"""Run directories: weights as safetensors, training state for exact resume, written atomically.

Layout::

    run/config.json                 the full config and data spec (JSON)
    run/generator.safetensors       latest G (and generator_ema.safetensors when EMA is on)
    run/discriminator.safetensors   latest D
    run/checkpoints/step-0000500/   {generator,discriminator,generator_ema}.safetensors + state.pt
    run/checkpoints/latest          name of the newest complete checkpoint (updated last)

Every file goes to a temporary name, is fsynced, then renamed into place, so a crash at any point
leaves the previous checkpoint intact. ``state.pt`` holds only tensors and plain Python values and
is read with ``torch.load(weights_only=True)``: no arbitrary unpickling.
"""
from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import GankitError
from ..utils.io import atomic_write, fsync_dir, write_json  # noqa: F401  (write_json: re-exported)

WEIGHT_FILES = ("generator", "discriminator", "generator_ema")


def fault_point(name: str, step: int) -> None:
    """Crash-test hook: with GANKIT_FAULT=<name>:<step> in the environment the process SIGKILLs
    itself here (used by the tests to kill a run in the middle of a checkpoint write)."""
    if os.environ.get("GANKIT_FAULT") == f"{name}:{step}":
        os.kill(os.getpid(), signal.SIGKILL)


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save_weights(module: nn.Module, path: Path) -> None:
    atomic_write(path, lambda p: save_file(_tensors(module), str(p), metadata={"format": "pt"}))


def load_weights(module: nn.Module, path: Path, device="cpu") -> None:
    """Load safetensors weights, naming every mismatching tensor if the architecture differs."""
    try:
        state = load_file(str(path), device=str(device))
    except Exception as e:
        raise GankitError(f"cannot read weights {path}: {str(e).splitlines()[0]}; the file is corrupt") from None
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append("shape mismatch: " + ", ".join(
                f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in wrong[:4]))
        if missing:
            parts.append(f"missing: {', '.join(missing[:4])}")
        if unexpected:
            parts.append(f"unexpected: {', '.join(unexpected[:4])}")
        raise GankitError(f"{path} does not fit this architecture ({'; '.join(parts)}); "
                          f"load it with the config it was trained with")
    module.load_state_dict(state)


def save_checkpoint(run_dir: Path, step: int, modules: dict[str, nn.Module], state: dict, keep: int) -> Path:
    """Write checkpoints/step-N/ atomically, then the top-level weights, then the ``latest`` pointer."""
    ckpt_root = Path(run_dir) / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    final, tmp = ckpt_root / name, ckpt_root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for key, module in modules.items():
        save_weights(module, tmp / f"{key}.safetensors")
        fault_point("checkpoint-write", step)
    atomic_write(tmp / "state.pt", lambda p: torch.save(state, p))
    fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(ckpt_root)
    for key, module in modules.items():
        save_weights(module, Path(run_dir) / f"{key}.safetensors")
    atomic_write(ckpt_root / "latest", lambda p: Path(p).write_text(name + "\n"))
    existing = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir())
    for old in existing[:-keep]:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    ckpt_root = Path(run_dir) / "checkpoints"
    pointer = ckpt_root / "latest"
    if pointer.is_file():
        p = ckpt_root / pointer.read_text().strip()
        if (p / "state.pt").is_file():
            return p
    done = sorted(p for p in ckpt_root.glob("step-*") if (p / "state.pt").is_file())
    return done[-1] if done else None


def load_state(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GankitError(f"refusing or unable to read training state {path}: {str(e).splitlines()[0]}") from None
