"""Start-up cost of the command line: ``import gankit`` and ``gankit --help`` as whole processes.

    python -m bench startup [--rounds 10] [--baseline-src OLD/src] [--no-write]

Each figure is the median (min-max) wall time of a fresh ``python`` process over ``--rounds`` rounds;
with ``--baseline-src`` (the ``src/`` of another checkout, e.g. ``git worktree add /tmp/old ad618e5``)
the same commands run with that code on ``PYTHONPATH``, interleaved round by round with this checkout's,
and the ratio is taken per round. Also reports whether torch was imported. Writes its section of
docs/benchmarks.md unless ``--no-write``.
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

if not __package__:  # python bench/startup.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, ROOT, header, replace_section, table  # noqa: E402

SECTION = "## Start-up: `import gankit` and `gankit --help`"
COMMANDS = {"import gankit": ["-c", "import gankit"],
            "gankit --help": ["-m", "gankit", "--help"],
            "gankit train --help": ["-m", "gankit", "train", "--help"]}


def timed(args: list[str], src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    t = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def imports_torch(args: list[str], src: Path) -> bool:
    code = "import gankit" if args[0] == "-c" else "from gankit.cli import build_parser; build_parser()"
    out = subprocess.run([sys.executable, "-c", f"{code}; import sys; print('torch' in sys.modules)"],
                         env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--baseline-src", type=Path, default=None, help="src/ of the checkout to compare with")
    ap.add_argument("--baseline-name", default="baseline", help="how the baseline is named in the table")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    ours = ROOT / "src"
    sides = {"this checkout": ours, **({args.baseline_name: args.baseline_src} if args.baseline_src else {})}
    times = {(name, side): [] for name in COMMANDS for side in sides}
    for r in range(args.rounds):
        order = list(sides.items()) if r % 2 == 0 else list(sides.items())[::-1]
        for name, cmd in COMMANDS.items():
            for side, src in order:
                times[name, side].append(timed(cmd, src))
    head = ["command", *[f"{s}: wall s, median (min-max)" for s in sides], *[f"{s}: imports torch" for s in sides]]
    if args.baseline_src:
        head.append(f"ratio {args.baseline_name} / this checkout (median per round)")
    rows = []
    for name, cmd in COMMANDS.items():
        row = [f"`{name}`", *[fmt(times[name, s]) for s in sides],
               *["yes" if imports_torch(cmd, src) else "no" for src in sides.values()]]
        if args.baseline_src:
            ratios = [b / a for a, b in zip(times[name, "this checkout"], times[name, args.baseline_name])]
            row.append(f"{statistics.median(ratios):.1f}×")
        rows.append(row)
    command = "python -m bench startup" + (f" --baseline-src OLD/src --baseline-name {shlex.quote(args.baseline_name)}"
                                           if args.baseline_src else "") + f" --rounds {args.rounds}"
    text = "\n".join([SECTION, "", *header(command, f"{args.rounds} interleaved rounds, 1 process at a time"), "",
                      table(head, rows), ""])
    print(text)
    if not args.no_write:
        replace_section(DOCS, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
