"""Data parallelism on torch.distributed (launched by ``torchrun``): NCCL on GPUs, gloo on CPUs.

Every rank draws the *global* batch of noise, labels and data indices from identically seeded
generators and keeps its own slice, so the run is the same computation as one process with the
global batch (up to the order of floating-point sums in the gradient all-reduce), and a
checkpoint's RNG and data-order state is global: resume works with any world size.
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def slice(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """This rank's contiguous part of a global-batch tensor."""
        if t is None or not self.enabled:
            return t
        b = t.shape[0] // self.world_size
        return t[self.rank * b:(self.rank + 1) * b]

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        """All-reduce mean across ranks (a collective: call it on every rank)."""
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t /= self.world_size
        return t

    def any(self, flag: bool) -> bool:
        if not self.enabled:
            return flag
        t = torch.tensor([float(flag)], device=_collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def shard(self, n: int) -> tuple[int, int]:
        """[lo, hi) of this rank's contiguous share of n items (shares differ by at most one)."""
        return self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size

    def gather_rows(self, t: torch.Tensor) -> torch.Tensor:
        """Concatenate every rank's rows in rank order (a collective: call it on every rank)."""
        if not self.enabled:
            return t
        dev = _collective_device()
        n = torch.tensor([t.shape[0]], device=dev)
        sizes = [torch.zeros_like(n) for _ in range(self.world_size)]
        dist.all_gather(sizes, n)
        sizes = [int(s) for s in sizes]
        padded = torch.zeros((max(sizes), *t.shape[1:]), dtype=t.dtype, device=dev)
        padded[: t.shape[0]] = t.to(dev)
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return torch.cat([p[:k] for p, k in zip(parts, sizes)]).to(t.device)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def setup_distributed(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group torchrun describes (WORLD_SIZE/RANK/LOCAL_RANK), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(leave_process_group)  # the group we made is ours to destroy
    return DistInfo(rank, world, local), device


def leave_process_group() -> None:
    """Destroy the process group, if it still exists, while the interpreter is fully alive: a process
    that exits with it alive can abort in gloo's threads during finalisation ("terminate called
    without an active exception", SIGABRT: seen once in this project's CI)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(module: torch.nn.Module, info: DistInfo, device: torch.device):
    if not info.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)  # BN buffers: rank 0's
