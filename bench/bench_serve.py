"""Load test of the explorer API (``gankit serve``) on loopback: latency percentiles and errors.

    OMP_NUM_THREADS=1 python bench/bench_serve.py [--run DIR] [--requests 2000] [--concurrency 32] [--n 16]
    OMP_NUM_THREADS=1 python bench/bench_serve.py --quick     # 200 requests, no docs update (CI smoke)

Starts ``gankit serve RUN --port 0`` in a subprocess, then fires the requests (after ``--warmup``
untimed ones) from ``--concurrency`` keep-alive connections of one asyncio client: 3 of 4 are ``/sample?n=N&seed=i`` grids, 1 of 4 a
slider frame ``/interpolate?t=...``. Without --run it trains a tiny run first
(``gankit train --steps 50 --out /tmp/serve-run``). Prints errors, p50/p99 latency and throughput
and (unless --quick) writes them into docs/benchmarks.md, section "Explorer API latency".
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

if not __package__:  # python bench/bench_serve.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, header, replace_section, table  # noqa: E402

SECTION = "## Explorer API latency"


def start_server(run: Path, max_concurrency: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "serve", str(run), "--port", "0",
                             "--max-concurrency", str(max_concurrency), "--max-queue", "1024"],
                            stderr=subprocess.PIPE, text=True, env=env)
    found: list[str] = []

    def read():
        for line in proc.stderr:
            if not found and (m := re.search(r"http://[^/\s]+", line)):
                found.append(m.group(0))
            elif not found:
                found.append("")
                sys.stderr.write(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 120
    while not found and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not (found and found[0]):
        proc.kill()
        raise RuntimeError(f"gankit serve did not start (exit status {proc.poll()})")
    return proc, found[0]


async def _get(reader, writer, path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 keep-alive GET on an open connection: (status, body)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), await reader.readexactly(int(headers["content-length"]))


async def fire(base: str, run: str, requests: int, concurrency: int, n: int) -> tuple[list[float], int, float]:
    """Closed loop, as wrk does: ``concurrency`` keep-alive connections, each sending its share of
    the requests back to back. A raw asyncio client (the standard library's streams) so that the
    client's own overhead stays small: httpx.AsyncClient's pool cost more than the server here and
    added a long tail of its own."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    lat: list[float] = []
    errors = 0

    async def connection(ids):
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        for i in ids:
            path = (f"/api/runs/{run}/interpolate?seed_a={i}&seed_b={i + 1}&t={i % 100 / 99:.3f}" if i % 4 == 3
                    else f"/api/runs/{run}/sample?n={n}&seed={i}")
            t0 = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(_get(reader, writer, path), 120)
                ok = status == 200 and body[:4] == b"\x89PNG"
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, KeyError, ValueError):
                ok = False
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            lat.append(time.perf_counter() - t0)
            errors += not ok
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(connection(range(k, requests, concurrency)) for k in range(concurrency)))
    return lat, errors, time.perf_counter() - t0


def measure(run: str | Path, requests: int = 2000, concurrency: int = 32, n: int = 16,
            max_concurrency: int = 2, warmup: int = 64) -> dict:
    """Serve ``run`` in a subprocess and load it; returns errors, p50/p99 (ms), throughput.
    ``warmup`` requests first (not timed; their errors do count) take the server's cold start."""
    run = Path(run).resolve()
    proc, base = start_server(run, max_concurrency)
    try:
        warm_errors = asyncio.run(fire(base, run.name, warmup, concurrency, n))[1] if warmup else 0
        lat, errors, wall = asyncio.run(fire(base, run.name, requests, concurrency, n))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    ms = np.asarray(lat) * 1000
    return {"requests": requests, "concurrency": concurrency, "n": n, "max_concurrency": max_concurrency,
            "warmup": warmup, "errors": errors + warm_errors,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()), "throughput": requests / wall, "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run directory to serve (default: train a tiny one in /tmp/serve-run)")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32, help="client requests in flight")
    ap.add_argument("--n", type=int, default=16, help="samples per grid request")
    ap.add_argument("--max-concurrency", type=int, default=2, help="the server's generation threads")
    ap.add_argument("--warmup", type=int, default=64, help="untimed requests first (the cold start)")
    ap.add_argument("--quick", action="store_true", help="200 requests; do not touch docs/benchmarks.md")
    args = ap.parse_args()
    if args.quick:
        args.requests = min(args.requests, 200)
    run = Path(args.run or "/tmp/serve-run")
    if not (run / "config.json").is_file():
        if args.run:
            sys.exit(f"{run} is not a gankit run directory")
        subprocess.run([sys.executable, "-m", "gankit", "train", "--steps", "50", "--out", str(run),
                        "--no-progress"], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    r = measure(run, args.requests, args.concurrency, args.n, args.max_concurrency, args.warmup)
    line = (f"{r['requests']} requests, {r['concurrency']} concurrent: errors {r['errors']}, "
            f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms, "
            f"{r['throughput']:.0f} requests/s")
    print(line)
    if args.quick:
        return
    cmd = "OMP_NUM_THREADS=1 python bench/bench_serve.py" + (f" --run {args.run}" if args.run else "")
    opening = "\n".join(header(cmd, f"load average {os.getloadavg()[0]:.1f} at the end",
                               "server and client on the same cores", "torch on the CPU"))
    cells = [r["requests"], r["concurrency"], r["errors"], f"{r['p50_ms']:.1f} ms", f"{r['p99_ms']:.1f} ms",
             f"{r['max_ms']:.1f} ms", f"{r['throughput']:.0f} req/s"]
    replace_section(DOCS, SECTION, f"""{SECTION}

{opening}

`gankit serve` on loopback (uvicorn, {r['max_concurrency']} generation threads) over a DCGAN run of
`gankit train --steps 50` (16×16 digits, z_dim 100). One asyncio client, raw HTTP/1.1 over
{r['concurrency']} keep-alive connections in a closed loop (as wrk does), sends {r['warmup']} untimed
warm-up requests (the cold start), then {r['requests']} timed ones, so {r['concurrency']} in flight:
3 of 4 `/sample?n={r['n']}&seed=i` (a PNG grid of {r['n']} images), 1 of 4 `/interpolate?t=…`
(one slider frame).

{table(["requests", "in flight", "errors", "p50", "p99", "max", "throughput"], [cells], right_from=0)}

The latency is mostly queueing: {r['concurrency']} requests in flight share {r['max_concurrency']} generation
threads, so p50 ≈ {r['concurrency']} / throughput; a lone request takes a few ms (G forward ≈ 1 ms,
PNG ≈ 1.4 ms for 16 images). The same load sent by httpx.AsyncClient (32 concurrent) measured
p50 183 ms, p99 1,031 ms, 126 requests/s on 2026-11-26: its connection pool, not the server, was
the bottleneck, hence the raw client. `--quick` runs 200 requests without touching this file
(tests/test_serve.py runs a smaller load as a smoke test).
""")
    print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
