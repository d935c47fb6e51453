"""How many CPU threads a training process should use.

PyTorch's default (every core) oversubscribes a machine that other jobs are using: on a busy 2-core
machine the default job ran 0.93 s/step with 2 threads and 0.2 s/step with one (issue 18).
"""
from __future__ import annotations

import os
from pathlib import Path


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads of one core count once)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def auto_threads(cores: int | None = None, load: float | None = None, processes: int | None = None) -> int:
    """$OMP_NUM_THREADS when set; else the physical cores left over by the current load (1-minute load
    average), shared by this node's training processes (torchrun), at least 1."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    cores = physical_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    processes = processes or int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    free = cores - int(round(load))
    return max(1, min(cores, free) // max(1, processes))


def resolve_threads(requested: int) -> int:
    """``requested`` threads, or :func:`auto_threads` for 0."""
    return requested if requested > 0 else auto_threads()
