"""Refactoring guard: each model family trains to the same generator weights, byte for byte.

The hashes are SHA-256 of ``generator.safetensors`` after ``gankit train <flags> --steps 200 --seed 0
--no-fused-adam`` (Adam's per-parameter loop, as 0.1.0 ran it; the default fused Adam rounds differently),
recorded with gankit 0.1.0 (commit ad618e5, before the architecture change) on the 2-core development
CPU with OMP_NUM_THREADS=1. A change that alters the arithmetic of any game, objective, regulariser or
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
                     "0dfd60d16fe943d103542906b608decdc3bc9071e11dd6c9b2283ddc32dc1635"),
    "mlp-ring": (["--config", "mlp-ring"],
                 "c83a1b844fcd82fe7bb0d5da005bc945cf90b526241c4e5ef70eaaeb7114a72f"),
    "cgan-mnist": (["--config", "cgan-mnist", *MNIST],
                   "d1e8be6ee0545a6c4b538f37011c27a695565deeff9ed8f8cbf77927036e89b8"),
    "acgan-mnist": (["--config", "acgan-mnist", *MNIST],
                    "f0a31e9bcb425780f9ff7e7c4415962f71ffbca5c830fcb79eca88074185716e"),
    "wgan-gp": (["--config", "dcgan-digits", "--loss", "wgan-gp", "--n-critic", "5"],
                "b1a3005522297d97c9c8de6112bf02ba48a955173f3d08a3ccaacc18b915757c"),
    "pix2pix": (["--config", "pix2pix-edges2mnist", *MNIST],
                "95b43c2798e6ef7d1901ea973afcf90df3dc5b9f4dd1f275c68351cd86d73e83"),
    "cyclegan": (["--config", "cyclegan-digits2inverted"],
                 "787de3ce21ac1f6a1231f2ecab1a2a60a7c08db536a1e4d3a56f3165853adc7a"),
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
    digest = hashlib.sha256(Path(trained[name], "generator.safetensors").read_bytes()).hexdigest()
    assert digest == FAMILIES[name][1]
