"""The default job's cost: wall time of plain ``gankit train`` (preset dcgan-digits), with the thread
count it picks (``--threads 0``: physical cores minus the load), beside the same job at every core
(PyTorch's own default before issue 18).

    python -m bench default_job [--variants auto,all] [--image docs/images/dcgan-digits.png] [--no-write]

Each variant is a fresh ``python -m gankit train`` process with OMP_NUM_THREADS unset; the figure is
its whole wall time (start-up, data, 1,680 steps, samples, report), as a user sees it. ``--image``
copies the auto run's ``samples.png`` there (the README's first picture). Writes its section of
docs/benchmarks.md unless ``--no-write``.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # python bench/default_job.py
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, ROOT, header, replace_section, table  # noqa: E402

SECTION = "## The default job: `gankit train` wall time and thread count"


def run_job(out: Path, threads: int | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT / "src")
    cmd = [sys.executable, "-m", "gankit", "train", "--out", str(out)]
    if threads:
        cmd += ["--threads", str(threads)]
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    picked = int(re.search(r"\((\d+) CPU threads?\)", proc.stderr).group(1))
    done = re.search(r"done: (\d+) steps in ([\d.]+)s \((\d+) images/s\)", proc.stdout)
    return {"wall": wall, "threads": picked, "steps": int(done.group(1)), "train_s": float(done.group(2)),
            "images_per_s": int(done.group(3)), "load": load,
            "lines": sum(" step " in line for line in proc.stderr.splitlines()), "log_bytes": len(proc.stderr)}


def main(argv: list[str] | None = None) -> int:
    from gankit.utils.threads import physical_cores

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="auto,all", help="auto (plain `gankit train`), all (--threads = cores)")
    ap.add_argument("--image", type=Path, default=None, help="copy the auto run's samples.png here")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    cores = physical_cores()
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants.split(","):
            r = results[variant] = run_job(Path(tmp) / variant, None if variant == "auto" else cores)
            label = "`gankit train`" if variant == "auto" else f"`gankit train --threads {cores}`"
            rows.append([label, f"{r['load']:.1f}", r["threads"], f"{r['steps']:,}", f"{r['wall']:.0f} s",
                         f"{r['train_s']:.0f} s", f"{r['images_per_s']:,}", f"{r['lines']} ({r['log_bytes']:,} B)"])
            print(rows[-1], flush=True)
            if variant == "auto" and args.image:
                shutil.copyfile(Path(tmp) / "auto" / "samples.png", args.image)
    notes = []
    if {"auto", "all"} <= set(results):
        ratio = results["all"]["wall"] / results["auto"]["wall"]
        notes.append(f"All cores / auto, wall time: {ratio:.2f}× (same machine, one after the other).")
    text = "\n".join([SECTION, "", *header(f"python -m bench default_job --variants {args.variants}",
                                           f"{cores} physical cores", more=tuple(notes)), "",
                      table(["command", "load at start", "threads", "steps", "wall time (process)",
                             "training loop", "images/s through D", "progress lines off a terminal (stderr)"],
                            rows, right_from=1), "",
                      "The README's cost figure for the main job is the first row's wall time.", ""])
    print(text)
    if not args.no_write:
        replace_section(DOCS, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
