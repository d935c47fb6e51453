"""Refactoring guard: each model family trains to the same generator weights, byte for byte.

The hashes are SHA-256 of ``generator.safetensors`` after ``gankit train <flags> --steps 200 --seed 0
--no-fused-adam`` (Adam's per-parameter loop, as 0.1.0 ran it; the default fused Adam rounds differently),
recorded with gankit 0.1.0 (commit ad618e5, before the architecture change) on the 2-core development
CPU with OMP_NUM_THREADS=1. fp32 kernels round differently per instruction set, so there is one hash per
``torch.backends.cpu.get_cpu_capability()``: AVX512 (that Xeon), AVX2 (an AMD EPYC, recorded with the
code of commit 6767ffc's arithmetic); any other fails with the digest to record. A change that alters the arithmetic of any game, objective, regulariser or
model — or the order of random draws — changes a hash. CPU runs are bit-identical for the same seed and
the same thread count (docs/reliability.md).
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

MNIST = ["--data-root", str(SHARED_MNIST), "--split", "test"]  # presets name the dataset, not the path or split
FAMILIES = {  # name: (flags, sha256 of generator.safetensors)
    "dcgan-digits": (["--config", "dcgan-digits"],
                     {"AVX512": "0dfd60d16fe943d103542906b608decdc3bc9071e11dd6c9b2283ddc32dc1635",
                      "AVX2": "79a2ada4bb4dc8c9a2bc756685c53c00c7a39da9c4720ee2271c37ad3601e84a"}),
    "mlp-ring": (["--config", "mlp-ring"],
                 {"AVX512": "c83a1b844fcd82fe7bb0d5da005bc945cf90b526241c4e5ef70eaaeb7114a72f",
                  "AVX2": "693df7beb2942867eae1513c39f998d21d324ecb5440a2a6ea9e17fe5b624869"}),
    "cgan-mnist": (["--config", "cgan-mnist", *MNIST],
                   {"AVX512": "d1e8be6ee0545a6c4b538f37011c27a695565deeff9ed8f8cbf77927036e89b8",
                    "AVX2": "07c499e671c62baad8c3dff1db7dc3950f1bfd2f2d524874ca6d7205d202fe73"}),
    "acgan-mnist": (["--config", "acgan-mnist", *MNIST],
                    {"AVX512": "f0a31e9bcb425780f9ff7e7c4415962f71ffbca5c830fcb79eca88074185716e",
                     "AVX2": "18d321c26261fa22b0da6324b4a3c4257bef96828a333ce955a1b3a8b6b70daf"}),
    "wgan-gp": (["--config", "dcgan-digits", "--loss", "wgan-gp", "--n-critic", "5"],
                {"AVX512": "b1a3005522297d97c9c8de6112bf02ba48a955173f3d08a3ccaacc18b915757c",
                 "AVX2": "e850f9f78b4a54b0a5e84790e5c0326d5051fb4095009591e2a7d5160c0d1396"}),
    "pix2pix": (["--config", "pix2pix-edges2mnist", *MNIST],
                {"AVX512": "95b43c2798e6ef7d1901ea973afcf90df3dc5b9f4dd1f275c68351cd86d73e83",
                 "AVX2": "c86c3af924a984fba77e81112591ff1c38cf49be6377793febd522154f8f4f07"}),
    "cyclegan": (["--config", "cyclegan-digits2inverted"],
                 {"AVX512": "787de3ce21ac1f6a1231f2ecab1a2a60a7c08db536a1e4d3a56f3165853adc7a",
                  "AVX2": "9b1801add868fae1cc4919cc998b76965eba5a7b88613519ba763409d6be19df"}),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train every family once (two single-threaded processes at a time); name -> run directory."""
    root = tmp_path_factory.mktemp("bit-identical")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def run(name):
        out = root / name
        proc = subprocess.run([sys.executable, "-m", "gankit", "train", *FAMILIES[name][0], "--steps", "200",
                               "--seed", "0", "--no-fused-adam", "--out", str(out), "--no-progress"],
                              env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return out

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(FAMILIES, pool.map(run, FAMILIES)))


@pytest.mark.parametrize("name", list(FAMILIES))
def test_generator_weights_unchanged(trained, name):
    import torch

    digest = hashlib.sha256(Path(trained[name], "generator.safetensors").read_bytes()).hexdigest()
    cpu = torch.backends.cpu.get_cpu_capability()
    assert cpu in FAMILIES[name][1], f"no {name} hash recorded for {cpu} CPUs; this one trains to {digest}"
    assert digest == FAMILIES[name][1][cpu]
