"""Shared by the speed benchmarks (``throughput``, ``gpu_throughput``, ``time_to_quality``): the gankit
variants, the presets as they train them, the measured run (the worker, in this process or in one of
its own) and images/s.

    python -m bench._speed SPEC    # one measured run; prints ``RESULT <json>`` (what ``run_worker`` starts)
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import ROOT

#: gankit variants: config overrides, plus an optional prototype game (see bench/throughput.py's docstring);
#: "default" is fp32 with gankit's other defaults (preset_config pins ``amp: none``).
VARIANTS = {
    "default": ({}, None),
    "channels_last": ({"channels_last": True}, None),
    "bf16": ({"amp": "bf16"}, None),
    "bf16+cl": ({"amp": "bf16", "channels_last": True}, None),
    "bf16+cl+compile": ({"amp": "bf16", "channels_last": True, "compile": True}, None),
    "reuse": ({"reuse_fake": True}, None),
    "bf16+cl+reuse": ({"amp": "bf16", "channels_last": True, "reuse_fake": True}, None),
    "bf16+cl+fused": ({"amp": "bf16", "channels_last": True}, "fused"),
    "bf16+cl+reuse+compile": ({"amp": "bf16", "channels_last": True, "compile": True, "reuse_fake": True}, None),
    "compile": ({"compile": True}, None),
}


def prototype_game(name: str, game):
    """The prototype game (bench-only) built on the trainer's ``game``: ``fused``, one D forward on the
    concatenated real+fake batch."""
    import torch

    from gankit.training.games import NoiseGame

    class FusedD(NoiseGame):
        """One D forward on cat(real, fake): BatchNorm statistics of the mixed batch."""

        def d_loss(self, batch):
            z, _ = self.noise()
            with torch.no_grad(), self.autocast():
                fake = self.G(z).float()
            with self.autocast():
                out = self.D_train(self.inputs(torch.cat([batch[0], fake]))).float()
            real, fake = out.chunk(2)
            return {"adv": self.objective.d_loss(real, fake)}, torch.sigmoid(real.detach()).mean(), \
                torch.sigmoid(fake.detach()).mean()

    game.__class__ = {"fused": FusedD}[name]  # same modules and settings, another D loss
    return game


def preset_config(preset: str, data_root: str, **overrides):
    """The preset as the speed benchmarks train it: on the CPU and in fp32 (``--amp none``; gankit's default
    ``auto`` would pick bf16 on some CPUs) unless ``overrides`` say otherwise, quiet; MNIST presets read the
    test split under ``data_root`` (the split available offline)."""
    from gankit import TrainConfig

    return TrainConfig.from_preset(preset, **{"data_root": str(data_root), "split": "test", "device": "cpu",
                                              "amp": "none", "progress": False, "tensorboard": False, **overrides})


def worker(spec: dict) -> dict:
    """One measured run in this process; returns per-iteration end times: wall (perf_counter) and CPU
    (process_time) seconds. ``spec["device"]`` (default cpu; a CUDA device is synchronised before each
    time is read) and ``spec["data"]`` (default the preset's) are optional."""
    import torch

    torch.set_num_threads(spec["threads"])
    t_start = time.perf_counter()
    overrides, proto = VARIANTS[spec["variant"]] if spec["kind"] == "gankit" else ({}, None)
    length = {"epochs": 1, "steps": None} if spec.get("epoch") else {"steps": spec["iters"]}
    device = torch.device(spec.get("device", "cpu"))
    data = {"data": spec["data"]} if spec.get("data") else {}
    cfg = preset_config(spec["preset"], spec["data_root"], seed=spec["seed"], device=str(device), **data,
                        **overrides, **length)
    times: list[float] = []
    cpu: list[float] = []

    def tick(*_):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter())
        cpu.append(time.process_time())

    if spec["kind"] == "gankit":
        from gankit import Trainer

        run_dir = spec.get("run_dir") or tempfile.mkdtemp(prefix="gankit-tp-")
        trainer = Trainer(cfg, Path(run_dir) / "run", overwrite=True)
        if proto:
            trainer.game = prototype_game(proto, trainer.game)
        trainer.callbacks.append(tick)
        trainer.train()
        if not spec.get("run_dir"):
            shutil.rmtree(run_dir, ignore_errors=True)
    else:  # the in-process reference loop
        from gankit.data import load_dataset

        from bench.reference_loop import ReferenceLoop

        loop = ReferenceLoop(cfg, load_dataset(cfg), seed=spec["seed"])
        iters = len(loop.loader) if spec.get("epoch") else spec["iters"]
        loop.run(iters, tick)
        if spec.get("run_dir"):
            torch.save(loop.G.state_dict(), Path(spec["run_dir"]) / "netG_loop.pth")
    return {"times": times, "cpu": cpu, "batch": cfg.batch_size, "start": t_start}


def print_worker_result(spec: str) -> None:
    """Run the worker on ``spec`` (JSON) and print its result as the line ``RESULT <json>``."""
    print("RESULT " + json.dumps(worker(json.loads(spec))), flush=True)


def thread_env(threads: int) -> dict:
    """This process's environment with ``threads`` OpenMP/MKL threads (for a measured process)."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def run_worker(spec: dict, timeout: float) -> dict:
    """The worker on ``spec`` in a process of its own, with ``spec["threads"]`` threads."""
    out = subprocess.run([sys.executable, "-m", "bench._speed", json.dumps(spec)], cwd=ROOT,
                         env=thread_env(spec["threads"]), capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"worker {spec} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def images_per_s(result: dict, warmup: int, last: int | None = None, clock: str = "times") -> float:
    """batch * (iterations after ``warmup``) / their wall time (``clock="cpu"``: their CPU time);
    ``last`` caps the window (main.py's last batch of an epoch is ragged)."""
    t = result[clock][:last] if last else result[clock]
    if len(t) <= warmup:
        raise ValueError(f"only {len(t)} iterations timed; need more than warmup={warmup}")
    if not warmup:
        if clock != "times":
            raise ValueError("the CPU clock needs warmup >= 1")
        return result["batch"] * len(t) / (t[-1] - result["start"])
    return result["batch"] * (len(t) - warmup) / (t[-1] - t[warmup - 1])


if __name__ == "__main__":
    print_worker_result(sys.argv[1])


def interleaved_rates(trainers: dict, rounds: int, iters: int, batch: int, verbose: bool = True) -> dict[str, list[float]]:
    """Images per CPU-second of each of ``trainers`` (objects with ``d_step()`` and ``g_step()``, side by side in
    this process): ``rounds`` interleaved rounds, the order reversed every other round, of ``iters``
    iterations (one D step + one G step) after one untimed; ``batch`` images per iteration."""
    out: dict[str, list[float]] = {k: [] for k in trainers}
    for r in range(rounds):
        for k in (list(trainers) if r % 2 == 0 else list(trainers)[::-1]):
            t = trainers[k]
            t.d_step(), t.g_step()
            t0 = time.process_time()
            for _ in range(iters):
                t.d_step(), t.g_step()
            out[k].append(batch * iters / (time.process_time() - t0))
            if verbose:
                print(f"round {r + 1}: {k}: {out[k][-1]:.1f} images/CPU-s", flush=True)
    return out
