"""Checkpoints: the training state for an exact resume, written so that a kill at any instant
leaves a resumable run (the layout is :mod:`gankit.runs`'s).

Every file goes to a temporary name, is fsynced, then renamed into place, so a crash at any point
leaves the previous checkpoint intact. ``state.pt`` holds only tensors and plain Python values and
is read with ``torch.load(weights_only=True)``: no arbitrary unpickling.
"""
from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import torch
from torch import nn

from ..errors import GankitError
from ..runs import Run
from ..utils.io import atomic_write, fsync_dir, save_weights


def fault_point(name: str, step: int) -> None:
    """Crash-test hook: with GANKIT_FAULT=<name>:<step> in the environment the process SIGKILLs
    itself here (used by the tests to kill a run in the middle of a checkpoint write)."""
    if os.environ.get("GANKIT_FAULT") == f"{name}:{step}":
        os.kill(os.getpid(), signal.SIGKILL)


def save_checkpoint(run_dir: Path, step: int, modules: dict[str, nn.Module], state: dict, keep: int) -> Path:
    """Write checkpoints/step-N/ atomically, then the top-level weights, then the ``latest`` pointer."""
    run = Run(run_dir)
    ckpt_root, final = run.checkpoints_dir, run.checkpoint(step)
    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = final.name
    tmp = ckpt_root / f".tmp-{name}"
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
        save_weights(module, run.weights(key))
    atomic_write(ckpt_root / "latest", lambda p: Path(p).write_text(name + "\n"))
    existing = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir())
    for old in existing[:-keep]:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_state(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GankitError(f"refusing or unable to read training state {path}: {str(e).splitlines()[0]}") from None
