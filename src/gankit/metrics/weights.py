"""Where the metrics' pretrained weights live, and their hash-checked download.

Nothing is fetched unless asked (``--download-weights``); a file is used only when its SHA-256
matches the publisher's, so a truncated or tampered download is never loaded.
"""
from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path

from ..errors import GankitError
from ..utils.io import file_digest

__all__ = ["weights_dir", "download_weights"]


def weights_dir() -> Path:
    """Where downloaded weights go: ``$GANKIT_WEIGHTS`` or ``~/.cache/gankit/weights``."""
    env = os.environ.get("GANKIT_WEIGHTS", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gankit" / "weights"


def download_weights(url: str, sha256: str | None, dest: str | os.PathLike) -> Path:
    """``dest`` if it already holds a file of hash ``sha256``, else ``url`` fetched to a temporary
    file, checked, and moved to ``dest``. A wrong hash deletes the file and raises GankitError."""
    dest = Path(dest)
    if sha256 is None:
        raise GankitError(f"no published SHA-256 for {url}: download it yourself, check it, and pass "
                          f"--weights PATH (gankit downloads only files it can verify)")
    if dest.is_file() and file_digest(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
        got = file_digest(Path(tmp))
        if got != sha256:
            raise GankitError(f"{url}: SHA-256 {got[:16]}... does not match the published {sha256[:16]}...; "
                              f"the file was deleted")
        os.replace(tmp, dest)
        return dest
    except OSError as e:
        raise GankitError(f"cannot download {url}: {e}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
