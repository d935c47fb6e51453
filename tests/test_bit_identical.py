"""Refactoring guard: each model family trains to the same generator weights as gankit 0.1.0, byte for byte.

The hashes are SHA-256 of ``generator.safetensors`` after ``gankit train <flags> --steps 200 --amp none --seed 0
--no-fused-adam`` (fp32 and Adam's per-parameter loop, as 0.1.0 ran them; the default ``--amp auto`` trains in
bf16 where the CPU has it natively, and the default fused Adam rounds differently),
in one thread and in the kernels of ``PINNED``: ATen's AVX2 kernels, oneDNN's AVX2 JIT code and MKL's
COMPATIBLE branch (the one that gives the same results on Intel and other x86 CPUs). Left to choose,
each library takes the widest instructions the CPU has and MKL takes a vendor's own path, and the weights
after 200 GAN steps differ with them (a Xeon, an AVX2 EPYC and an AVX-512 EPYC gave up to three hashes per
family). Each hash was recorded twice on 2026-12-02 on an AVX-512 AMD EPYC: with commit ad618e5
(0.1.0, before the architecture change; its train has no --no-fused-adam flag, the loop being its only
Adam) and with the code of this test's commit; the two agreed on every family. Four of the seven
(dcgan-digits, cgan-mnist, wgan-gp, cyclegan) are also what an AVX2-only EPYC (Zen 3) gave with no pinning
at all; the other three differ from those, presumably where MKL's COMPATIBLE branch rounds otherwise
than its AMD path. A change that alters the arithmetic of any game, objective, regulariser or model — or
the order of random draws — changes a hash. CPU runs are bit-identical for the same seed and the same
thread count (docs/reliability.md).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import SHARED_MNIST

# The kernels every family trains in (see the module docstring); each library reads its own variable.
PINNED = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE"}
MNIST = ["--data-root", str(SHARED_MNIST), "--split", "test"]  # presets name the dataset, not the path or split
FAMILIES = {  # name: (flags, sha256 of generator.safetensors)
    "dcgan-digits": (["--config", "dcgan-digits"],
                     "79a2ada4bb4dc8c9a2bc756685c53c00c7a39da9c4720ee2271c37ad3601e84a"),
    "mlp-ring": (["--config", "mlp-ring"],
                     "ae1d5fa55bd4ce5c2e9342e8145358fcda3e6ff2798e9172913778288671d88f"),
    "cgan-mnist": (["--config", "cgan-mnist", *MNIST],
                     "07c499e671c62baad8c3dff1db7dc3950f1bfd2f2d524874ca6d7205d202fe73"),
    "acgan-mnist": (["--config", "acgan-mnist", *MNIST],
                     "b3afaf04767797481456cfe545b5f21342b2de8f511f13c562401107c1ca43c0"),
    "wgan-gp": (["--config", "dcgan-digits", "--loss", "wgan-gp", "--n-critic", "5"],
                     "e850f9f78b4a54b0a5e84790e5c0326d5051fb4095009591e2a7d5160c0d1396"),
    "pix2pix": (["--config", "pix2pix-edges2mnist", *MNIST],
                     "bd169b9dd3015d949732082a8cb1024943daaa83390b2d70798a33b9fd19b44b"),
    "cyclegan": (["--config", "cyclegan-digits2inverted"],
                     "9b1801add868fae1cc4919cc998b76965eba5a7b88613519ba763409d6be19df"),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train every family once (two single-threaded processes at a time); name -> run directory."""
    root = tmp_path_factory.mktemp("bit-identical")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **PINNED}

    def run(name):
        out = root / name
        proc = subprocess.run([sys.executable, "-m", "gankit", "train", *FAMILIES[name][0], "--steps", "200",
                               "--amp", "none",
                               "--seed", "0", "--no-fused-adam", "--out", str(out), "--no-progress"],
                              env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return out

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(FAMILIES, pool.map(run, FAMILIES)))


@pytest.mark.parametrize("name", list(FAMILIES))
def test_generator_weights_unchanged(trained, name):
    digest = hashlib.sha256(Path(trained[name], "generator.safetensors").read_bytes()).hexdigest()
    assert digest == FAMILIES[name][1], f"{name} trains to {digest}"


def test_the_pinned_kernels_are_the_ones_used():
    """Each library honours its setting: ATen dispatches to AVX2, oneDNN's JIT targets AVX2 and MKL's
    sgemm runs in the COMPATIBLE branch (their own reports; a CPU without AVX2 fails here, by name)."""
    code = ("import torch; print(torch.backends.cpu.get_cpu_capability()); "
            "torch.nn.functional.conv2d(torch.randn(16, 64, 32, 32), torch.randn(64, 64, 3, 3)); "
            "torch.randn(64, 64) @ torch.randn(64, 64)")
    env = {**os.environ, **PINNED, "OMP_NUM_THREADS": "1", "ONEDNN_VERBOSE": "1", "MKL_VERBOSE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    lines = (out.stdout + out.stderr).splitlines()
    assert out.returncode == 0 and lines[0] == "AVX2", out.stderr[-500:]
    assert "onednn_verbose,v1,info,cpu,isa:Intel AVX2" in lines
    assert any(line.startswith("MKL_VERBOSE SGEMM") and "CNR:COMPATIBLE" in line for line in lines)
