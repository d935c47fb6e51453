"""docs/benchmarks.md is one file with a section per benchmark; each benchmark rewrites its own."""
from __future__ import annotations

import re
from pathlib import Path


def replace_section(path: Path, heading: str, text: str) -> None:
    """Replace the section of ``path`` that starts with the line ``heading`` (up to the next ``## ``
    heading) by ``text`` (the section, heading included), or append it; other sections stay as they are."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    text = text.strip("\n") + "\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text, old, count=1) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip("\n") + "\n")
