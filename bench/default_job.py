"""The default job's cost: wall time of plain ``gankit train`` (preset dcgan-digits), with the thread
count it picks (``--threads 0``: physical cores minus the load), beside the same job at every core
(PyTorch's own default before issue 18).

    python -m bench default_job [--compare-steps 200] [--image docs/images/dcgan-digits.png] [--no-write]

Every row is a fresh ``python -m gankit train`` process with OMP_NUM_THREADS unset, timed whole (start-up,
data, the steps, samples, report) as a user sees it, with its CPU time. First the whole default job
(1,680 steps) with the threads it picks; then, side by side, ``--compare-steps`` steps of it with the
automatic count and with every physical core (PyTorch's own default before issue 18). ``--image``
copies the whole job's ``samples.png`` there (the README's first picture). Writes its section of
docs/benchmarks.md unless ``--no-write``.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
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


def run_job(out: Path, threads: int | None, steps: int | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT / "src")
    cmd = [sys.executable, "-m", "gankit", "train", "--out", str(out)]
    if threads:
        cmd += ["--threads", str(threads)]
    if steps:
        cmd += ["--steps", str(steps)]
    load = os.getloadavg()[0]
    before, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    picked = int(re.search(r"\((\d+) CPU threads?[,)]", proc.stderr).group(1))  # "(N CPU threads, fp32)"
    done = re.search(r"done: (\d+) steps in ([\d.]+)s \((\d+) images/s\)", proc.stdout)
    return {"wall": wall, "cpu": cpu, "threads": picked, "steps": int(done.group(1)), "train_s": float(done.group(2)),
            "images_per_s": int(done.group(3)), "load": load,
            "lines": sum(" step " in line for line in proc.stderr.splitlines()), "log_bytes": len(proc.stderr)}


def main(argv: list[str] | None = None) -> int:
    from gankit.utils.threads import physical_cores

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full-steps", type=int, default=None, help="cut the whole job short (quick checks only)")
    ap.add_argument("--compare-steps", type=int, default=200, help="steps of each side-by-side row (0: none)")
    ap.add_argument("--image", type=Path, default=None, help="copy the whole job's samples.png here")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    cores = physical_cores()
    jobs = [("`gankit train` (the whole default job)" if not args.full_steps else
             f"`gankit train --steps {args.full_steps}`", "full", None, args.full_steps)]
    if args.compare_steps:
        jobs += [(f"`gankit train --steps {args.compare_steps}`", "auto", None, args.compare_steps),
                 (f"`gankit train --steps {args.compare_steps} --threads {cores}` (every core)", "all", cores,
                  args.compare_steps)]
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, threads, steps in jobs:
            r = results[name] = run_job(Path(tmp) / name, threads, steps)
            rows.append([label, f"{r['load']:.1f}", r["threads"], f"{r['steps']:,}", f"{r['wall']:.0f} s",
                         f"{r['cpu']:.0f} s", f"{r['images_per_s']:,}", f"{r['lines']} ({r['log_bytes']:,} B)"])
            print(rows[-1], flush=True)
            if name == "full" and args.image:
                shutil.copyfile(Path(tmp) / name / "samples.png", args.image)
    notes = []
    if {"auto", "all"} <= set(results):
        a, b = results["auto"], results["all"]
        notes.append(f"Every core / automatic, {args.compare_steps} steps, measured one after the other: wall time "
                     f"{b['wall'] / a['wall']:.2f}×, CPU time {b['cpu'] / a['cpu']:.2f}×.")
    text = "\n".join([SECTION, "", *header(f"python -m bench default_job --compare-steps {args.compare_steps}",
                                           f"{cores} physical cores", more=tuple(notes)), "",
                      table(["command", "load at start", "threads", "steps", "wall time (process)",
                             "CPU time", "images/s through D", "progress lines off a terminal (stderr)"],
                            rows, right_from=1), "",
                      "The README's cost figure for the main job is the first row. CPU time is close to the wall "
                      "time a quiet machine would take with one thread; wall time here includes the other jobs' "
                      "share of the cores (load at start) and `nice -n 10`.", ""])
    print(text)
    if not args.no_write:
        replace_section(DOCS, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
