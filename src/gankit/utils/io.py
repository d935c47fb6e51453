"""Crash-safe file writes: every file goes to a temporary name, is fsynced, then renamed into place;
folder manifests (sizes and SHA-256 of every file) to verify a folder before trusting it; stale
temporary files; advisory folder locks."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import GankitError

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once, at import: os.umask is the only portable way to read it
#: the permissions of a new file (0644 under the usual umask 022); safetensors' and mkstemp's
#: temporary files are 0600, which a rename would otherwise keep
FILE_MODE = 0o666 & ~_UMASK
#: the temporary names this module and safetensors use: ``.NAME.tmp-PID`` and ``.tmpXXXXXX``
TEMP_NAME = re.compile(r"^\.(?:.+\.tmp-\d+|tmp[A-Za-z0-9]{6})$")
MANIFEST = "manifest.json"


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
        os.chmod(tmp, FILE_MODE)
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


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: Path) -> None:
    """``manifest.json``: the name, size and SHA-256 of every file in ``folder`` (written last, so a
    folder whose manifest verifies is complete)."""
    files = {p.name: {"bytes": p.stat().st_size, "sha256": file_digest(p)}
             for p in sorted(Path(folder).iterdir()) if p.is_file() and p.name != MANIFEST}
    atomic_write(Path(folder) / MANIFEST, lambda p: Path(p).write_text(json.dumps({"files": files}, indent=1)))


def manifest_problem(folder: Path, required: Iterable[str] = ()) -> str | None:
    """Why ``folder`` does not match its manifest (a missing, resized or changed file, or a required
    file the manifest lacks), or None when it matches. Assumes the manifest exists."""
    try:
        files = json.loads((Path(folder) / MANIFEST).read_text())["files"]
        items = [(str(name), int(e["bytes"]), str(e["sha256"])) for name, e in files.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return f"unreadable {MANIFEST}"
    missing = sorted(set(required) - set(files))
    if missing:
        return f"{MANIFEST} does not list {', '.join(missing)}"
    for name, size, digest in items:
        p = Path(folder) / name
        if "/" in name or not p.is_file():
            return f"{name} is missing"
        if p.stat().st_size != size:
            return f"{name} has {p.stat().st_size} bytes, not {size}"
        if file_digest(p) != digest:
            return f"{name} does not match its SHA-256"
    return None


def remove_stale(paths: Iterable[Path]) -> tuple[int, int]:
    """Delete the given leftover files and folders (the caller makes sure nothing uses them);
    returns (count, bytes)."""
    count = size = 0
    for p in paths:
        try:
            if p.is_dir() and not p.is_symlink():
                size += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                shutil.rmtree(p)
            else:
                size += p.lstat().st_size
                p.unlink()
            count += 1
        except OSError:
            pass
    return count, size


def temp_files(folder: Path) -> list[Path]:
    """This module's and safetensors' temporary files directly in ``folder``."""
    try:
        return [p for p in Path(folder).iterdir() if TEMP_NAME.match(p.name) and not p.is_dir()]
    except OSError:
        return []


class FolderLock:
    """An advisory ``flock`` on ``folder/NAME``: exclusive (one holder) or shared (many). The kernel
    releases it when the process ends, however it ends. A no-op where ``fcntl`` is missing."""

    def __init__(self, folder: Path, name: str = ".lock", shared: bool = False):
        self.path, self.shared, self.fd = Path(folder) / name, shared, None

    def acquire(self, blocking: bool = False) -> bool:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        flags = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def holder(self) -> str:
        """What the exclusive holder wrote into the lock file (its pid), or ''."""
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def note(self, text: str) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, text.encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = None


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
