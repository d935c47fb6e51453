"""Crash-safe file writes: every file goes to a temporary name, is fsynced, then renamed into place."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from ..errors import GankitError


def fsync_dir(path: Path) -> None:
    """fsync a directory so that a rename inside it survives a crash (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp_path)``, fsync the file, and rename it to ``path``: readers see the old
    file or the new one, never a half-written one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically; creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: Path(p).write_text(json.dumps(obj, indent=2) + "\n"))
    return path


# ---------------------------------------------------------------------- weights (safetensors: no pickle)
def _tensors(module) -> dict:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save_weights(module, path: str | Path) -> None:
    """``module``'s state dict as a safetensors file, written atomically."""
    from safetensors.torch import save_file

    atomic_write(path, lambda p: save_file(_tensors(module), str(p), metadata={"format": "pt"}))


def load_weights(module, path: str | Path, device="cpu") -> None:
    """Load safetensors weights into ``module``, naming every mismatching tensor if the architecture differs;
    non-finite weights are refused."""
    import torch
    from safetensors.torch import load_file

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
    bad = next((k for k, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())), None)
    if bad is not None:
        raise GankitError(f"{path} holds non-finite weights (NaN or inf in {bad}): the run diverged before it was "
                          f"saved; use an earlier checkpoint (checkpoints/step-*) or retrain with a lower --lr")
    module.load_state_dict(state)
