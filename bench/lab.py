"""The lab's live stream under load (``gankit lab``), on loopback: updates per second a viewer receives
while its run trains, training steps per second, errors and the server's memory.

    OMP_NUM_THREADS=1 python bench/lab.py [--seconds 15] [--clients 8]
    OMP_NUM_THREADS=1 python bench/lab.py --quick     # 4 s per phase, no docs update

Starts ``gankit lab --port 0`` in a subprocess, then (1) one viewer with one ring run at full speed (the
default 2-D MLP GAN: G and D 64-64-64, batch 128): frames received per second and G steps per second
from the frames' step counter; (2) ``--clients`` viewers at once, each a browser tab with its own run
(the server's cap is 8 runs), every one streaming and training; (3) one viewer of a 1-D run (gauss1d, G
and D 64-64-64: its frames carry Figure 1's four panels). Memory is the server's resident set
(VmRSS) sampled every 0.5 s. Writes the section "Lab live stream" of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

if not __package__:  # python bench/lab.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, header, load_average, replace_section, table  # noqa: E402

SECTION = "## Lab live stream"


def start_server(max_sessions: int) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "lab", "--port", "0", "--max-sessions", str(max_sessions)],
                            stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, int(m.group(1))
    raise SystemExit("gankit lab did not start")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def request(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=None if body is None else json.dumps(body), headers={"content-type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:200]!r}")
    return json.loads(data) if data else None


def viewer(port: int, tab: str, seconds: float, out: dict, data: str = "ring"):
    """One tab: start a run on ``data``, play, read the stream for ``seconds``; frames, steps, errors."""
    try:
        s = request(port, "POST", "/api/lab/sessions", {"tab": tab, "settings": {"data": data, "steps": 20000}})
        request(port, "POST", f"/api/lab/sessions/{s['id']}/control", {"action": "play", "speed": 0})
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", s["stream"])
        r = c.getresponse()
        assert r.status == 200, r.status
        frames, first, last, t0 = 0, None, None, None
        while True:
            line = r.fp.readline()
            if not line:
                raise RuntimeError("stream closed")
            if not line.startswith(b"data: "):
                continue
            m = json.loads(line[6:])
            if m["type"] != "frame":
                continue
            now = time.perf_counter()
            if t0 is None:
                t0, first = now, m["step"]
                continue
            frames, last, size = frames + 1, m["step"], len(line)
            if now - t0 >= seconds:
                break
        c.close()
        request(port, "DELETE", f"/api/lab/sessions/{s['id']}")
        out.update(updates_per_s=frames / (now - t0), steps_per_s=(last - first) / (now - t0), errors=0, bytes=size)
    except Exception as e:  # noqa: BLE001 - counted
        out.update(errors=1, error=f"{type(e).__name__}: {e}")


def phase(port: int, pid: int, clients: int, seconds: float, data: str = "ring") -> dict:
    results = [{} for _ in range(clients)]
    mem, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            mem.append(rss_mib(pid))
            time.sleep(0.5)
    threading.Thread(target=sample, daemon=True).start()
    threads = [threading.Thread(target=viewer, args=(port, f"bench{clients}-{data}-{i}", seconds, results[i], data))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    stop.set()
    ok = [r for r in results if not r.get("errors")]
    return {"clients": clients, "errors": sum(r.get("errors", 1) for r in results),
            "updates": [r["updates_per_s"] for r in ok], "steps": [r["steps_per_s"] for r in ok],
            "rss_peak": max(mem), "notes": [r["error"] for r in results if r.get("error")],
            "kib": max([r["bytes"] / 1024 for r in ok] or [float("nan")])}


def trainer_alone(seconds: float) -> float:
    """G steps per second of the same run with no server, no frames (the machine's reference now)."""
    import torch

    from gankit.lab.session import LabSession
    from gankit.lab.settings import LabSettings

    torch.set_num_threads(1)
    s = LabSession(LabSettings(data="ring", steps=10**6), idle_timeout=3600)
    s.close()  # its thread ends: step the trainer here
    for _ in range(20):
        s.iteration()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s.iteration()
        n += 1
    return n / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    seconds = 4.0 if args.quick else args.seconds
    alone = trainer_alone(min(seconds, 5.0))
    proc, port = start_server(max(8, args.clients))
    try:
        rss0 = rss_mib(proc.pid)
        one = phase(port, proc.pid, 1, seconds)
        many = phase(port, proc.pid, args.clients, seconds)
        again = phase(port, proc.pid, args.clients, seconds)  # bounded memory: a second round, same peak
        line = phase(port, proc.pid, 1, seconds, data="gauss1d")  # 1-D: Figure 1's four panels in each frame
        rss_end = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    one_u, one_s = (one["updates"] or [0.0])[0], (one["steps"] or [0.0])[0]
    line_u, line_s = (line["updates"] or [0.0])[0], (line["steps"] or [0.0])[0]
    rows = []
    for name, r in (("1 viewer, 1 run", one), (f"{args.clients} viewers, {args.clients} runs", many),
                    (f"{args.clients} viewers again", again), ("1 viewer, 1 gauss1d run (Figure 1 panels)", line)):
        u, s = r["updates"] or [float("nan")], r["steps"] or [float("nan")]
        rows.append([name, r["errors"], f"{min(u):.1f}", f"{sum(u) / len(u):.1f}", f"{min(s):.0f}",
                     f"{sum(s):.0f}", f"{r['kib']:.1f}", f"{r['rss_peak']:.0f}"])
    columns = ["phase", "errors", "updates/s (min)", "updates/s (mean)", "steps/s (min run)", "steps/s (all runs)",
               "frame KiB", "server RSS peak MiB"]
    print(table(columns, rows, right_from=1))
    print(f"the trainer alone (no server, no frames), just before: {alone:.0f} steps/s; load {load_average()}")
    print(f"server RSS: {rss0:.0f} MiB idle at start, {rss_end:.0f} MiB at the end", *one["notes"], *many["notes"])
    if args.quick:
        return
    body = "\n".join([
        SECTION, "",
        *header(f"OMP_NUM_THREADS=1 python bench/lab.py --seconds {seconds:g} --clients {args.clients}",
                "gankit lab with --threads 1 (its default)",
                more=("Targets (issue 19): one viewer gets >= 10 updates/s while its run trains at >= 200 steps/s "
                      "(2-D MLP GAN, ring, G and D 64-64-64, batch 128); 8 concurrent viewers, each with its own "
                      "run, with no errors and bounded memory.",)),
        "",
        table(columns, rows, right_from=1),
        "",
        f"Reference: the same run's trainer alone (no server, no frames), in this process just before, "
        f"made {alone:.0f} steps/s; load average after the run: {load_average()}.\n\n"
        f"Server resident memory: {rss0:.0f} MiB at start (idle), {rss_end:.0f} MiB after the four phases; the "
        f"second round of {args.clients} runs peaks within {abs(again['rss_peak'] - many['rss_peak']):.0f} MiB of "
        f"the first (each run holds its models, 20,000 training points and one frame; ended runs are freed).",
        "",
        f"Against the targets: one viewer received {one_u:.1f} updates/s "
        f"({'met' if one_u >= 10 else 'NOT met'}) while its run trained at {one_s:.0f} steps/s "
        f"({'met' if one_s >= 200 else 'NOT met'}: the trainer alone made {alone:.0f} steps/s at the same moment, "
        f"so the stream costs the run {max(0.0, 100 * (1 - one_s / alone)):.0f}%; the rest of any shortfall is the "
        f"shared machine's load). {args.clients} viewers: {many['errors'] + again['errors']} errors, memory "
        f"bounded as above; their runs share the two cores (and one Python process) with each other and with "
        f"the other work, so each run trains and streams more slowly ({min(many['updates'] or [0]):.1f}+ "
        f"updates/s per viewer). The 1-D run, whose frames also carry Figure 1's four panels "
        f"({line['kib']:.1f} KiB a frame against the ring's {one['kib']:.1f}), streamed {line_u:.1f} updates/s "
        f"at {line_s:.0f} steps/s.",
    ])
    replace_section(DOCS, SECTION, body)
    print(f"wrote {SECTION!r} in {DOCS}")


if __name__ == "__main__":
    main()
