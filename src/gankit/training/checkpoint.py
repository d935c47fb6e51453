"""Checkpoints: the training state for an exact resume, written so that a kill at any instant
leaves a resumable run (the layout is :mod:`gankit.runs`'s).

A checkpoint is written whole into ``checkpoints/.tmp-step-N/`` (every file fsynced), its
``manifest.json`` (sizes and SHA-256 of the other files) last, then renamed into place. Nothing is
deleted before its replacement is in place: a step folder being replaced is first renamed to
``.old-step-N`` and one being pruned to ``.del-step-N``. :func:`recover` finishes or undoes what a
kill interrupted and removes the leftovers; readers trust only folders whose manifest verifies
(:meth:`gankit.runs.Run.latest_checkpoint`). ``state.pt`` holds only tensors and plain Python
values and is read with ``torch.load(weights_only=True)``: no arbitrary unpickling.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
from pathlib import Path

import torch
from torch import nn

from ..errors import GankitError
from ..runs import WEIGHTS, Run
from ..utils.io import (MANIFEST, atomic_write, fsync_dir, manifest_problem, remove_stale, save_weights, temp_files,
                        write_manifest)

log = logging.getLogger(__name__)

#: files of a run the trainer alone writes (their atomic-write temporaries are its own)
TRAINER_FILES = ("config.json", "metrics.jsonl", "latest", "state.pt", "manifest.json",
                 *(f"{w}.safetensors" for w in WEIGHTS))


def fault_point(name: str, step: int) -> None:
    """Crash-test hook: with GANKIT_FAULT=<name>:<step> in the environment the process SIGKILLs
    itself here (used by the tests to kill a run in the middle of a checkpoint write)."""
    if os.environ.get("GANKIT_FAULT") == f"{name}:{step}":
        os.kill(os.getpid(), signal.SIGKILL)


def save_checkpoint(run_dir: Path, step: int, modules: dict[str, nn.Module], state: dict, keep: int) -> Path:
    """Write checkpoints/step-N/ atomically, then the top-level weights, then the ``latest`` pointer;
    then prune all but the newest ``keep`` checkpoints."""
    run = Run(run_dir)
    ckpt_root, final = run.checkpoints_dir, run.checkpoint(step)
    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = final.name
    tmp, old = ckpt_root / f".tmp-{name}", ckpt_root / f".old-{name}"
    remove_stale([p for p in (tmp, old) if p.exists()])  # leftovers of an interrupted save (recover() runs first)
    tmp.mkdir()
    try:
        for key, module in modules.items():
            save_weights(module, tmp / f"{key}.safetensors")
            fault_point("checkpoint-write", step)
        atomic_write(tmp / "state.pt", lambda p: torch.save(state, p))
        write_manifest(tmp)  # last: a folder whose manifest verifies is complete
        fsync_dir(tmp)
        if final.exists():  # the same step saved again: move the old one aside, never delete it first
            os.replace(final, old)
        os.replace(tmp, final)
        fsync_dir(ckpt_root)
    except BaseException:  # disk full, Ctrl-C... (after a kill, recover() does this)
        if old.exists() and not final.exists():
            os.replace(old, final)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old.exists():
        shutil.rmtree(old)
    for key, module in modules.items():
        save_weights(module, run.weights(key))
    atomic_write(ckpt_root / "latest", lambda p: Path(p).write_text(name + "\n"))
    existing = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir())
    for stale in existing[:-keep]:
        if stale.name != name:
            gone = ckpt_root / f".del-{stale.name}"
            os.replace(stale, gone)  # out of sight first, so a kill mid-delete leaves no half folder
            shutil.rmtree(gone)
    return final


def recover(run: Run) -> None:
    """Finish or undo a checkpoint save a kill interrupted, and delete the temporary files killed
    processes left in the run. Call it holding the run's lock (no other writer is active)."""
    root = run.checkpoints_dir
    if root.is_dir():
        for old in sorted(root.glob(".old-step-*")):
            name = old.name[len(".old-"):]
            final, tmp = root / name, root / f".tmp-{name}"
            if final.exists():  # the new one is in place: the old one is a leftover
                continue
            # killed between moving the old one aside and renaming the new one in
            new_complete = (tmp / MANIFEST).is_file() and manifest_problem(tmp, ["state.pt"]) is None
            os.replace(tmp if new_complete else old, final)
            log.info("completed the interrupted replacement of checkpoint %s", name)
        fsync_dir(root)
    stale = [p for pattern in (".tmp-step-*", ".old-step-*", ".del-step-*") for p in root.glob(pattern)]
    for folder in (run.path, root):
        stale += [p for p in temp_files(folder)
                  if p.name.startswith(".tmp") or p.name.rsplit(".tmp-", 1)[0][1:] in TRAINER_FILES]
    count, size = remove_stale(stale)
    if count:
        log.info("removed %d temporary file(s) (%.1f MB) left in %s by an interrupted run", count, size / 1e6,
                 run.path)


def load_state(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GankitError(f"refusing or unable to read training state {path}: {str(e).splitlines()[0]}") from None
