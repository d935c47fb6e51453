"""Shared by every benchmark: the path set-up, the shared locations, the lines that open a section of
docs/benchmarks.md (command, machine, date), markdown tables, and the writer of a benchmark's own section.

Importing this module makes the repository root (for ``bench``) and ``src/`` (for ``gankit``, ahead of
any installed copy) importable. Every benchmark imports it first: as ``from bench._common import ...``
when run as ``python -m bench <name>``, and when run as a file (``python bench/<name>.py``, where only
``bench/`` is on ``sys.path``) after running this file by its path::

    if not __package__:  # python bench/<name>.py: bench/_common.py makes the repository root importable
        import runpy
        runpy.run_path(str(Path(__file__).with_name("_common.py")))
    from bench._common import ROOT  # noqa: E402
"""
from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT), str(ROOT / "src")):  # src/ ends up first: this checkout's gankit, not an installed one
    if _path not in sys.path:
        sys.path.insert(0, _path)

DOCS = ROOT / "docs" / "benchmarks.md"
MNIST_ROOT = ROOT.parent / "shared" / "data" / "mnist"  # only the 10,000-image test split
EVALUATORS = ROOT.parent / "evaluators"  # bench/bench_evaluator.py --save-dir


# ---------------------------------------------------------------------------------------- the machine line
def cpu_model() -> str:
    """The CPU's model name (lscpu's), else what ``platform`` knows."""
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, ``"1.0, 0.9, 0.8"``."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def machine(*notes: str, shared: bool = True) -> str:
    """The machine line: CPU model, cores (``shared`` with other work), torch and Python versions, then the
    benchmark's ``notes`` (its threads, the load average, ...), joined by "; "."""
    import torch

    cores = f"{os.cpu_count()} cores" + (" (shared with other work)" if shared else "")
    return "; ".join([f"{cpu_model()}, {cores}, torch {torch.__version__}, Python {platform.python_version()}", *notes])


def today() -> str:
    return datetime.date.today().isoformat()


def header(command: str, *notes: str, shared: bool = True, date_note: str = "",
           more: tuple[str, ...] = ()) -> list[str]:
    """The lines that open a section: ``Command: `command` ``, ``Machine:`` (:func:`machine` with ``notes``
    and ``shared``), ``Date:`` (today, then ``date_note``), then ``more``, with markdown line breaks between."""
    lines = [f"Command: `{command}`", f"Machine: {machine(*notes, shared=shared)}", f"Date: {today()}{date_note}",
             *more]
    return [line + "  " for line in lines[:-1]] + lines[-1:]


# ---------------------------------------------------------------------------------------- tables
def table(header: list[str], rows: list[list], right_from: int | None = None) -> str:
    """A markdown table; cells are ``str(cell)``. Columns from index ``right_from`` on are right-aligned
    (numbers); ``None``: none is."""
    align = ["---" if right_from is None or i < right_from else "---:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(str(c) for c in line) + " |" for line in lines)


# ---------------------------------------------------------------------------------------- docs/benchmarks.md
def bench_command(name: str, argv, drop: tuple[str, ...] = ()) -> str:
    """The command line a section records: this process's OMP_NUM_THREADS (1 if unset), then
    ``python -m bench name`` and its arguments (shell-quoted; those in ``drop`` left out)."""
    import shlex

    args = [a for a in (argv or []) if a not in drop]
    return (f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')} python -m bench {name}"
            + "".join(f" {shlex.quote(a)}" for a in args))


def replace_section(path: Path, heading: str, text: str) -> None:
    """Replace the section of ``path`` that starts with the line ``heading`` (up to the next ``## ``
    heading) by ``text`` (the section, heading included), or append it; other sections stay as they are."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    text = text.strip("\n") + "\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text, old, count=1) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip("\n") + "\n")


def write_section(path: Path, title: str, body: str) -> None:
    """Replace (or append) the section ``## title`` of ``path``; other sections stay as they are."""
    replace_section(path, f"## {title}", f"## {title}\n\n{body.strip()}")


#: the precision of the quality benchmarks' recorded rows: fp32, NCHW (``--amp none``), pinned so that a
#: re-run on any machine trains what the rows measured and ``--reuse`` finds them (bf16 against fp32 is
#: bench/amp_quality.py's question)
FP32 = dict(amp="none", channels_last=False)
